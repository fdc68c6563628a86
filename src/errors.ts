/**
 * The closed error catalog. Every error a caller can see has a code here; `http/problem.ts` turns an
 * `AppError` into RFC 9457 problem+json. This file imports nothing from Fastify so services can use it.
 */
export const errorCatalog = {
  validation_failed: { status: 400, title: 'Request validation failed' },
  bad_request: { status: 400, title: 'Bad request' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Missing permission' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  request_timeout: { status: 408, title: 'The request took too long to arrive' },
  conflict: { status: 409, title: 'Conflicts with the current state' },
  precondition_failed: { status: 412, title: 'If-Match does not match the current version' },
  precondition_required: { status: 428, title: 'If-Match is required' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  uri_too_long: { status: 414, title: 'URI too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  unprocessable: { status: 422, title: 'The request breaks a rule' },
  rate_limited: { status: 429, title: 'Too many requests' },
  headers_too_large: { status: 431, title: 'Request headers too large' },
  internal: { status: 500, title: 'Internal server error' },
  unavailable: { status: 503, title: 'Temporarily unavailable' },
  timeout: { status: 503, title: 'The operation took too long' },
  'user.username_taken': { status: 409, title: 'Username already in use' },
  'user.last_admin': { status: 409, title: 'The last active admin cannot be removed' },
  'user.current_password_wrong': { status: 403, title: 'The current password is wrong' },
  'token.last_admin_credential': { status: 409, title: 'The last way in for an admin cannot be revoked' },
  'role.name_taken': { status: 409, title: 'Role name already in use' },
  'role.builtin': { status: 409, title: 'Built-in roles cannot be deleted, renamed or emptied' },
  'auth.invalid_credentials': { status: 401, title: 'Wrong username or password' },
  mfa_required: { status: 401, title: 'A second factor is required' },
  mfa_enrollment_required: { status: 403, title: 'Enrol a second factor first' },
  'mfa.invalid_code': { status: 401, title: 'The second factor was not accepted' },
  'mfa.invalid_token': { status: 401, title: 'The sign-in step expired or was used; sign in again' },
  'auth.sso_only': { status: 403, title: 'Password sign-in is turned off: sign in through single sign-on' },
  'auth.sso_state_invalid': { status: 400, title: 'Unknown, used or expired single sign-on state' },
  'auth.sso_denied': { status: 403, title: 'Single sign-on was refused' },
  'auth.sso_ticket_invalid': { status: 401, title: 'Unknown, used or expired sign-in ticket' },
  'auth_provider.name_taken': { status: 409, title: 'Identity provider name already in use' },
  'plugin.denied': { status: 422, title: 'Denied by a plugin' },
  'audit_stream.name_taken': { status: 409, title: 'Audit stream name already in use' },
  'webhook.limit_reached': { status: 409, title: 'Webhook endpoint limit reached' },
  'idempotency.key_reused': { status: 422, title: 'Idempotency-Key reused with a different request' },
  'idempotency.in_flight': { status: 409, title: 'A request with this Idempotency-Key is still in progress' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** One validation failure: `pointer` is a JSON Pointer into the request part named by `in`. */
export type FieldError = { in: 'body' | 'query' | 'params' | 'headers'; pointer: string; message: string };

export type ProblemExtensions = {
  errors?: FieldError[];
  required_permission?: string;
  retry_after_s?: number;
  [key: string]: unknown;
};

/** The one error class: `detail` is safe to show the caller; `cause` is logged, never sent. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly extensions: ProblemExtensions;

  constructor(
    code: ErrorCode,
    detail?: string,
    extensions: ProblemExtensions = {},
    options?: { cause?: unknown },
  ) {
    super(detail ?? errorCatalog[code].title, options);
    this.name = 'AppError';
    this.code = code;
    this.status = errorCatalog[code].status;
    this.title = errorCatalog[code].title;
    this.detail = detail;
    this.extensions = extensions;
  }
}

/** Returns the value, or throws `not_found` naming what was looked for. */
export function assertFound<T>(value: T | undefined | null, what = 'The resource'): T {
  if (value === undefined || value === null) throw new AppError('not_found', `${what} does not exist.`);
  return value;
}

/** Throws `AppError(code, detail)` unless the condition holds. */
export function assert(
  condition: unknown,
  code: ErrorCode,
  detail?: string,
  extensions?: ProblemExtensions,
): asserts condition {
  if (!condition) throw new AppError(code, detail, extensions);
}

/** A validation failure on one field, shaped like the ones the schema validator produces. */
export function fieldError(where: FieldError['in'], pointer: string, message: string): AppError {
  return new AppError('validation_failed', message, { errors: [{ in: where, pointer, message }] });
}
