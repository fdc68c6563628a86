import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { DeliveriesTable, Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { Outbox } from '../events/outbox.js';
import { readScopeOf } from '../events/catalog.js';
import { mayReceive, reaches, unreachable, type CreatorPermissions, type Reach } from '../events/reach.js';
import { createDeliverer } from './deliver.js';
import { createFanOut } from './fan-out.js';
import { cap, CLAIM_PER_FAST_ENDPOINT, createLanes, full, PER_ENDPOINT } from './lanes.js';
import { createAttemptRecorder } from './recorder.js';
import { createRoundLoop } from './round-loop.js';
import type { WebhooksService } from './service.js';
import type { WebhooksStore } from './store.js';

const CLAIM_BATCH = 100;
/** Leased deliveries held by one worker (sending or queued behind their endpoint's cap). */
const MAX_HELD = 1024;
/**
 * A lease is short and renewed while the delivery is held, so the deliveries of a worker that died (SIGKILL,
 * power loss) go back to the pool within LEASE_MS, whatever the endpoint's timeout.
 */
const LEASE_MS = 30_000;
const RENEW_EVERY_MS = 5_000;

type Deps = {
  db: Kysely<Tables>;
  helpers: DialectHelpers;
  store: WebhooksStore;
  webhooks: Pick<WebhooksService, 'disable'>;
  clock: Clock;
  ids: Ids;
  logger: Logger;
  settings: () => ConfigDocument;
  dispatcher: () => Dispatcher;
  creatorPermissions: CreatorPermissions;
  /** When given, the worker runs a round as soon as a change with events commits in this process. */
  outbox?: Pick<Outbox, 'onCommitted'>;
};

/**
 * Delivers the outbox: fans each committed event out into one delivery row per subscribed endpoint, then
 * leases due rows (fenced by a lock token), sends them signed, and records every attempt. Delivery is at
 * least once; a row is never marked done without a 2xx.
 */
export function createWebhookWorker(deps: Deps) {
  const { db, helpers, store, clock, logger } = deps;
  const lockToken = `wrk_${randomUUID()}`;
  const lanes = createLanes();
  /** Ids of every held delivery, whose lease the heartbeat renews. */
  const held = new Set<string>();
  const pending = new Set<Promise<void>>();
  let heartbeat: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  /** The last claim left due work behind (capacity or full lanes): a finished send wakes the loop. */
  let starved = false;
  const fanOut = createFanOut(deps);
  const recorder = createAttemptRecorder({ db, store, lockToken, logger });
  const deliver = createDeliverer({ ...deps, record: recorder.record });

  /** Starts as many of the lane's waiting deliveries as its cap allows; drops the lane when it is empty. */
  function pump(webhookId: string): void {
    const lane = lanes.get(webhookId);
    if (!lane) return;
    while (lane.sending < cap(lane)) {
      const d = lane.waiting.shift();
      if (d === undefined) break;
      lane.sending += 1;
      let freed = false;
      // The slot is free when the answer is in; recording the attempt (batched, see recorder.ts) does not hold
      // it, or a busy API would cap an endpoint at one lane's worth of sends per recording transaction.
      const free = (latencyMs?: number) => {
        if (freed) return;
        freed = true;
        if (latencyMs !== undefined) lane.latencyMs = 0.8 * lane.latencyMs + 0.2 * latencyMs;
        lane.sending -= 1;
        if (lane.sending === 0 && lane.waiting.length === 0) {
          // The lane goes; what it learnt of the endpoint's speed stays for the next one.
          lanes.close(webhookId, lane);
        } else pump(webhookId);
        // The last claim left work behind and this lane is running low: top up without waiting for the poll.
        if (starved && !full(lane)) {
          starved = false;
          claimWanted = true;
          wake();
        }
      };
      const p = deliver(d, lane.hook, free).catch((err: unknown) =>
        logger.error(
          { err, delivery: d.id },
          'delivery failed unexpectedly; its lease will expire and it will be retried',
        ),
      );
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
    const saturated = lanes.saturated();
    const room = Math.min(CLAIM_BATCH, MAX_HELD - held.size);
    starved = room < CLAIM_BATCH || saturated.length > 0;
    if (room <= 0) return 0;
    const now = clock.now();
    const claimed = await helpers.claimDeliveries(db, {
      now,
      leaseUntil: now + LEASE_MS,
      lockToken,
      limit: room,
      skipWebhooks: saturated,
      perWebhook: PER_ENDPOINT,
      fastWebhooks: lanes.fastEndpoints(),
      perFastWebhook: CLAIM_PER_FAST_ENDPOINT,
    });
    if (claimed.length === 0) return 0;
    // One read of the claim's endpoints (fresh: a URL, secret or timeout may have changed), not one per delivery,
    // and one of their creators' current permissions.
    const touched = [...new Set(claimed.map((d) => d.webhook_id))];
    const hooks = await store.findMany(db, touched);
    for (const hook of hooks) lanes.open(hook);
    const reach = await reaches(
      deps.creatorPermissions,
      db,
      hooks.map((h) => h.created_by),
    );
    for (const d of claimed) {
      const lane = lanes.get(d.webhook_id);
      if (!lane) continue; // the endpoint was deleted meanwhile; its deliveries went with it
      if (held.has(d.id)) continue; // ours already (its lease ran out while it waited): never twice at once
      held.add(d.id);
      // Checked at delivery: the creator may have lost the permission since the fan-out (or a retry is due).
      if (!mayReceive(reach(lane.hook.created_by), d.event_type)) {
        withhold(d, lane.hook.created_by, reach(lane.hook.created_by));
        continue;
      }
      lane.waiting.push(d);
    }
    for (const id of touched) {
      pump(id);
      const lane = lanes.get(id);
      if (lane && lane.sending === 0 && lane.waiting.length === 0) lanes.close(id, lane); // all of it withheld
    }
    // There may be more due (an endpoint got its per-claim share, or the batch was full): when a lane
    // drains, claim again rather than wait for the poll.
    starved = true;
    return claimed.length;
  }

  /** Ends a delivery its endpoint's creator may no longer read: failed, unsent, the reason in its attempt. */
  function withhold(d: DeliveriesTable, creator: string | null, reach: Reach): void {
    const why =
      unreachable(reach, creator) ??
      `its creator ${creator ?? ''} may no longer read ${readScopeOf(d.event_type)}`;
    const error = `withheld, not sent: ${why}`;
    logger.warn(
      { delivery: d.id, webhook: d.webhook_id, event_type: d.event_type },
      `webhook delivery ${error}`,
    );
    const at = clock.now();
    recorder.record({
      delivery: d,
      attempt: {
        id: deps.ids.next('dlv'),
        delivery_id: d.id,
        attempted_at: at,
        status_code: null,
        latency_ms: 0,
        error,
        response_excerpt: null,
      },
      next: {
        status: 'failed',
        attempts: d.attempts + 1,
        next_attempt_at: at,
        last_error: error,
        last_status_code: null,
        updated_at: at,
      },
      done: () => held.delete(d.id),
    });
  }

  async function renewLeases(): Promise<void> {
    try {
      const ids = [...held];
      await helpers.renewDeliveries(db, { lockToken, ids, until: clock.now() + LEASE_MS });
    } catch (err) {
      logger.warn({ err }, 'could not renew webhook delivery leases; another worker may resend them');
    }
  }

  /** One round: a fan-out batch, then a claim. True when there is probably more to do at once. */
  async function round(): Promise<boolean> {
    // One fan-out batch, then a claim: under a steady stream of commits the outbox is never empty, so
    // fanning out "until empty" first would starve sending.
    let fanned = { events: 0, deliveries: 0 };
    if (fanOutDue()) {
      outboxDirty = false; // a commit announced while the batch runs sets it again
      lastFanOutAt = performance.now();
      fanned = await fanOut();
      if (fanned.events > 0) outboxDirty = true; // there may be more
    }
    // A claim when there is something new to send, when sends freed room, or at the poll (retries coming
    // due, other workers' fan-outs): not after every commit that no endpoint subscribes to.
    const due = fanned.deliveries > 0 || claimWanted || performance.now() - lastClaimAt >= rounds.pollMs();
    claimWanted = false;
    let claimed = 0;
    if (due && !rounds.isStopped()) {
      lastClaimAt = performance.now();
      claimed = await claim();
    }
    return fanned.events > 0 || claimed >= CLAIM_BATCH;
  }

  /** Process time (not the injected clock: this is timer cadence, not domain time) of the last claim. */
  let lastClaimAt = Number.NEGATIVE_INFINITY;
  let claimWanted = false;
  /**
   * A commit announced outbox events since the last fan-out began. Rounds woken for claims (a lane running
   * low) skip the fan-out when it is clear: an empty one is still three round trips on PostgreSQL. With no
   * announcer (a separate `gatehouse worker` on SQLite), every round fans out; the poll fans out regardless.
   */
  let outboxDirty = true;
  let lastFanOutAt = Number.NEGATIVE_INFINITY;
  const fanOutDue = () => !deps.outbox || outboxDirty || performance.now() - lastFanOutAt >= rounds.pollMs();
  const rounds = createRoundLoop(round, logger);
  const wake = () => rounds.wake();

  return {
    /** One round, waiting for its sends. For tests and `gatehouse worker --once`. */
    async runOnce(): Promise<void> {
      await fanOut();
      await claim();
      while (pending.size > 0) await Promise.all([...pending]);
      await recorder.settled();
    },

    /**
     * Runs until `stop()`: a round whenever a change with events commits in this process (when given the
     * outbox), and at the latest every `intervalMs` (other processes' commits, retries coming due).
     */
    start(intervalMs = 200): void {
      unsubscribe = deps.outbox?.onCommitted(() => {
        outboxDirty = true;
        wake();
      });
      heartbeat = setInterval(() => void renewLeases(), RENEW_EVERY_MS);
      heartbeat.unref();
      rounds.start(intervalMs);
    },

    /** Stops claiming, lets sends in flight finish (up to `graceMs`), and gives back what is still leased. */
    async stop(graceMs = 10_000): Promise<void> {
      unsubscribe?.();
      rounds.stop();
      // Queued deliveries are not started any more; they are released below.
      for (const lane of lanes.all()) {
        for (const d of lane.waiting) held.delete(d.id);
        lane.waiting = [];
      }
      await Promise.race([
        Promise.allSettled([...pending]),
        new Promise((r) => setTimeout(r, graceMs).unref()),
      ]);
      await recorder.settled();
      clearInterval(heartbeat);
      const released = await store.release(db, lockToken, clock.now());
      if (released) logger.info({ released }, 'webhook worker gave back its leased deliveries');
    },
  };
}
export type WebhookWorker = ReturnType<typeof createWebhookWorker>;
