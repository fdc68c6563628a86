import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorObject } from 'ajv';
import { StringEnum } from '../lib/schema.js';
import { Type } from 'typebox';
import type { DialectHelpers } from '../db/dialects/helpers.js';
import { translateDbError } from '../db/translate-error.js';
import { AppError, errorCatalog, type ErrorCode, type FieldError } from '../errors.js';
import { redactTokens } from '../lib/url-secrets.js';
import { toFieldErrors } from '../lib/field-errors.js';

/** The RFC 9457 body of every error answer. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: '`urn:gatehouse:problem:<code>`' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    code: Type.String({ description: 'Stable error code to branch on.' }),
    request_id: Type.String(),
    errors: Type.Optional(
      Type.Array(
        Type.Object(
          {
            in: StringEnum(['body', 'query', 'params', 'headers']),
            pointer: Type.String({ description: 'JSON Pointer into the request part named by `in`.' }),
            message: Type.String(),
          },
          { title: 'FieldError' },
        ),
      ),
    ),
    required_permission: Type.Optional(Type.String()),
  },
  { additionalProperties: true, title: 'Problem' },
);

const GENERIC_BY_STATUS: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  429: 'rate_limited',
  431: 'headers_too_large',
  503: 'unavailable',
};

/**
 * One function from any thrown value to an `AppError`: the whole mapping, in order. `bodyLimit` is the
 * route's, named in a 413's detail.
 */
export function toAppError(err: unknown, helpers: DialectHelpers, bodyLimit?: number): AppError {
  if (err instanceof AppError) return err;
  const fe = err as FastifyError & { validation?: ErrorObject[]; validationContext?: string };
  if (fe?.validation) {
    const errors: FieldError[] = toFieldErrors(fe.validation, fe.validationContext);
    const first = errors[0];
    const detail = first ? `${first.in}${first.pointer || ''} ${first.message}` : 'The request is invalid.';
    return new AppError('validation_failed', detail, { errors });
  }
  const translated = translateDbError(helpers, err);
  if (translated instanceof AppError) return translated;
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = GENERIC_BY_STATUS[status] ?? 'bad_request';
    return new AppError(code, fastifyDetail(fe, bodyLimit), {}, { cause: err });
  }
  return new AppError('internal', undefined, {}, { cause: err });
}

/** `8 KiB`, `1 MiB`: a body limit as people read it. */
function bytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  return n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}

/**
 * Fastify's own 4xx messages are mostly safe and useful ("Body cannot be empty…"); drop its internal codes.
 * The ones that quote the URL are reworded, so a path never comes back (or into a log) through a detail.
 */
function fastifyDetail(fe: FastifyError, bodyLimit = 1024 * 1024): string {
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `The request body exceeds this route's limit of ${bytes(bodyLimit)}.`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Send the body as application/json.';
    case 'FST_ERR_BAD_URL':
      return 'The URL path is not valid: a percent-encoding in it does not decode to UTF-8.';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'A path segment is longer than 256 characters.';
    default:
      return fe.message;
  }
}

/** The problem+json document of an `AppError`, as sent (without `retry_after_s`, which becomes a header). */
export function problemBody(error: AppError, requestId: string): Record<string, unknown> {
  const { retry_after_s: _retryAfter, ...extensions } = error.extensions;
  return {
    type: `urn:gatehouse:problem:${error.code}`,
    title: errorCatalog[error.code].title,
    status: error.status,
    ...(error.detail ? { detail: error.detail } : {}),
    code: error.code,
    request_id: requestId,
    ...extensions,
  };
}

/** Writes an `AppError` as application/problem+json. */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: AppError): FastifyReply {
  const { retry_after_s: retryAfter, ...extensions } = error.extensions;
  const body = problemBody(error, request.id);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  if (typeof extensions.etag === 'string') reply.header('etag', extensions.etag);
  if (error.status === 401 && !reply.hasHeader('www-authenticate'))
    reply.header('www-authenticate', 'Bearer');
  return reply.code(error.status).type('application/problem+json').send(JSON.stringify(body));
}

/** The error handler: logs 5xx at error and 4xx at debug, never sends a stack or a driver message. */
export function problemHandler(helpers: DialectHelpers) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const error = toAppError(err, helpers, request.routeOptions.bodyLimit);
    if (error.status >= 500)
      request.log.error({ err: error.cause ?? err, code: error.code }, 'request failed');
    else
      request.log.debug(
        { code: error.code, detail: error.detail && redactTokens(error.detail) },
        'request rejected',
      );
    return sendProblem(reply, request, error);
  };
}
