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

/** An audit event waiting for its place in the chain: everything but what the chain's head decides. */
export type AuditLink = {
  row: Omit<AuditEventsTable, 'seq' | 'ts' | 'prev_hash' | 'hash'>;
  /** The event's time, unless the head's is later (a time range must map onto a seq range). */
  now: number;
  /** The hash of the row once seq, ts and prev_hash are set: HMAC-SHA256 with the chain key. */
  hash: (row: Omit<AuditEventsTable, 'hash'>) => string;
  /**
   * The chain key in HMAC's inner and outer pads (hex), for a database that hashes the canonical JSON itself:
   * HMAC(key, text) = sha256(outer || sha256(inner || text)), so plain SHA-256 computes it exactly.
   */
  pads: { inner: string; outer: string };
  /**
   * The canonical JSON the hash covers, cut where prev_hash, seq and ts go: `[a, b, c, d]` with
   * `a + prev_hash + b + seq + c + ts + d` the text to hash, for a database that hashes it itself.
   */
  canonicalParts: () => [string, string, string, string];
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
   * Appends one event to the audit chain (and writes the change's outbox row, when it has one): takes the
   * head's lock, held until the transaction ends, gives the row the next seq, a ts not before the head's and
   * the head's hash as prev_hash, hashes it (HMAC with the chain key) and moves the head. Must be the transaction's last statement. On
   * PostgreSQL all of it is one statement (the database hashes the canonical JSON it is given) sent with the
   * COMMIT (postgres-commit.ts): the lock is held for that statement and the commit only, and a failure to
   * append surfaces when the transaction commits.
   */
  appendAudit(trx: Trx, link: AuditLink, event?: OutboxTable): Promise<void>;
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
