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
import { cap, CLAIM_PER_FAST_ENDPOINT, createLanes, full, PER_ENDPOINT, type Lanes } from './lanes.js';
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

type RoundLoop = ReturnType<typeof createRoundLoop>;

/** What the worker's steps share: its lease token and parts, the deliveries it holds, and what paces its rounds. */
type Worker = {
  deps: Deps;
  lockToken: string;
  lanes: Lanes;
  /** Ids of every held delivery, whose lease the heartbeat renews. */
  held: Set<string>;
  pending: Set<Promise<void>>;
  heartbeat: NodeJS.Timeout | undefined;
  unsubscribe: (() => void) | undefined;
  /** The last claim left due work behind (capacity or full lanes): a finished send wakes the loop. */
  starved: boolean;
  fanOut: ReturnType<typeof createFanOut>;
  recorder: ReturnType<typeof createAttemptRecorder>;
  deliver: ReturnType<typeof createDeliverer>;
  /** Process time (not the injected clock: this is timer cadence, not domain time) of the last claim. */
  lastClaimAt: number;
  claimWanted: boolean;
  /**
   * A commit announced outbox events since the last fan-out began. Rounds woken for claims (a lane running
   * low) skip the fan-out when it is clear: an empty one is still three round trips on PostgreSQL. With no
   * announcer (a separate `gatehouse worker` on SQLite), every round fans out; the poll fans out regardless.
   */
  outboxDirty: boolean;
  lastFanOutAt: number;
  wake: () => void;
};

/** Starts as many of the lane's waiting deliveries as its cap allows; drops the lane when it is empty. */
function pump(w: Worker, webhookId: string): void {
  const { lanes, pending, held } = w;
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
      } else pump(w, webhookId);
      // The last claim left work behind and this lane is running low: top up without waiting for the poll.
      if (w.starved && !full(lane)) {
        w.starved = false;
        w.claimWanted = true;
        w.wake();
      }
    };
    const p = w
      .deliver(d, lane.hook, free)
      .catch((err: unknown) =>
        w.deps.logger.error(
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
async function claim(w: Worker): Promise<number> {
  const { deps, lanes, held } = w;
  const { db, helpers, store, clock } = deps;
  const saturated = lanes.saturated();
  const room = Math.min(CLAIM_BATCH, MAX_HELD - held.size);
  w.starved = room < CLAIM_BATCH || saturated.length > 0;
  if (room <= 0) return 0;
  const now = clock.now();
  const claimed = await helpers.claimDeliveries(db, {
    now,
    leaseUntil: now + LEASE_MS,
    lockToken: w.lockToken,
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
      withhold(w, d, lane.hook.created_by, reach(lane.hook.created_by));
      continue;
    }
    lane.waiting.push(d);
  }
  for (const id of touched) {
    pump(w, id);
    const lane = lanes.get(id);
    if (lane && lane.sending === 0 && lane.waiting.length === 0) lanes.close(id, lane); // all of it withheld
  }
  // There may be more due (an endpoint got its per-claim share, or the batch was full): when a lane
  // drains, claim again rather than wait for the poll.
  w.starved = true;
  return claimed.length;
}

/** Ends a delivery its endpoint's creator may no longer read: failed, unsent, the reason in its attempt. */
function withhold(w: Worker, d: DeliveriesTable, creator: string | null, reach: Reach): void {
  const { deps } = w;
  const why =
    unreachable(reach, creator) ??
    `its creator ${creator ?? ''} may no longer read ${readScopeOf(d.event_type)}`;
  const error = `withheld, not sent: ${why}`;
  deps.logger.warn(
    { delivery: d.id, webhook: d.webhook_id, event_type: d.event_type },
    `webhook delivery ${error}`,
  );
  const at = deps.clock.now();
  w.recorder.record({
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
    done: () => w.held.delete(d.id),
  });
}

async function renewLeases(w: Worker): Promise<void> {
  const { db, helpers, clock, logger } = w.deps;
  try {
    const ids = [...w.held];
    await helpers.renewDeliveries(db, { lockToken: w.lockToken, ids, until: clock.now() + LEASE_MS });
  } catch (err) {
    logger.warn({ err }, 'could not renew webhook delivery leases; another worker may resend them');
  }
}

/** One round: a fan-out batch, then a claim. True when there is probably more to do at once. */
async function round(w: Worker, rounds: RoundLoop): Promise<boolean> {
  // One fan-out batch, then a claim: under a steady stream of commits the outbox is never empty, so
  // fanning out "until empty" first would starve sending.
  let fanned = { events: 0, deliveries: 0 };
  const fanOutDue = !w.deps.outbox || w.outboxDirty || performance.now() - w.lastFanOutAt >= rounds.pollMs();
  if (fanOutDue) {
    w.outboxDirty = false; // a commit announced while the batch runs sets it again
    w.lastFanOutAt = performance.now();
    fanned = await w.fanOut();
    if (fanned.events > 0) w.outboxDirty = true; // there may be more
  }
  // A claim when there is something new to send, when sends freed room, or at the poll (retries coming
  // due, other workers' fan-outs): not after every commit that no endpoint subscribes to.
  const due = fanned.deliveries > 0 || w.claimWanted || performance.now() - w.lastClaimAt >= rounds.pollMs();
  w.claimWanted = false;
  let claimed = 0;
  if (due && !rounds.isStopped()) {
    w.lastClaimAt = performance.now();
    claimed = await claim(w);
  }
  return fanned.events > 0 || claimed >= CLAIM_BATCH;
}

/** Stops claiming, lets sends in flight finish (up to `graceMs`), and gives back what is still leased. */
async function shutDown(w: Worker, rounds: RoundLoop, graceMs: number): Promise<void> {
  const { db, store, clock, logger } = w.deps;
  w.unsubscribe?.();
  rounds.stop();
  // Queued deliveries are not started any more; they are released below.
  for (const lane of w.lanes.all()) {
    for (const d of lane.waiting) w.held.delete(d.id);
    lane.waiting = [];
  }
  await Promise.race([
    Promise.allSettled([...w.pending]),
    new Promise((r) => setTimeout(r, graceMs).unref()),
  ]);
  await w.recorder.settled();
  clearInterval(w.heartbeat);
  const released = await store.release(db, w.lockToken, clock.now());
  if (released) logger.info({ released }, 'webhook worker gave back its leased deliveries');
}

/**
 * Delivers the outbox: fans each committed event out into one delivery row per subscribed endpoint, then
 * leases due rows (fenced by a lock token), sends them signed, and records every attempt. Delivery is at
 * least once; a row is never marked done without a 2xx.
 */
export function createWebhookWorker(deps: Deps) {
  const { db, store, logger } = deps;
  const lockToken = `wrk_${randomUUID()}`;
  const lanes = createLanes();
  const fanOut = createFanOut(deps);
  const recorder = createAttemptRecorder({ db, store, lockToken, logger });
  const deliver = createDeliverer({ ...deps, record: recorder.record });
  const w: Worker = {
    deps,
    lockToken,
    lanes,
    held: new Set<string>(),
    pending: new Set<Promise<void>>(),
    heartbeat: undefined,
    unsubscribe: undefined,
    starved: false,
    fanOut,
    recorder,
    deliver,
    lastClaimAt: Number.NEGATIVE_INFINITY,
    claimWanted: false,
    outboxDirty: true,
    lastFanOutAt: Number.NEGATIVE_INFINITY,
    wake: () => rounds.wake(),
  };
  const rounds = createRoundLoop(() => round(w, rounds), logger);

  return {
    /** One round, waiting for its sends. For tests and `gatehouse worker --once`. */
    async runOnce(): Promise<void> {
      await fanOut();
      await claim(w);
      while (w.pending.size > 0) await Promise.all([...w.pending]);
      await recorder.settled();
    },

    /**
     * Runs until `stop()`: a round whenever a change with events commits in this process (when given the
     * outbox), and at the latest every `intervalMs` (other processes' commits, retries coming due).
     */
    start(intervalMs = 200): void {
      w.unsubscribe = deps.outbox?.onCommitted(() => {
        w.outboxDirty = true;
        w.wake();
      });
      w.heartbeat = setInterval(() => void renewLeases(w), RENEW_EVERY_MS);
      w.heartbeat.unref();
      rounds.start(intervalMs);
    },

    /** Stops claiming, lets sends in flight finish (up to `graceMs`), and gives back what is still leased. */
    async stop(graceMs = 10_000): Promise<void> {
      await shutDown(w, rounds, graceMs);
    },
  };
}
export type WebhookWorker = ReturnType<typeof createWebhookWorker>;
