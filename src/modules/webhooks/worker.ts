import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { fromJson } from '../../db/codecs.js';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { DeliveriesTable, DeliveryAttemptsTable, Tables, WebhooksTable } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { Outbox } from '../events/outbox.js';
import { payloadOf, subscribed } from './matching.js';
import { sendSigned, type SendResult } from './sender.js';
import type { WebhooksService } from './service.js';
import { pendingDelivery, type WebhooksStore } from './store.js';
import type { Dispatcher } from 'undici';

const CLAIM_BATCH = 100;
const FAN_OUT_BATCH = 500;
/** Sends in flight at once per endpoint in one worker, so a slow endpoint cannot take every slot. */
const PER_ENDPOINT = 8;
/**
 * The same for an endpoint that answers fast (see FAST_MS): sends, not the endpoint, are then what limits its
 * rate, and 16 at once delivered ~30 % more a second than 8 on PostgreSQL (bench/RESULTS.md, webhooks).
 */
const PER_FAST_ENDPOINT = 16;
/**
 * Deliveries of one fast endpoint one claim may lease (they wait in memory for a sending slot). Any other
 * endpoint gets one lane's worth (PER_ENDPOINT) a claim: what waits behind a slow or hanging endpoint's
 * sends is held, and leases renewed, for nothing, and many such endpoints could fill a worker's MAX_HELD.
 */
const CLAIM_PER_FAST_ENDPOINT = 64;
/**
 * A lane with fewer deliveries than this waiting asks for more, so the next claim runs while its last ones
 * are sent (waiting for it to run dry left the endpoint's slots idle for a claim's round trip each time).
 */
const REFILL_BELOW = CLAIM_PER_FAST_ENDPOINT / 2;
/** Endpoints whose answer latency a worker remembers after their lane empties (the longest unused go first). */
const REMEMBERED_LATENCIES = 1000;
/** Remembered fast endpoints without a lane that a claim names (see fastEndpoints). */
const REMEMBERED_IN_CLAIM = 64;
/** Leased deliveries held by one worker (sending or queued behind their endpoint's cap). */
const MAX_HELD = 1024;
/**
 * A lease is short and renewed while the delivery is held, so the deliveries of a worker that died (SIGKILL,
 * power loss) go back to the pool within LEASE_MS, whatever the endpoint's timeout.
 */
const LEASE_MS = 30_000;
const RENEW_EVERY_MS = 5_000;
/** A commit wakes the worker this much later, so a burst of commits shares one round. */
const WAKE_AFTER_MS = 10;

type Deps = {
  db: Kysely<Tables>; helpers: DialectHelpers; store: WebhooksStore; webhooks: Pick<WebhooksService, 'disable'>;
  clock: Clock; ids: Ids; logger: Logger; settings: () => ConfigDocument; dispatcher: () => Dispatcher;
  /** When given, the worker runs a round as soon as a change with events commits in this process. */
  outbox?: Pick<Outbox, 'onCommitted'>;
};

type Finished = { delivery: DeliveriesTable; attempt: DeliveryAttemptsTable; next: Partial<DeliveriesTable>; done: (recorded: boolean) => void };

/**
 * One endpoint's held deliveries: at most `cap(lane)` sending, the rest waiting in claim order. `latencyMs`
 * is a moving average of its answers' latency: a fast endpoint's lane sends more at once and is kept topped
 * up, a slow one's is not.
 */
type Lane = { sending: number; waiting: DeliveriesTable[]; hook: WebhooksTable; latencyMs: number };
/** Below this average latency an endpoint is fast: its lane is refilled before it runs dry. */
const FAST_MS = 100;
const fast = (lane: Lane) => lane.latencyMs < FAST_MS;
/** How many of a lane's deliveries may be in flight at once. */
function cap(lane: Lane): number {
  return fast(lane) ? PER_FAST_ENDPOINT : PER_ENDPOINT;
}
/** Whether a lane has enough queued that a claim should leave its endpoint out. */
function full(lane: Lane): boolean {
  return fast(lane) ? lane.waiting.length >= REFILL_BELOW : lane.sending + lane.waiting.length >= PER_ENDPOINT;
}

/**
 * Delivers the outbox: fans each committed event out into one delivery row per subscribed endpoint, then
 * leases due rows (fenced by a lock token), sends them signed, and records every attempt. Delivery is at
 * least once; a row is never marked done without a 2xx.
 */
export function createWebhookWorker(deps: Deps) {
  const { db, helpers, store, clock, ids, logger, settings } = deps;
  const lockToken = `wrk_${randomUUID()}`;
  /** Held deliveries by endpoint id. */
  const lanes = new Map<string, Lane>();
  /** An endpoint's average answer latency when its last lane emptied (a new one starts from it, not from slow). */
  const latencies = new Map<string, number>();
  /** Ids of every held delivery, whose lease the heartbeat renews. */
  const held = new Set<string>();
  const pending = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let running = false;
  /** The last claim left due work behind (capacity or full lanes): a finished send wakes the loop. */
  let starved = false;
  let again = false;
  let stopping = false;
  const isStopping = () => stopping;

  /** Fans one batch of the outbox out; how many events it took and how many deliveries it made. */
  async function fanOut(): Promise<{ events: number; deliveries: number }> {
    return db.transaction().execute(async (trx) => {
      const now = clock.now();
      const events = await helpers.claimOutbox(trx, FAN_OUT_BATCH, now);
      if (events.length === 0) return { events: 0, deliveries: 0 };
      // Read after the claim: an endpoint created before an event committed is in this list.
      const hooks = await store.enabled(trx);
      const rows: DeliveriesTable[] = [];
      for (const e of events) {
        const data = fromJson<unknown>(e.data);
        // An endpoint receives the events committed from its creation on, not older ones still in the outbox.
        const targets = hooks.filter((w) => Number(w.created_at) <= Number(e.created_at) && subscribed(fromJson<string[]>(w.events), e.type));
        for (const h of targets) {
          rows.push(pendingDelivery({ id: ids.next('dlv'), webhookId: h.id, eventId: e.id, eventType: e.type, payload: payloadOf(e.type, Number(e.created_at), data), now }));
        }
      }
      await store.insertDeliveries(trx, rows);
      return { events: events.length, deliveries: rows.length };
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

  // Attempts finished in the same turn of the event loop are recorded in one transaction: two statements
  // each, but one commit for all of them.
  let finished: Finished[] = [];
  let flushing: Promise<void> | undefined;
  function record(f: Finished): void {
    finished.push(f);
    flushing ??= new Promise<void>((r) => setImmediate(r)).then(flush);
  }
  async function flush(): Promise<void> {
    const batch = finished;
    finished = [];
    flushing = undefined;
    try {
      // Successes (nearly all of them) by status code: two statements per group, not two per delivery. The
      // rest one by one, in id order. The lease renewal skips locked rows, so neither can deadlock with it.
      const succeeded = new Map<number, Finished[]>();
      const others: Finished[] = [];
      for (const f of batch) {
        const code = f.attempt.status_code;
        if (f.next.status !== 'succeeded' || code === null) others.push(f);
        else if (succeeded.has(code)) succeeded.get(code)?.push(f);
        else succeeded.set(code, [f]);
      }
      others.sort((x, y) => (x.delivery.id < y.delivery.id ? -1 : 1));
      const recorded = await db.transaction().execute(async (trx) => {
        const out = new Set<string>();
        for (const [code, group] of succeeded) {
          const at = Math.max(...group.map((f) => f.attempt.attempted_at));
          for (const id of await store.finishSucceeded(trx, lockToken, code, at, group.map((f) => f.attempt))) out.add(id);
        }
        for (const f of others) if (await store.finishAttempt(trx, { id: f.delivery.id, lockToken }, f.attempt, f.next)) out.add(f.delivery.id);
        return out;
      });
      for (const f of batch) f.done(recorded.has(f.delivery.id));
    } catch (err) {
      // Not recorded: the leases run out and the deliveries are sent again (at least once).
      logger.warn({ err, deliveries: batch.length }, 'could not record webhook attempts; they will be retried when their lease expires');
      for (const f of batch) f.done(false);
    }
  }

  /** Sends one delivery, calls `sent` as soon as the answer is in (its endpoint slot is free), then records it. */
  async function deliver(d: DeliveriesTable, hook: WebhooksTable, sent: (latencyMs: number) => void): Promise<void> {
    const cfg = settings().webhooks;
    const now = clock.now();
    const secrets = hook.prev_secret && hook.prev_secret_until !== null && Number(hook.prev_secret_until) > now ? [hook.secret, hook.prev_secret] : [hook.secret];
    const result = await sendSigned({
      url: hook.url, body: d.payload, eventId: d.event_id, secrets, timeoutMs: (hook.timeout_s ?? cfg.timeout_s) * 1000,
      dispatcher: deps.dispatcher(), allowPrivate: cfg.allow_private_targets,
    });
    sent(result.latencyMs);
    const at = clock.now();
    const attempts = d.attempts + 1;
    const next = result.ok ? null : nextAttempt(hook, attempts, result, at);
    const recorded = await new Promise<boolean>((done) => record({
      delivery: d,
      attempt: {
        id: ids.next('dlv'), delivery_id: d.id, attempted_at: at, status_code: result.statusCode, latency_ms: result.latencyMs,
        error: result.error, response_excerpt: result.excerpt,
      },
      next: {
        status: result.ok ? 'succeeded' : next === null || result.statusCode === 410 ? 'failed' : 'pending',
        attempts, next_attempt_at: next ?? at, last_error: result.error, last_status_code: result.statusCode, updated_at: at,
      },
      done,
    }));
    if (!recorded) return; // our lease expired and another worker took the row over
    await endpointHealth(hook, result, at, cfg.disable_after_days);
  }

  async function endpointHealth(hook: WebhooksTable, result: SendResult, at: number, disableAfterDays: number): Promise<void> {
    if (result.ok) {
      if (hook.failing_since !== null) {
        hook.failing_since = null;
        await store.update(db, hook.id, { failing_since: null, updated_at: at });
      }
      return;
    }
    if (result.statusCode === 410) return deps.webhooks.disable(hook.id, 'the endpoint answered 410 Gone');
    if (hook.failing_since === null) {
      hook.failing_since = at;
      await store.update(db, hook.id, { failing_since: at, updated_at: at });
    } else if (at - Number(hook.failing_since) >= disableAfterDays * 86_400_000) {
      await deps.webhooks.disable(hook.id, `failing for ${disableAfterDays} days`);
    }
  }

  /** Keeps an endpoint's latency, most recent last, forgetting the oldest beyond REMEMBERED_LATENCIES. */
  function remember(webhookId: string, latencyMs: number): void {
    latencies.delete(webhookId);
    latencies.set(webhookId, latencyMs);
    for (const oldest of latencies.keys()) {
      if (latencies.size <= REMEMBERED_LATENCIES) break;
      latencies.delete(oldest);
    }
  }

  /**
   * Endpoints known to answer fast that a claim may lease a fast lane's share of: those with a lane that is
   * not full, and the last REMEMBERED_IN_CLAIM remembered fast whose lane has gone (each is a parameter of
   * every claim; one left out gets one lane's worth this claim, then its lane is there and fast).
   */
  function fastEndpoints(): string[] {
    const ids = [...lanes.entries()].filter(([, l]) => fast(l) && !full(l)).map(([id]) => id);
    const idle: string[] = [];
    for (const [id, ms] of latencies) if (ms < FAST_MS && !lanes.has(id)) idle.push(id);
    return ids.concat(idle.slice(-REMEMBERED_IN_CLAIM));
  }

  /** Starts as many of the lane's waiting deliveries as its cap allows; drops the lane when it is empty. */
  function pump(webhookId: string): void {
    const lane = lanes.get(webhookId);
    if (!lane) return;
    while (lane.sending < cap(lane)) {
      const d = lane.waiting.shift();
      if (d === undefined) break;
      lane.sending += 1;
      let freed = false;
      // The slot is free when the answer is in; recording the attempt (next event-loop turn, batched) does not
      // hold it, or a busy API would cap an endpoint at one lane's worth of sends per turn.
      const free = (latencyMs?: number) => {
        if (freed) return;
        freed = true;
        if (latencyMs !== undefined) lane.latencyMs = 0.8 * lane.latencyMs + 0.2 * latencyMs;
        lane.sending -= 1;
        if (lane.sending === 0 && lane.waiting.length === 0) {
          // The lane goes; what it learnt of the endpoint's speed stays for the next one.
          lanes.delete(webhookId);
          remember(webhookId, lane.latencyMs);
        }
        else pump(webhookId);
        // The last claim left work behind and this lane is running low: top up without waiting for the poll.
        if (starved && !full(lane)) {
          starved = false;
          claimWanted = true;
          wake();
        }
      };
      const p = deliver(d, lane.hook, free).catch((err: unknown) => logger.error({ err, delivery: d.id }, 'delivery failed unexpectedly; its lease will expire and it will be retried'));
      pending.add(p);
      void p.finally(() => {
        free(undefined);
        pending.delete(p);
        held.delete(d.id); // recorded (or given up): no more lease renewal
      });
    }
  }

  /** Leases what is due (leaving out endpoints that already hold a full lane) and queues it for sending. */
  async function claim(): Promise<number> {
    const saturated = [...lanes.entries()].filter(([, l]) => full(l)).map(([id]) => id);
    const room = Math.min(CLAIM_BATCH, MAX_HELD - held.size);
    starved = room < CLAIM_BATCH || saturated.length > 0;
    if (room <= 0) return 0;
    const now = clock.now();
    const claimed = await db.transaction().execute((trx) =>
      helpers.claimDeliveries(trx, {
        now, leaseUntil: now + LEASE_MS, lockToken, limit: room, skipWebhooks: saturated,
        perWebhook: PER_ENDPOINT, fastWebhooks: fastEndpoints(), perFastWebhook: CLAIM_PER_FAST_ENDPOINT,
      }),
    );
    if (claimed.length === 0) return 0;
    // One read of the claim's endpoints (fresh: a URL, secret or timeout may have changed), not one per delivery.
    const touched = [...new Set(claimed.map((d) => d.webhook_id))];
    for (const hook of await store.findMany(db, touched)) {
      const lane = lanes.get(hook.id);
      if (lane) lane.hook = hook;
      else lanes.set(hook.id, { sending: 0, waiting: [], hook, latencyMs: latencies.get(hook.id) ?? FAST_MS });
    }
    for (const d of claimed) {
      const lane = lanes.get(d.webhook_id);
      if (!lane) continue; // the endpoint was deleted meanwhile; its deliveries went with it
      if (held.has(d.id)) continue; // ours already (its lease ran out while it waited): never twice at once
      held.add(d.id);
      lane.waiting.push(d);
    }
    for (const id of touched) pump(id);
    // There may be more due (an endpoint got its per-claim share, or the batch was full): when a lane
    // drains, claim again rather than wait for the poll.
    starved = true;
    return claimed.length;
  }

  async function renewLeases(): Promise<void> {
    try {
      const ids = [...held];
      await db.transaction().execute((trx) => helpers.renewDeliveries(trx, { lockToken, ids, until: clock.now() + LEASE_MS }));
    } catch (err) {
      logger.warn({ err }, 'could not renew webhook delivery leases; another worker may resend them');
    }
  }

  /** One round: a fan-out batch, then a claim. True when there is probably more to do at once. */
  async function round(): Promise<boolean> {
    // One fan-out batch, then a claim: under a steady stream of commits the outbox is never empty, so
    // fanning out "until empty" first would starve sending.
    const fanned = await fanOut();
    // A claim when there is something new to send, when sends freed room, or at the poll (retries coming
    // due, other workers' fan-outs): not after every commit that no endpoint subscribes to.
    const due = fanned.deliveries > 0 || claimWanted || performance.now() - lastClaimAt >= pollMs;
    claimWanted = false;
    let claimed = 0;
    if (due && !isStopping()) {
      lastClaimAt = performance.now();
      claimed = await claim();
    }
    return fanned.events > 0 || claimed >= CLAIM_BATCH;
  }

  let pollMs = 200;
  /** Process time (not the injected clock: this is timer cadence, not domain time) of the last claim. */
  let lastClaimAt = Number.NEGATIVE_INFINITY;
  /** When the pending timer fires (process time). */
  let timerAt = 0;
  let claimWanted = false;
  /** Runs rounds back to back while there is work, then sleeps until the poll or a wake-up. */
  async function loop(): Promise<void> {
    if (isStopping()) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    let busy = false;
    try {
      busy = await round();
    } catch (err) {
      logger.warn({ err }, 'webhook worker round failed; retrying');
    } finally {
      running = false;
    }
    if (isStopping()) return;
    const now = busy || again;
    again = false;
    schedule(now ? 0 : pollMs);
  }
  /** Runs a round soon: at once while one runs (it goes again), else after WAKE_AFTER_MS. */
  function wake(): void {
    if (timer === undefined || isStopping()) return;
    if (running) {
      again = true;
      return;
    }
    // Never later than already planned: a stream of commits must not keep pushing the round away.
    if (timerAt - performance.now() > WAKE_AFTER_MS) schedule(WAKE_AFTER_MS);
  }
  function schedule(ms: number): void {
    clearTimeout(timer);
    timerAt = performance.now() + ms;
    timer = setTimeout(() => void loop(), ms);
  }

  return {
    /** One round, waiting for its sends. For tests and `gatehouse worker --once`. */
    async runOnce(): Promise<void> {
      await fanOut();
      await claim();
      while (pending.size > 0) await Promise.all([...pending]);
      if (flushing) await flushing;
    },

    /**
     * Runs until `stop()`: a round whenever a change with events commits in this process (when given the
     * outbox), and at the latest every `intervalMs` (other processes' commits, retries coming due).
     */
    start(intervalMs = 200): void {
      stopping = false;
      pollMs = intervalMs;
      unsubscribe = deps.outbox?.onCommitted(wake);
      heartbeat = setInterval(() => void renewLeases(), RENEW_EVERY_MS);
      heartbeat.unref();
      schedule(0);
    },

    /** Stops claiming, lets sends in flight finish (up to `graceMs`), and gives back what is still leased. */
    async stop(graceMs = 10_000): Promise<void> {
      stopping = true;
      unsubscribe?.();
      clearTimeout(timer);
      // Queued deliveries are not started any more; they are released below.
      for (const lane of lanes.values()) {
        for (const d of lane.waiting) held.delete(d.id);
        lane.waiting = [];
      }
      await Promise.race([Promise.allSettled([...pending]), new Promise((r) => setTimeout(r, graceMs).unref())]);
      if (flushing) await flushing.catch(() => undefined);
      clearInterval(heartbeat);
      const released = await store.release(db, lockToken, clock.now());
      if (released) logger.info({ released }, 'webhook worker gave back its leased deliveries');
    },
  };
}
export type WebhookWorker = ReturnType<typeof createWebhookWorker>;
