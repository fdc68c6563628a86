import { fromJson, toIso } from '../../db/codecs.js';
import type { ExpressionBuilder } from 'kysely';
import type { AuditStreamsTable, Queryable, Tables } from '../../db/tables.js';
import type { AuditStream } from './schemas.js';

/** A stream row without its secret: what every read but the relay's sees. */
export type StreamRow = Omit<AuditStreamsTable, 'secret'>;

const PUBLIC_COLUMNS = [
  'id',
  'name',
  'url',
  'actions',
  'status',
  'last_seq',
  'last_error',
  'failures',
  'next_attempt_at',
  'lock_token',
  'locked_until',
  'created_by',
  'created_at',
  'updated_at',
] as const;

/** The API shape of a row, `lag` measured against the audit head `head`. */
export function toAuditStream(row: StreamRow, head: number): AuditStream {
  const lastSeq = Number(row.last_seq);
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    actions: row.actions === null ? ['*'] : fromJson<string[]>(row.actions),
    status: row.status,
    last_seq: lastSeq,
    lag: Math.max(0, head - lastSeq),
    last_error: row.last_error,
    created_at: toIso(Number(row.created_at)),
    updated_at: toIso(Number(row.updated_at)),
    created_by: row.created_by,
  };
}

export type StreamPatch = Partial<Omit<AuditStreamsTable, 'id' | 'created_at' | 'secret'>> & {
  updated_at: number;
};

/** A stream a relay holds: its row with the secret it signs with. */
export type LeasedStream = AuditStreamsTable;

/** The rows as the API reads and changes them. */
function rows() {
  return {
    async insert(q: Queryable, row: AuditStreamsTable): Promise<void> {
      await q.insertInto('audit_streams').values(row).execute();
    },
    async find(q: Queryable, id: string): Promise<StreamRow | undefined> {
      return q.selectFrom('audit_streams').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst();
    },
    async update(q: Queryable, id: string, patch: StreamPatch): Promise<StreamRow | undefined> {
      return q
        .updateTable('audit_streams')
        .set(patch)
        .where('id', '=', id)
        .returning(PUBLIC_COLUMNS)
        .executeTakeFirst();
    },
    async delete(q: Queryable, id: string): Promise<void> {
      await q.deleteFrom('audit_streams').where('id', '=', id).execute();
    },
    /** A page by id after `afterId`; fetches `limit + 1`. */
    async list(q: Queryable, afterId: string | null, limit: number): Promise<StreamRow[]> {
      let query = q
        .selectFrom('audit_streams')
        .select(PUBLIC_COLUMNS)
        .orderBy('id')
        .limit(limit + 1);
      if (afterId !== null) query = query.where('id', '>', afterId);
      return query.execute();
    },
  };
}

/**
 * The relay's lease: `lock_token` + `locked_until` on the row, taken by one conditional UPDATE (free or
 * expired), renewed while sending; every write of the relay is fenced by its token, so a relay whose lease ran
 * out cannot move a cursor another relay now owns.
 */
function leases() {
  return { ...leaseClaims(), ...leaseWrites() };
}

/** Taking leases on due streams, and whether any stream could be due. */
function leaseClaims() {
  return {
    /**
     * Leases every active stream that is due, behind `belowSeq` (the audit head), and not leased by a live
     * relay, in one statement: two relays running it at once never both get a row (PostgreSQL re-checks the
     * condition on the row it waited for; SQLite has one writer). A read first, so an idle poll writes nothing
     * (on SQLite every UPDATE takes the one write lock, even one that matches no row).
     */
    async claim(
      q: Queryable,
      lease: { token: string; now: number; until: number; belowSeq: number },
    ): Promise<LeasedStream[]> {
      const due = (eb: ExpressionBuilder<Tables, 'audit_streams'>) =>
        eb.and([
          eb('status', '=', 'active'),
          eb('next_attempt_at', '<=', lease.now),
          eb('last_seq', '<', lease.belowSeq),
          eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', lease.now)]),
        ]);
      const any = await q.selectFrom('audit_streams').select('id').where(due).limit(1).executeTakeFirst();
      if (!any) return [];
      const rows = await q
        .updateTable('audit_streams')
        .set({ lock_token: lease.token, locked_until: lease.until })
        .where(due)
        .returningAll()
        .execute();
      return rows.map((r) => ({ ...r, last_seq: Number(r.last_seq) }));
    },

    /** Whether any stream is active: while none is, the relay's wake-ups after commits need no query. */
    async anyActive(q: Queryable): Promise<boolean> {
      const row = await q
        .selectFrom('audit_streams')
        .select('id')
        .where('status', '=', 'active')
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}

/** The writes a leaseholder makes: renewal, the fenced settle, and release. */
function leaseWrites() {
  return {
    /** Extends the leases this relay still holds; a stream leased by another since is left alone. */
    async renew(q: Queryable, lease: { token: string; ids: string[]; until: number }): Promise<void> {
      if (lease.ids.length === 0) return;
      await q
        .updateTable('audit_streams')
        .set({ locked_until: lease.until })
        .where('id', 'in', lease.ids)
        .where('lock_token', '=', lease.token)
        .execute();
    },

    /**
     * The relay's write after an attempt, fenced: applied only while it holds the lease and the cursor is still
     * where it read from (a resume or a replay meanwhile wins). Returns the row after, or undefined when fenced out.
     */
    async settle(
      q: Queryable,
      at: { id: string; token: string; fromSeq: number },
      patch: StreamPatch,
    ): Promise<StreamRow | undefined> {
      return q
        .updateTable('audit_streams')
        .set(patch)
        .where('id', '=', at.id)
        .where('lock_token', '=', at.token)
        .where('last_seq', '=', at.fromSeq)
        .returning(PUBLIC_COLUMNS)
        .executeTakeFirst();
    },

    /** Gives back one lease (`ids`) or all of this relay's. */
    async release(q: Queryable, token: string, ids?: string[]): Promise<number> {
      let query = q
        .updateTable('audit_streams')
        .set({ lock_token: null, locked_until: null })
        .where('lock_token', '=', token);
      if (ids) {
        if (ids.length === 0) return 0;
        query = query.where('id', 'in', ids);
      }
      const res = await query.executeTakeFirst();
      return Number(res.numUpdatedRows);
    },
  };
}

/** The SQL of audit streams, the relay's lease included. */
export function createAuditStreamsStore() {
  return { ...rows(), ...leases() };
}
export type AuditStreamsStore = ReturnType<typeof createAuditStreamsStore>;
