import type { Trx } from '../tables.js';

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
  /** Takes the audit chain head's lock, held until the transaction ends. */
  lockAuditHead(trx: Trx): Promise<void>;
  /** Classifies a driver error so `translate-error.ts` can map it to an error code. */
  classify(error: unknown): ErrorClass;
};
