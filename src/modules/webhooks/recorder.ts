import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DeliveriesTable, DeliveryAttemptsTable, Tables } from '../../db/tables.js';
import type { WebhooksStore } from './store.js';

/** A finished attempt to record; `done` learns whether it was (false: the worker's lease had run out). */
export type Finished = {
  delivery: DeliveriesTable;
  attempt: DeliveryAttemptsTable;
  next: Partial<DeliveriesTable>;
  done: (recorded: boolean) => void;
};

type Deps = { db: Kysely<Tables>; store: WebhooksStore; lockToken: string; logger: Logger };

/**
 * Transactions that record attempts start at least this far apart (process time). A lone attempt is recorded
 * at once; under load the attempts of this long share one transaction: 4 round trips and one WAL flush on
 * PostgreSQL, where one per event-loop turn made the recording ~80 % of the worker's statements. An
 * endpoint's sending slot never waits for it: the slot frees when the answer is in.
 */
const RECORD_EVERY_MS = 25;

/**
 * Records a worker's attempts, fenced by its lock token, in batches: the attempts finished in the same turn of
 * the event loop, or while the last batch's transaction is younger than RECORD_EVERY_MS, share one
 * transaction (two statements per status code, one per failure).
 */
export function createAttemptRecorder({ db, store, lockToken, logger }: Deps) {
  let finished: Finished[] = [];
  let flushing: Promise<void> | undefined;
  let lastFlushAt = Number.NEGATIVE_INFINITY;

  async function flush(): Promise<void> {
    const batch = finished;
    finished = [];
    flushing = undefined;
    lastFlushAt = performance.now();
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
          for (const id of await store.finishSucceeded(
            trx,
            lockToken,
            code,
            at,
            group.map((f) => f.attempt),
          ))
            out.add(id);
        }
        for (const f of others)
          if (await store.finishAttempt(trx, { id: f.delivery.id, lockToken }, f.attempt, f.next))
            out.add(f.delivery.id);
        return out;
      });
      for (const f of batch) f.done(recorded.has(f.delivery.id));
    } catch (err) {
      // Not recorded: the leases run out and the deliveries are sent again (at least once).
      logger.warn(
        { err, deliveries: batch.length },
        'could not record webhook attempts; they will be retried when their lease expires',
      );
      for (const f of batch) f.done(false);
    }
  }

  /** Queues an attempt for the next event-loop turn's transaction. */
  const record = (f: Finished): void => {
    finished.push(f);
    if (flushing) return;
    const wait = lastFlushAt + RECORD_EVERY_MS - performance.now();
    flushing = new Promise<void>((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r))).then(flush);
  };
  /** Resolves once the attempts queued so far are recorded (or given up). Never rejects. */
  const settled = async (): Promise<void> => {
    if (flushing) await flushing;
  };
  return { record, settled };
}
