import type { DeliveriesTable, WebhooksTable } from '../../db/tables.js';

/** Sends in flight at once per endpoint in one worker, so a slow endpoint cannot take every slot. */
export const PER_ENDPOINT = 8;
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
export const CLAIM_PER_FAST_ENDPOINT = 64;
/**
 * A lane with fewer deliveries than this waiting asks for more, so the next claim runs while its last ones
 * are sent (waiting for it to run dry left the endpoint's slots idle for a claim's round trip each time).
 */
const REFILL_BELOW = CLAIM_PER_FAST_ENDPOINT / 2;
/** Endpoints whose answer latency a worker remembers after their lane empties (the longest unused go first). */
const REMEMBERED_LATENCIES = 1000;
/** Remembered fast endpoints without a lane that a claim names (see fastEndpoints). */
const REMEMBERED_IN_CLAIM = 64;
/** Below this average latency an endpoint is fast: its lane is refilled before it runs dry. */
const FAST_MS = 100;

/**
 * One endpoint's held deliveries: at most `cap(lane)` sending, the rest waiting in claim order. `latencyMs`
 * is a moving average of its answers' latency: a fast endpoint's lane sends more at once and is kept topped
 * up, a slow one's is not.
 */
export type Lane = { sending: number; waiting: DeliveriesTable[]; hook: WebhooksTable; latencyMs: number };

const fast = (lane: Lane) => lane.latencyMs < FAST_MS;
/** How many of a lane's deliveries may be in flight at once. */
export function cap(lane: Lane): number {
  return fast(lane) ? PER_FAST_ENDPOINT : PER_ENDPOINT;
}
/** Whether a lane has enough queued that a claim should leave its endpoint out. */
export function full(lane: Lane): boolean {
  return fast(lane)
    ? lane.waiting.length >= REFILL_BELOW
    : lane.sending + lane.waiting.length >= PER_ENDPOINT;
}

/**
 * A worker's lanes by endpoint id, and what it learnt of each endpoint's speed: kept when a lane empties (a
 * new lane starts from it, not from slow), for the REMEMBERED_LATENCIES endpoints used last.
 */
export function createLanes() {
  const lanes = new Map<string, Lane>();
  const latencies = new Map<string, number>();

  return {
    get: (webhookId: string) => lanes.get(webhookId),
    all: () => lanes.values(),
    /** The lane of `hook`, opened (from the endpoint's remembered latency) when it has none; its hook refreshed. */
    open(hook: WebhooksTable): void {
      const lane = lanes.get(hook.id);
      if (lane) lane.hook = hook;
      else
        lanes.set(hook.id, { sending: 0, waiting: [], hook, latencyMs: latencies.get(hook.id) ?? FAST_MS });
    },
    /** Drops an empty lane; its endpoint's latency is remembered, most recent last, the oldest forgotten. */
    close(webhookId: string, lane: Lane): void {
      lanes.delete(webhookId);
      latencies.delete(webhookId);
      latencies.set(webhookId, lane.latencyMs);
      for (const oldest of latencies.keys()) {
        if (latencies.size <= REMEMBERED_LATENCIES) break;
        latencies.delete(oldest);
      }
    },
    /** Endpoints whose lane is full: a claim leaves them out. */
    saturated: () => [...lanes.entries()].filter(([, l]) => full(l)).map(([id]) => id),
    /**
     * Endpoints known to answer fast that a claim may lease a fast lane's share of: those with a lane that is
     * not full, and the last REMEMBERED_IN_CLAIM remembered fast whose lane has gone (each is a parameter of
     * every claim; one left out gets one lane's worth this claim, then its lane is there and fast).
     */
    fastEndpoints(): string[] {
      const ids = [...lanes.entries()].filter(([, l]) => fast(l) && !full(l)).map(([id]) => id);
      const idle: string[] = [];
      for (const [id, ms] of latencies) if (ms < FAST_MS && !lanes.has(id)) idle.push(id);
      return ids.concat(idle.slice(-REMEMBERED_IN_CLAIM));
    },
  };
}
export type Lanes = ReturnType<typeof createLanes>;
