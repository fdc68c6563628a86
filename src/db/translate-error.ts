import { AppError, type ErrorCode } from '../errors.js';
import type { DialectHelpers } from './dialects/helpers.js';

/** Unique keys (`table.column`) with a code of their own; any other duplicate is a plain `conflict`. */
const UNIQUE_CODES: Record<string, { code: ErrorCode; detail: string }> = {
  'users.username': { code: 'user.username_taken', detail: 'A user with this username already exists.' },
  'roles.name': { code: 'role.name_taken', detail: 'A role with this name already exists.' },
  'audit_streams.name': {
    code: 'audit_stream.name_taken',
    detail: 'An audit stream with this name already exists.',
  },
  'auth_providers.name': {
    code: 'auth_provider.name_taken',
    detail: 'An identity provider with this name already exists.',
  },
  // Two instances wrote the same settings version at once: the loser's If-Match is stale.
  'config_versions.version': {
    code: 'precondition_failed',
    detail: 'The settings changed meanwhile; read them again.',
  },
  'config_versions.pkey': {
    code: 'precondition_failed',
    detail: 'The settings changed meanwhile; read them again.',
  },
};

/** Seconds a client should wait before retrying after the database was busy or unreachable. */
export const DB_RETRY_AFTER_S = 2;

/**
 * Turns a driver error into an `AppError`; anything else passes through unchanged. The only place
 * driver errors are interpreted (called from `change.ts` and the error handler).
 */
export function translateDbError(helpers: DialectHelpers, error: unknown): unknown {
  if (error instanceof AppError) return error;
  const c = helpers.classify(error);
  switch (c.kind) {
    case 'unique': {
      const known = UNIQUE_CODES[c.key];
      return new AppError(
        known?.code ?? 'conflict',
        known?.detail ?? `A value of ${c.key} is already in use.`,
        {},
        { cause: error },
      );
    }
    case 'foreign_key':
      return new AppError(
        'conflict',
        'The change refers to something that does not exist, or is still referred to.',
        {},
        { cause: error },
      );
    case 'not_null':
      return new AppError('unprocessable', `${c.key} is required.`, {}, { cause: error });
    case 'busy':
      return new AppError(
        'unavailable',
        'The database is busy; retry shortly.',
        { retry_after_s: DB_RETRY_AFTER_S },
        { cause: error },
      );
    case 'unavailable':
      return new AppError(
        'unavailable',
        'The database cannot be reached; retry shortly.',
        { retry_after_s: DB_RETRY_AFTER_S },
        { cause: error },
      );
    case 'timeout':
      return new AppError(
        'timeout',
        'The query ran past the statement timeout; narrow the request.',
        { retry_after_s: DB_RETRY_AFTER_S },
        { cause: error },
      );
    case 'invalid_input':
      return new AppError(
        'validation_failed',
        'The request contains characters the database cannot store.',
        {},
        { cause: error },
      );
    default:
      return error;
  }
}
