import { sql, type Kysely } from 'kysely';
import type { Tables, Trx } from '../../db/tables.js';

/** One unit of a group: its statements, and how its caller is answered. */
export type Unit<R> = {
  run(trx: Trx): Promise<R>;
  resolve(result: R): void;
  reject(error: unknown, phase: 'before' | 'after'): void;
};

/** What a group does once its units have run: the journal append, the last statements before the COMMIT. */
export type Finish<R> = (trx: Trx, results: R[]) => Promise<void>;

/** At most this many changes share one transaction, so one group never holds the writer for long. */
export const MAX_GROUP = 64;

/**
 * Group commit for a database with one writer (SQLite): the units waiting when the writer is free run in one
 * transaction, each inside its own SAVEPOINT, so one unit's failure (a 409, a constraint) rolls back that
 * unit alone and is answered at once, while the rest commit together. `finish` appends their journal rows
 * last; every caller is answered only after the COMMIT that holds its unit. Nothing waits for a group to
 * fill: a group is whatever arrived while the one before it ran, or in the same turn of the event loop, so a
 * lone change commits after one turn.
 */
export function createGroupWriter<R>(
  db: Kysely<Tables>,
  finish: Finish<R>,
  opts: { lockedOut: (error: unknown) => boolean },
) {
  const queue: Unit<R>[] = [];
  let running = false;
  const stats = { groups: 0, units: 0, largest: 0, rolledBack: 0 };

  async function runGroup(group: Unit<R>[]): Promise<void> {
    const done: Array<{ unit: Unit<R>; result: R }> = [];
    const failed = new Set<Unit<R>>();
    try {
      await db.transaction().execute(async (trx) => {
        for (const [i, unit] of group.entries()) {
          const result = await runUnit(trx, unit, group.length > 1 ? i : null);
          if (result.ok) done.push({ unit, result: result.value });
          else failed.add(unit);
        }
        if (done.length > 0)
          await finish(
            trx,
            done.map((d) => d.result),
          );
      });
    } catch (error) {
      // Nothing of the group committed. Units that ran are told so ('after': their own work was done); the
      // others get the error as if it were theirs, since nothing of theirs happened either.
      const ran = new Set(done.map((d) => d.unit));
      for (const unit of group) if (!failed.has(unit)) unit.reject(error, ran.has(unit) ? 'after' : 'before');
      // The BEGIN waited its whole budget for another process's write lock: the writes that queued meanwhile
      // are answered at once (503, retry later) instead of each waiting a budget of its own behind it.
      if (ran.size === 0 && failed.size === 0 && opts.lockedOut(error))
        for (const unit of queue.splice(0)) unit.reject(error, 'before');
      return;
    }
    stats.groups += 1;
    stats.units += group.length;
    stats.largest = Math.max(stats.largest, group.length);
    if (group.length > 1) stats.rolledBack += failed.size;
    for (const d of done) d.unit.resolve(d.result);
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) await runGroup(queue.splice(0, MAX_GROUP));
    } finally {
      running = false;
    }
  }

  return {
    /** Queues `unit` for the next group; it is answered through its `resolve` or `reject`. */
    submit(unit: Unit<R>): void {
      queue.push(unit);
      if (running) return;
      running = true;
      // One turn of the event loop first: the requests read in the same turn reach the queue (their reads
      // run on the shared connection, which an open group would hold) and commit with this one.
      setImmediate(() => void drain());
    },
    /**
     * Since start: groups committed, units in them, the largest group, and units that failed inside a group of
     * several and were rolled back to their savepoint while the rest committed (for metrics and tests).
     */
    stats: () => ({ ...stats }),
  };
}

/**
 * Runs one unit; inside a group (`savepoint` set), within a SAVEPOINT that its failure rolls back to. A lone
 * unit needs none: its failure rolls back the whole transaction, which holds nothing else.
 */
async function runUnit<R>(
  trx: Trx,
  unit: Unit<R>,
  savepoint: number | null,
): Promise<{ ok: true; value: R } | { ok: false }> {
  const name = sql.raw(`unit_${savepoint ?? 0}`);
  if (savepoint === null) return { ok: true, value: await unit.run(trx) };
  await sql`savepoint ${name}`.execute(trx);
  try {
    const value = await unit.run(trx);
    await sql`release ${name}`.execute(trx);
    return { ok: true, value };
  } catch (error) {
    // SQLite undoes a failed statement by itself; rolling back to the savepoint undoes the unit's others.
    await sql`rollback to ${name}`.execute(trx);
    await sql`release ${name}`.execute(trx);
    unit.reject(error, 'before');
    return { ok: false };
  }
}
