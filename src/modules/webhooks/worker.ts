import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { fromJson } from '../../db/codecs.js';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { DeliveriesTable, Tables, WebhooksTable } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { ConfigDocument } from '../config/schemas.js';
import { payloadOf, subscribed } from './matching.js';
import { sendSigned, type SendResult } from './sender.js';
import type { WebhooksService } from './service.js';
import type { WebhooksStore } from './store.js';
import type { Dispatcher } from 'undici';

const CLAIM_BATCH = 100;
/** In flight at once per endpoint in one worker, so a slow endpoint cannot take every slot. */
const PER_ENDPOINT = 8;
const MAX_IN_FLIGHT = 256;
/**
 * A lease is short and renewed while the send runs, so the deliveries of a worker that died (SIGKILL, power
 * loss) go back to the pool within LEASE_MS, whatever the endpoint's timeout.
 */
const LEASE_MS = 15_000;
const RENEW_EVERY_MS = 3_000;

type Deps = {
  db: Kysely<Tables>; helpers: DialectHelpers; store: WebhooksStore; webhooks: Pick<WebhooksService, 'disable'>;
  clock: Clock; ids: Ids; logger: Logger; settings: () => ConfigDocument; dispatcher: () => Dispatcher;
};

/**
 * Delivers the outbox: fans each committed event out into one delivery row per subscribed endpoint, then
 * leases due rows (fenced by a lock token), sends them signed, and records every attempt. Delivery is at
 * least once; a row is never marked done without a 2xx.
 */
export function createWebhookWorker(deps: Deps) {
  const { db, helpers, store, clock, ids, logger, settings } = deps;
  const lockToken = `wrk_${randomUUID()}`;
  const inFlight = new Map<string, Set<Promise<void>>>();
  /** Ids of the deliveries this worker is sending, whose lease the heartbeat renews. */
  const sending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let stopping = false;
  const isStopping = () => stopping;

  async function fanOut(): Promise<number> {
    return db.transaction().execute(async (trx) => {
      const events = await helpers.claimOutbox(trx, 500);
      if (events.length === 0) return 0;
      const hooks = await store.enabled(trx);
      const now = clock.now();
      for (const e of events) {
        const data = fromJson<unknown>(e.data);
        // An endpoint receives the events committed from its creation on, not older ones still in the outbox.
        const targets = hooks.filter((w) => Number(w.created_at) <= Number(e.created_at) && subscribed(fromJson<string[]>(w.events), e.type));
        for (const h of targets) {
          await store.upsertDelivery(trx, {
            id: ids.next('dlv'), webhook_id: h.id, event_id: e.id, event_type: e.type, payload: payloadOf(e.type, Number(e.created_at), data),
            status: 'pending', attempts: 0, next_attempt_at: now, lock_token: null, locked_until: null, last_error: null, last_status_code: null, created_at: now, updated_at: now,
          }, false);
        }
      }
      await store.markDispatched(trx, events.map((e) => e.id), now);
      return events.length;
    });
  }

  /** When the next attempt is due after a failure, or null when the schedule is spent. */
  function nextAttempt(hook: WebhooksTable, attempts: number, result: SendResult, now: number): number | null {
    const schedule = hook.retry_schedule_s === null ? settings().webhooks.retry_schedule_s : fromJson<number[]>(hook.retry_schedule_s);
    const delayS = schedule[attempts];
    if (delayS === undefined) return null;
    const jitter = delayS > 0 ? (Math.random() * 0.2 - 0.1) * delayS : 0; // ±10%, so retries of many events spread out
    const wait = Math.max(delayS + jitter, result.retryAfterS ?? 0);
    return now + Math.round(wait * 1000);
  }

  async function deliver(d: DeliveriesTable): Promise<void> {
    const hook = await store.find(db, d.webhook_id);
    if (!hook) return;
    const cfg = settings().webhooks;
    const now = clock.now();
    const secrets = hook.prev_secret && hook.prev_secret_until !== null && Number(hook.prev_secret_until) > now ? [hook.secret, hook.prev_secret] : [hook.secret];
    const result = await sendSigned({
      url: hook.url, body: d.payload, eventId: d.event_id, secrets, timeoutMs: (hook.timeout_s ?? cfg.timeout_s) * 1000,
      dispatcher: deps.dispatcher(), allowPrivate: cfg.allow_private_targets,
    });
    const at = clock.now();
    const attempts = d.attempts + 1;
    const next = result.ok ? null : nextAttempt(hook, attempts, result, at);
    const recorded = await store.finishAttempt(db, { id: d.id, lockToken }, {
      id: ids.next('dlv'), delivery_id: d.id, attempted_at: at, status_code: result.statusCode, latency_ms: result.latencyMs,
      error: result.error, response_excerpt: result.excerpt,
    }, {
      status: result.ok ? 'succeeded' : next === null || result.statusCode === 410 ? 'failed' : 'pending',
      attempts, next_attempt_at: next ?? at, last_error: result.error, last_status_code: result.statusCode, updated_at: at,
    });
    if (!recorded) return; // our lease expired and another worker took the row over
    await endpointHealth(hook, result, at, cfg.disable_after_days);
  }

  async function endpointHealth(hook: WebhooksTable, result: SendResult, at: number, disableAfterDays: number): Promise<void> {
    if (result.ok) {
      if (hook.failing_since !== null) await store.update(db, hook.id, { failing_since: null, updated_at: at });
      return;
    }
    if (result.statusCode === 410) return deps.webhooks.disable(hook.id, 'the endpoint answered 410 Gone');
    if (hook.failing_since === null) {
      await store.update(db, hook.id, { failing_since: at, updated_at: at });
    } else if (at - Number(hook.failing_since) >= disableAfterDays * 86_400_000) {
      await deps.webhooks.disable(hook.id, `failing for ${disableAfterDays} days`);
    }
  }

  function track(d: DeliveriesTable): Promise<void> {
    const set = inFlight.get(d.webhook_id) ?? new Set<Promise<void>>();
    inFlight.set(d.webhook_id, set);
    sending.add(d.id);
    const p = deliver(d).catch((err: unknown) => logger.error({ err, delivery: d.id }, 'delivery failed unexpectedly; its lease will expire and it will be retried'));
    set.add(p);
    void p.finally(() => {
      sending.delete(d.id);
      set.delete(p);
      if (set.size === 0) inFlight.delete(d.webhook_id);
    });
    return p;
  }

  /** Leases what is due (leaving saturated endpoints out) and starts sending it. */
  async function claim(): Promise<Promise<void>[]> {
    const total = [...inFlight.values()].reduce((n, s) => n + s.size, 0);
    if (total >= MAX_IN_FLIGHT) return [];
    const now = clock.now();
    const saturated = [...inFlight.entries()].filter(([, s]) => s.size >= PER_ENDPOINT).map(([id]) => id);
    const claimed = await db.transaction().execute((trx) =>
      helpers.claimDeliveries(trx, { now, leaseUntil: now + LEASE_MS, lockToken, limit: Math.min(CLAIM_BATCH, MAX_IN_FLIGHT - total), skipWebhooks: saturated }),
    );
    return claimed.map(track);
  }

  async function renewLeases(): Promise<void> {
    try {
      await store.renew(db, lockToken, [...sending], clock.now() + LEASE_MS);
    } catch (err) {
      logger.warn({ err }, 'could not renew webhook delivery leases; another worker may resend them');
    }
  }

  return {
    /** One round: fan out, claim, and wait for those sends. For tests and `gatehouse worker --once`. */
    async runOnce(): Promise<void> {
      await fanOut();
      await Promise.all(await claim());
    },

    /** Runs until `stop()`: polls every `intervalMs`, sends without waiting on slow endpoints. */
    start(intervalMs = 200): void {
      const loop = async () => {
        if (isStopping()) return;
        let busy = false;
        try {
          // One fan-out batch, then a claim: under a steady stream of commits the outbox is never empty,
          // so fanning out "until empty" first would starve sending.
          const fanned = await fanOut();
          // Sends run on their own; the next round does not wait for a slow endpoint.
          const claimed = isStopping() ? 0 : (await claim()).length;
          busy = fanned > 0 || claimed >= CLAIM_BATCH;
        } catch (err) {
          logger.warn({ err }, 'webhook worker round failed; retrying');
        }
        // While there is more to do, go again at once; otherwise wait for the next poll.
        if (!isStopping()) timer = setTimeout(() => void loop(), busy ? 0 : intervalMs);
      };
      heartbeat = setInterval(() => void renewLeases(), RENEW_EVERY_MS);
      heartbeat.unref();
      void loop();
    },

    /** Stops claiming, lets sends in flight finish (up to `graceMs`), and gives back what is still leased. */
    async stop(graceMs = 10_000): Promise<void> {
      stopping = true;
      if (timer) clearTimeout(timer);
      const pending = [...inFlight.values()].flatMap((s) => [...s]);
      await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, graceMs).unref())]);
      clearInterval(heartbeat);
      const released = await store.release(db, lockToken, clock.now());
      if (released) logger.info({ released }, 'webhook worker gave back its leased deliveries');
    },
  };
}
export type WebhookWorker = ReturnType<typeof createWebhookWorker>;
