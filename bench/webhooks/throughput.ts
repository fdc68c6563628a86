/**
 * Throughput: `n` `user.create` events committed to the outbox at once (one transaction, straight into the
 * database), then timed until the receiver has had every one of them.
 */
import type { BenchDb } from './db.js';
import type { Receiver } from './procs.js';
import { bursts, histogram, type Bursts } from './stats.js';

export type ThroughputResult = {
  n: number;
  delivered: number;
  /** The receiver got all `n` before the timeout. */
  complete: boolean;
  insertCommittedAt: number;
  /** Commit of the bulk insert to the first arrival: mostly the fan-out of all `n` events, done before any send. */
  firstMs: number;
  /** Commit to the last arrival. */
  totalMs: number;
  /** `n` over commit → last arrival. */
  perSecond: number;
  /** Over first → last arrival: the sending alone, fan-out excluded. */
  sendPerSecond: number;
  duplicates: number;
  connectionsUsed: number;
  bursts: Bursts;
  /** Arrivals per 100 ms from the first one. */
  per100ms: number[];
};

export async function runThroughput(o: {
  receiver: Receiver;
  db: BenchDb;
  n: number;
  tag: string;
  timeoutMs: number;
  log: (s: string) => void;
}): Promise<ThroughputResult> {
  const { receiver, db, n } = o;
  await receiver.reset();
  const committedAt = await db.insertOutbox(n, o.tag);
  o.log(`  ${n} events committed to the outbox; waiting for the receiver…`);
  const progress = setInterval(() => {
    void receiver.stats().then((s) => o.log(`  … ${s.count} delivered`));
  }, 5000);
  let done;
  try {
    done = await receiver.waitFor(n, o.timeoutMs);
  } finally {
    clearInterval(progress);
  }
  const stats = done ?? (await receiver.stats());
  const { times } = await receiver.dump();
  const first = times[0] ?? Number.NaN;
  const last = times.at(-1) ?? Number.NaN;
  return {
    n,
    delivered: stats.count,
    complete: done !== null,
    insertCommittedAt: committedAt,
    firstMs: first - committedAt,
    totalMs: last - committedAt,
    perSecond: (stats.count / (last - committedAt)) * 1000,
    sendPerSecond: ((stats.count - 1) / (last - first)) * 1000,
    duplicates: stats.duplicates,
    connectionsUsed: stats.connectionsUsed,
    bursts: bursts(times, 20),
    per100ms: histogram(times, first, 100),
  };
}
