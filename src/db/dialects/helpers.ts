import type { CompiledQuery, RawBuilder } from 'kysely';
import type { AuditEventsTable, DeliveriesTable, OutboxTable, Queryable, Trx } from '../tables.js';

export type Dialect = 'sqlite' | 'postgres';

/** What a driver error means to the application. */
export type ErrorClass =
  | { kind: 'unique'; key: string }
  | { kind: 'foreign_key'; key: string }
  | { kind: 'not_null'; key: string }
  | { kind: 'busy' }
  | { kind: 'unavailable' }
  | { kind: 'timeout' }
  | { kind: 'invalid_input' }
  | { kind: 'other' };

/** An audit event's stored columns but those the chain's head decides (seq, ts, prev_hash, hash). */
export type AuditLinkRow = Omit<AuditEventsTable, 'seq' | 'ts' | 'prev_hash' | 'hash'>;

/** An audit event for a database that hashes the link itself (`appendAuditInSql`). */
export type SqlAuditLink = {
  row: AuditLinkRow;
  /** The event's time, unless the head's is later (a time range must map onto a seq range). */
  now: number;
  /**
   * The chain key in HMAC's inner and outer pads (hex): HMAC(key, text) = sha256(outer || sha256(inner ||
   * text)), so the database's plain SHA-256 computes it exactly.
   */
  pads: { inner: string; outer: string };
  /** The canonical JSON the hash covers, cut where prev_hash, seq and ts go (`canonicalParts`). */
  canonicalParts: [string, string, string, string];
};

/**
 * Runs a query of one text column whose values hold no control characters (JSON text never does) and returns
 * each row's text followed by a newline, as the raw bytes the database sent: no JavaScript string per row.
 */
export type CopyText = (query: CompiledQuery) => Promise<Buffer[]>;

/** Everything that cannot be written once with Kysely's builder, one implementation per dialect. */
export type DialectHelpers = {
  dialect: Dialect;
  /**
   * Reads the chain's head and takes its lock, held until the transaction ends: `FOR UPDATE` on PostgreSQL;
   * on SQLite the transaction's `BEGIN IMMEDIATE` already made it the only writer.
   */
  lockAuditHead(trx: Trx): Promise<{ seq: number; hash: string; ts: number }>;
  /**
   * Where the database can hash a link itself: appends one event (and the change's outbox row) in one
   * statement sent with the COMMIT, so the head's lock is held for that statement and the commit only, inside
   * the database. Must be the transaction's last statement; a failure to append is the commit's failure.
   */
  appendAuditInSql?: (trx: Trx, link: SqlAuditLink, event?: OutboxTable) => Promise<void>;
  /**
   * Tells other processes' relays, at COMMIT, that outbox events were written (PostgreSQL NOTIFY); absent where
   * every writer shares one process (SQLite: the journal wakes the relay itself).
   */
  announceOutbox?: (trx: Trx) => Promise<void>;
  /**
   * Leases at most `limit` due deliveries (pending and due, or delivering with an expired lease) to one
   * worker, fenced by `lockToken`, in due order: at most `perFastWebhook` of each endpoint in `fastWebhooks`,
   * `perWebhook` of any other, none of `skipWebhooks`. `FOR UPDATE SKIP LOCKED` on PostgreSQL, the single
   * writer on SQLite. One statement, atomic by itself: run it outside a transaction (a BEGIN and a COMMIT
   * would be two more round trips per claim).
   */
  claimDeliveries(
    q: Queryable,
    opts: {
      now: number;
      leaseUntil: number;
      lockToken: string;
      limit: number;
      perWebhook: number;
      fastWebhooks: string[];
      perFastWebhook: number;
      skipWebhooks: string[];
    },
  ): Promise<DeliveriesTable[]>;
  /** Extends one worker's lease on the deliveries it holds, skipping rows locked by another transaction. One statement. */
  renewDeliveries(q: Queryable, opts: { lockToken: string; ids: string[]; until: number }): Promise<number>;
  /**
   * Takes undispatched outbox events for fan-out, oldest first, skipping ones another worker holds, and
   * marks them dispatched at `now` in the same statement (the fan-out's transaction makes that final).
   */
  claimOutbox(trx: Trx, limit: number, now: number): Promise<OutboxTable[]>;
  /**
   * Deletes up to `limit` finished deliveries last changed before `cutoff` and returns how many went; a
   * delivery requeued meanwhile (`recover`) is never deleted: rows another transaction holds are skipped.
   */
  purgeDeliveries(q: Queryable, cutoff: number, limit: number): Promise<number>;
  /**
   * SQL for a text column as JSON text, quoted and escaped exactly as `JSON.stringify` does, and `null` for
   * NULL: lets a query write JSON lines itself (the audit export) instead of building an object per row.
   */
  jsonText(column: string): RawBuilder<string>;
  /** SQL for an epoch-milliseconds column as `Date.prototype.toISOString()` writes it (UTC, milliseconds). */
  isoText(column: string): RawBuilder<string>;
  /** Classifies a driver error so `translate-error.ts` can map it to an error code. */
  classify(error: unknown): ErrorClass;
};
