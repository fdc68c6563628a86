import type { RawBuilder } from 'kysely';
import type { AuditEventsTable, DeliveriesTable, OutboxTable, Trx } from '../tables.js';

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

/** Everything that cannot be written once with Kysely's builder, one implementation per dialect. */
export type DialectHelpers = {
  dialect: Dialect;
  /** Takes the audit chain head's lock, held until the transaction ends, and reads the head. */
  lockAuditHead(trx: Trx): Promise<{ seq: number; hash: string; ts: number }>;
  /**
   * Inserts the audit row (and the change's outbox row, when it has one) and moves the head to it. On
   * PostgreSQL one statement: the head's lock is held from `lockAuditHead` to commit, so every round trip in
   * between makes every other write wait, and each costs both processes a wake-up (bench/RESULTS.md).
   */
  appendAuditRow(trx: Trx, row: AuditEventsTable, event?: OutboxTable): Promise<void>;
  /**
   * Leases due deliveries (pending and due, or delivering with an expired lease) to one worker, fenced by
   * `lockToken`: `FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite.
   */
  claimDeliveries(trx: Trx, opts: { now: number; leaseUntil: number; lockToken: string; limit: number; perWebhook: number; skipWebhooks: string[] }): Promise<DeliveriesTable[]>;
  /** Extends one worker's lease on the deliveries it holds, skipping rows locked by another transaction. */
  renewDeliveries(trx: Trx, opts: { lockToken: string; ids: string[]; until: number }): Promise<number>;
  /**
   * Takes undispatched outbox events for fan-out, oldest first, skipping ones another worker holds, and
   * marks them dispatched at `now` in the same statement (the fan-out's transaction makes that final).
   */
  claimOutbox(trx: Trx, limit: number, now: number): Promise<OutboxTable[]>;
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
