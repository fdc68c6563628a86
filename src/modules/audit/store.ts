import type { Expression, SqlBool } from 'kysely';
import type { CopyText, DialectHelpers } from '../../db/dialects/helpers.js';
import type { AuditEventsTable, AuditHeadTable, Queryable } from '../../db/tables.js';
import { exportLineSql, toAuditEvent, type AuditEvent } from '../journal/event.js';

/** Filters resolved to column conditions; the service turns the query string into these. */
export type AuditFilters = {
  actor?: string;
  /** Each item matches when any of its set fields equals: an exact action, a prefix, a resource or a verb. */
  actions?: { action?: string; prefix?: string; resource?: string; verb?: string }[];
  targetType?: string;
  targetId?: string;
  outcome?: AuditEventsTable['outcome'];
  /**
   * Inclusive seq bounds derived from since/until. `ts` never decreases along `seq` (append takes the head's
   * lock and never moves time back), so these alone select the window; repeating it as `ts` conditions made
   * the PostgreSQL planner pick the ts index and sort (bench/RESULTS.md, audit, 7).
   */
  fromSeq?: number;
  toSeq?: number;
};

/**
 * Folds a keyset position into the seq bounds, so each side has one bound: SQLite uses only the first lower
 * bound of a pair for the index range and filters the other row by row, which made an export with `since`
 * rescan from `since` on every batch (bench/RESULTS.md, audit, 6).
 */
function withLowerBound(f: AuditFilters, afterSeq: number, order: Keyset['order']): AuditFilters {
  if (order === 'asc') return { ...f, fromSeq: Math.max(afterSeq + 1, f.fromSeq ?? 0) };
  return { ...f, toSeq: Math.min(afterSeq - 1, f.toSeq ?? Number.MAX_SAFE_INTEGER) };
}

export type Keyset = { order: 'asc' | 'desc'; afterSeq: number | null };

/** The events matching the filters, every column selected. */
function select(q: Queryable, f: AuditFilters) {
  let query = q.selectFrom('audit_events').selectAll();
  if (f.actor !== undefined) query = query.where('actor', '=', f.actor);
  if (f.outcome !== undefined) query = query.where('outcome', '=', f.outcome);
  if (f.targetId !== undefined) query = query.where('target_id', '=', f.targetId);
  if (f.targetType !== undefined) query = query.where('target_type', '=', f.targetType);
  if (f.fromSeq !== undefined) query = query.where('seq', '>=', f.fromSeq);
  if (f.toSeq !== undefined) query = query.where('seq', '<=', f.toSeq);
  const actions = f.actions;
  if (actions && actions.length > 0) {
    query = query.where((eb) =>
      eb.or(
        actions.map((a): Expression<SqlBool> => {
          if (a.action !== undefined) return eb('action', '=', a.action);
          // `auth.mfa.*`: every action under `auth.mfa.`, as a range ('/' follows '.'), the same on both dialects.
          if (a.prefix !== undefined)
            return eb.and([eb('action', '>=', a.prefix), eb('action', '<', `${a.prefix.slice(0, -1)}/`)]);
          if (a.resource !== undefined) return eb('resource', '=', a.resource);
          return eb('verb', '=', a.verb ?? '');
        }),
      ),
    );
  }
  return query;
}

/** Reading events: a page, a count, one by id. */
function eventReads() {
  return {
    /** One page in seq order after the keyset; fetches `limit + 1`. */
    async list(q: Queryable, f: AuditFilters, keyset: Keyset, limit: number): Promise<AuditEvent[]> {
      const bounded = keyset.afterSeq === null ? f : withLowerBound(f, keyset.afterSeq, keyset.order);
      return (
        await select(q, bounded)
          .orderBy('seq', keyset.order)
          .limit(limit + 1)
          .execute()
      ).map(toAuditEvent);
    },

    async count(q: Queryable, f: AuditFilters): Promise<number> {
      const row = await select(q, f)
        .clearSelect()
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /** How many events match, counting no further than `cap` (the count stops reading there). */
    async countUpTo(q: Queryable, f: AuditFilters, cap: number): Promise<number> {
      const matching = select(q, f).clearSelect().select('seq').limit(cap).as('m');
      const row = await q
        .selectFrom(matching)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async findById(q: Queryable, id: string): Promise<AuditEvent | undefined> {
      const row = await q.selectFrom('audit_events').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toAuditEvent(row);
    },
  };
}

/** Reading events in bounded batches for export and verification: rows, export lines, or raw bytes. */
function exportReads(lineSql: ReturnType<typeof exportLineSql>, copyText: CopyText | null) {
  return {
    /** Raw rows in ascending seq after `afterSeq`, for export and verification in bounded batches. */
    async batch(q: Queryable, f: AuditFilters, afterSeq: number, size: number): Promise<AuditEventsTable[]> {
      return select(q, withLowerBound(f, afterSeq, 'asc'))
        .orderBy('seq', 'asc')
        .limit(size)
        .execute();
    },

    /** Export lines (`exportLineSql`, written by the database) in ascending seq after `afterSeq`. */
    async lines(
      q: Queryable,
      f: AuditFilters,
      afterSeq: number,
      size: number,
    ): Promise<{ seq: number; line: string }[]> {
      return select(q, withLowerBound(f, afterSeq, 'asc'))
        .clearSelect()
        .select(['seq', lineSql.as('line')])
        .orderBy('seq', 'asc')
        .limit(size)
        .execute();
    },

    /**
     * Export lines of the events matching `f` with seq in `[fromSeq, toSeq]` (a range inside the filter's own
     * seq bounds), oldest first, as raw bytes, each line ending in a newline; null where the database has no
     * bulk text read (then use `lines`).
     */
    lineBytes:
      copyText &&
      (async (q: Queryable, f: AuditFilters, fromSeq: number, toSeq: number): Promise<Buffer[]> =>
        copyText(
          select(q, { ...f, fromSeq, toSeq })
            .clearSelect()
            .select(lineSql.as('line'))
            .orderBy('seq', 'asc')
            .compile(),
        )),
  };
}

/** Finding seq positions: the stored range, and the bounds of a time window. */
function seqLookups() {
  return {
    /** The lowest and highest seq stored, or undefined for an empty log. */
    async seqRange(q: Queryable): Promise<{ first: number; last: number } | undefined> {
      const row = await q
        .selectFrom('audit_events')
        .select((eb) => [eb.fn.min('seq').as('first'), eb.fn.max('seq').as('last')])
        .executeTakeFirst();
      return row?.first == null || row.last == null
        ? undefined
        : { first: Number(row.first), last: Number(row.last) };
    },

    /** The first seq with `ts >= since` (ts never decreases along seq, so this is one index probe). */
    async firstSeqAtOrAfter(q: Queryable, ts: number): Promise<number | undefined> {
      const row = await q
        .selectFrom('audit_events')
        .select('seq')
        .where('ts', '>=', ts)
        .orderBy('ts', 'asc')
        .orderBy('seq', 'asc')
        .limit(1)
        .executeTakeFirst();
      return row && Number(row.seq);
    },

    /** The last seq with `ts < until`. */
    async lastSeqBefore(q: Queryable, ts: number): Promise<number | undefined> {
      const row = await q
        .selectFrom('audit_events')
        .select('seq')
        .where('ts', '<', ts)
        .orderBy('ts', 'desc')
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row && Number(row.seq);
    },
  };
}

/** The chain's head: reading it and an event's hash, and sealing it. */
function chainHead() {
  return {
    async head(q: Queryable): Promise<AuditHeadTable> {
      const head = await q.selectFrom('audit_head').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
      return {
        ...head,
        seq: Number(head.seq),
        ts: Number(head.ts),
        anchor_seq: Number(head.anchor_seq),
        keyed_from: head.keyed_from === null ? null : Number(head.keyed_from),
      };
    },

    /** The stored hash of the event at `seq`, if there is one. */
    async hashAt(q: Queryable, seq: number): Promise<string | undefined> {
      const row = await q.selectFrom('audit_events').select('hash').where('seq', '=', seq).executeTakeFirst();
      return row?.hash;
    },

    /**
     * Seals an unsealed chain as keyed from `seq + 1`, if the head is still at `seq` and still unsealed (so
     * two instances starting together seal once, and no append slips in between). True when it did.
     */
    async seal(
      q: Queryable,
      seq: number,
      seal: { keyedFrom: number; mac: string; keyId: string },
    ): Promise<boolean> {
      const res = await q
        .updateTable('audit_head')
        .set({ keyed_from: seal.keyedFrom, keyed_mac: seal.mac, key_id: seal.keyId })
        .where('id', '=', 1)
        .where('seq', '=', seq)
        .where('keyed_mac', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) === 1;
    },
  };
}

/** Retention: where a purge may stop, and purging through there. */
function retentionWrites() {
  return {
    /** The newest seq among events older than `beforeTs`, up to `max` events past the anchor. */
    async purgeBoundary(
      q: Queryable,
      beforeTs: number,
      anchorSeq: number,
      max: number,
    ): Promise<{ seq: number; hash: string } | undefined> {
      const row = await q
        .selectFrom('audit_events')
        .select(['seq', 'hash'])
        .where('ts', '<', beforeTs)
        .where('seq', '<=', anchorSeq + max)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row && { seq: Number(row.seq), hash: row.hash };
    },

    /** Deletes every event up to `seq` and moves the chain's anchor there. */
    async purgeThrough(q: Queryable, through: { seq: number; hash: string }): Promise<number> {
      const res = await q.deleteFrom('audit_events').where('seq', '<=', through.seq).executeTakeFirst();
      await q
        .updateTable('audit_head')
        .set({ anchor_seq: through.seq, anchor_hash: through.hash })
        .where('id', '=', 1)
        .execute();
      return Number(res.numDeletedRows);
    },
  };
}

/** The audit log's SQL, one sub-factory per use case; `copyText` where the database has a bulk text read. */
export function createAuditStore(
  helpers: Pick<DialectHelpers, 'jsonText' | 'isoText'>,
  copyText: CopyText | null = null,
) {
  return {
    ...eventReads(),
    ...exportReads(exportLineSql(helpers), copyText),
    ...seqLookups(),
    ...chainHead(),
    ...retentionWrites(),
  };
}
export type AuditStore = ReturnType<typeof createAuditStore>;
