/**
 * Latency: `rate` `POST /api/users` a second, open loop (each request leaves at its scheduled time whether
 * or not earlier ones have answered), for `warmupS + durationS`. For every event: the time from the 201
 * (the change has committed) to its arrival at the receiver, matched by the user id in the delivered
 * body's `data.id`. Events of the warmup are delivered but not counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { nowMs, type BenchDb, type EventTrace } from './db.js';
import type { Receiver } from './procs.js';
import type { Gatehouse } from './server.js';
import { bursts, histogram, summarize, type Bursts, type Summary } from './stats.js';

type Sent = {
  i: number;
  scheduled: number;
  sent: number;
  answered: number;
  status: number;
  userId: string | null;
};

export type LatencyResult = {
  rate: number;
  warmupS: number;
  durationS: number;
  requests: number;
  created: number;
  non201: number;
  errors: number;
  /** Requests per second actually sent over the measured window. */
  achievedRate: number;
  /** How late requests left against their schedule (ms): the pacing held when this stays small. */
  sendLag: Summary;
  /** Request → 201 (ms). */
  api: Summary;
  /** 201 → arrival at the receiver (ms), measured events only. */
  commitToDelivery: Summary;
  /** commitToDelivery by the second of the measured window the request was sent in: a growing backlog shows. */
  perSecond: { second: number; n: number; p50: number; p99: number }[];
  /** Measured events that never arrived before the timeout. */
  missing: number;
  /** From the first request on, per second: 201s received, and deliveries arrived (warmup included). */
  timeline: { answered: number[]; arrived: number[] };
  duplicates: number;
  connectionsUsed: number;
  bursts: Bursts;
  /** Where the time went, from the server's own timestamps (ms; see `Breakdown`). */
  breakdown: Breakdown | null;
};

/**
 * Per measured event, from `outbox` / `delivery_attempts` (server clock, whole ms):
 * - `commitToFanOut`: `outbox.created_at` → `dispatched_at`, waiting for a worker round to pick the event up;
 * - `fanOutToSend`: `dispatched_at` → the send's start (`attempted_at − latency_ms`): waiting for a claim
 *   (one per round, at most `CLAIM_BATCH`, none for an endpoint with 8 sends in flight), and the endpoint lookup;
 * - `send`: `latency_ms`, the HTTP request itself.
 *
 * And over every event of the phase (warmup included), the worker's rounds: a round runs
 * `while (await fanOut() > 0)`, then one claim, then sleeps 200 ms. Fan-out transactions are the distinct
 * `dispatched_at` values; a claim shows as sends starting. So a round is a run of fan-out transactions with
 * no send starting between them, and its fan-out loop lasts from its first to its last transaction.
 */
export type Breakdown = {
  traced: number;
  commitToFanOut: Summary;
  fanOutToSend: Summary;
  send: Summary;
  createdToAnswer: Summary;
  fanOutTransactions: number;
  eventsPerFanOut: Summary;
  rounds: number;
  roundPeriodMs: Summary;
  /** First to last fan-out transaction of each round: the claim waits for this loop to find the outbox empty. */
  fanOutLoopMs: Summary;
  /** The longest time with no send starting (ms), and when it began (ms after the phase's first fan-out). */
  longestWithoutSend: { ms: number; from: number };
  /** Each round: start (ms after the first), fan-out loop length (ms), fan-out transactions, events fanned out. */
  roundLog: { at: number; loopMs: number; fanOuts: number; events: number }[];
  /** `CLAIM_BATCH` (100) per median round period, per second: the most one worker sends at that round rate. */
  claimCeilingPerSecond: number;
  retried: number;
};

/** src/modules/webhooks/worker.ts: deliveries leased per claim, one claim per round. */
export const CLAIM_BATCH = 100;

function rounds(traces: EventTrace[]) {
  const perFanOut = new Map<number, number>();
  for (const t of traces) perFanOut.set(t.dispatchedAt, (perFanOut.get(t.dispatchedAt) ?? 0) + 1);
  const at = [...perFanOut.keys()].sort((a, b) => a - b);
  const sends = traces.map((t) => t.attemptedAt - t.sendMs).sort((a, b) => a - b);
  // Index of the first send start after each fan-out: a round ends where the next fan-out comes after it.
  let k = 0;
  const log: { at: number; loopMs: number; fanOuts: number; events: number }[] = [];
  let cur: { first: number; last: number; fanOuts: number; events: number } | null = null;
  for (const a of at) {
    while (k < sends.length && sends[k]! < a) k++;
    const claimedSince = cur !== null && sends[k - 1] !== undefined && sends[k - 1]! > cur.last;
    if (cur === null || claimedSince) {
      if (cur)
        log.push({ at: cur.first, loopMs: cur.last - cur.first, fanOuts: cur.fanOuts, events: cur.events });
      cur = { first: a, last: a, fanOuts: 0, events: 0 };
    }
    cur.last = a;
    cur.fanOuts++;
    cur.events += perFanOut.get(a)!;
  }
  if (cur)
    log.push({ at: cur.first, loopMs: cur.last - cur.first, fanOuts: cur.fanOuts, events: cur.events });
  const t0 = log[0]?.at ?? 0;
  // From the phase's first fan-out on: a worker that never leaves its fan-out loop sends nothing at all.
  const marks = [t0, ...sends.filter((x) => x >= t0)];
  let longest = { ms: 0, from: 0 };
  for (let i = 1; i < marks.length; i++) {
    if (marks[i]! - marks[i - 1]! > longest.ms)
      longest = { ms: marks[i]! - marks[i - 1]!, from: marks[i - 1]! - t0 };
  }
  return { perFanOut, log: log.map((r) => ({ ...r, at: r.at - t0 })), longest };
}

function breakdown(traces: EventTrace[], measured: Map<string, Sent>): Breakdown | null {
  const mine = traces.filter((t) => measured.has(t.dataId));
  if (mine.length === 0) return null;
  const r = rounds(traces);
  const roundPeriodMs = summarize(r.log.slice(1).map((x, i) => x.at - r.log[i]!.at));
  return {
    traced: mine.length,
    commitToFanOut: summarize(mine.map((t) => t.dispatchedAt - t.createdAt)),
    fanOutToSend: summarize(mine.map((t) => t.attemptedAt - t.sendMs - t.dispatchedAt)),
    send: summarize(mine.map((t) => t.sendMs)),
    createdToAnswer: summarize(mine.map((t) => measured.get(t.dataId)!.answered - t.createdAt)),
    fanOutTransactions: r.perFanOut.size,
    eventsPerFanOut: summarize([...r.perFanOut.values()]),
    rounds: r.log.length,
    roundPeriodMs,
    fanOutLoopMs: summarize(r.log.map((x) => x.loopMs)),
    longestWithoutSend: r.longest,
    roundLog: r.log,
    claimCeilingPerSecond: Math.round((CLAIM_BATCH * 1000) / roundPeriodMs.p50),
    retried: mine.filter((t) => t.attempts > 1).length,
  };
}

async function paced(g: Gatehouse, o: { rate: number; total: number; tag: string }): Promise<Sent[]> {
  const pool = new Pool(g.base, { connections: 64, pipelining: 1 });
  const sent: Sent[] = [];
  const inFlight = new Set<Promise<void>>();
  const fire = (i: number, scheduled: number) => {
    const s: Sent = { i, scheduled, sent: nowMs(), answered: Number.NaN, status: 0, userId: null };
    sent.push(s);
    const p = pool
      .request({
        method: 'POST',
        path: '/api/users',
        body: JSON.stringify({ username: `${o.tag}.lat.${i}` }),
        headers: { authorization: `Bearer ${g.token}`, 'content-type': 'application/json' },
      })
      .then(async (res) => {
        s.answered = nowMs();
        s.status = res.statusCode;
        const body = (await res.body.json()) as { id?: unknown };
        if (typeof body.id === 'string') s.userId = body.id;
      })
      .catch(() => {
        s.status = -1;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const start = nowMs() + 50;
  const every = 1000 / o.rate;
  let i = 0;
  while (i < o.total) {
    const now = nowMs();
    while (i < o.total && start + i * every <= now) {
      fire(i, start + i * every);
      i++;
    }
    await sleep(1);
  }
  await Promise.all([...inFlight]);
  await pool.close();
  return sent;
}

export async function runLatency(o: {
  g: Gatehouse;
  receiver: Receiver;
  db: BenchDb;
  rate: number;
  warmupS: number;
  durationS: number;
  tag: string;
  timeoutMs: number;
  log: (s: string) => void;
}): Promise<LatencyResult> {
  const { receiver, rate } = o;
  await receiver.reset();
  const phaseStart = Date.now();
  const warmupN = Math.round(rate * o.warmupS);
  const sent = await paced(o.g, { rate, total: warmupN + Math.round(rate * o.durationS), tag: o.tag });
  const created = sent.filter((s) => s.status === 201 && s.userId !== null);
  o.log(`  ${sent.length} requests sent, ${created.length} answered 201; waiting for their deliveries…`);
  await receiver.waitFor(created.length, o.timeoutMs);
  await sleep(1000); // each attempt is recorded just after its 2xx
  const stats = await receiver.stats();
  const dump = await receiver.dump();
  const arrival = new Map<string, number>();
  dump.dataIds.forEach((id, k) => {
    if (id !== null && !arrival.has(id)) arrival.set(id, dump.times[k]!);
  });

  const measured = new Map(created.filter((s) => s.i >= warmupN).map((s) => [s.userId!, s]));
  const latencies: { at: number; ms: number }[] = [];
  let missing = 0;
  for (const [id, s] of measured) {
    const t = arrival.get(id);
    if (t === undefined) missing++;
    else latencies.push({ at: s.sent, ms: t - s.answered });
  }
  const window = sent.filter((s) => s.i >= warmupN);
  const firstSent = window[0]?.sent ?? Number.NaN;
  const perSecond: LatencyResult['perSecond'] = [];
  for (let sec = 0; sec < o.durationS; sec++) {
    const inSec = latencies
      .filter((l) => l.at >= firstSent + sec * 1000 && l.at < firstSent + (sec + 1) * 1000)
      .map((l) => l.ms);
    const s = summarize(inSec);
    perSecond.push({ second: sec, n: s.n, p50: s.p50, p99: s.p99 });
  }
  const t0 = sent[0]?.sent ?? 0;
  const measuredTimes = dump.times.filter((_, k) => measured.has(dump.dataIds[k] ?? ''));
  return {
    rate,
    warmupS: o.warmupS,
    durationS: o.durationS,
    requests: sent.length,
    created: created.length,
    non201: sent.filter((s) => s.status !== 201 && s.status !== -1).length,
    errors: sent.filter((s) => s.status === -1).length,
    achievedRate: ((window.length - 1) / ((window.at(-1)?.sent ?? Number.NaN) - firstSent)) * 1000,
    sendLag: summarize(sent.map((s) => s.sent - s.scheduled)),
    api: summarize(created.map((s) => s.answered - s.sent)),
    commitToDelivery: summarize(latencies.map((l) => l.ms)),
    perSecond,
    missing,
    duplicates: stats.duplicates,
    timeline: {
      answered: histogram(
        created.map((c) => c.answered),
        t0,
        1000,
      ),
      arrived: histogram(dump.times, t0, 1000),
    },
    connectionsUsed: stats.connectionsUsed,
    bursts: bursts(measuredTimes, 20),
    breakdown: breakdown(await o.db.traces(phaseStart), measured),
  };
}
