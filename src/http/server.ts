import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type preParsingHookHandler,
} from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import type { Logger } from 'pino';
import type { DialectHelpers } from '../db/dialects/helpers.js';
import { AppError } from '../errors.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../lib/json-depth.js';
import { problemBody, problemHandler, sendProblem, toAppError } from './problem.js';
import { genReqId } from './request-context.js';
import { registerValidators } from './validation.js';
import './types.js';

/** The body limit of routes a caller reaches without a token (sign-in): a password needs no more. */
export const SIGN_IN_BODY_LIMIT = 8 * 1024;

/** Fastify settings pinned on purpose: timeouts, a 1 MiB body limit, prototype poisoning refused. */
const SERVER_OPTIONS = {
  bodyLimit: 1024 * 1024,
  requestTimeout: 30_000,
  connectionTimeout: 60_000,
  keepAliveTimeout: 72_000,
  onProtoPoisoning: 'error',
  onConstructorPoisoning: 'error',
  return503OnClosing: true,
  requestIdHeader: false,
  routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true },
} as const;

/**
 * The console's policy: scripts only from this origin and never inline, no plugins, no framing. Inline styles
 * are allowed because Mantine and CodeMirror set CSS variables and element styles at run time.
 */
const CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  upgradeInsecureRequests: null,
};

/**
 * The headers helmet sets, computed once at start. `@fastify/helmet` (which DESIGN.md named) rebuilt helmet's
 * middleware, parsing the CSP directives, on every request: ~6 % of a GET's CPU in the profiles. Ours are
 * static (no nonces), so one run of helmet against a recording response gives every response's headers.
 */
export function securityHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string | number) => headers.set(name.toLowerCase(), String(value)),
    removeHeader: (name: string) => headers.delete(name.toLowerCase()),
  };
  // helmet reads nothing of the request for static directives; its middleware runs synchronously.
  helmet(options)(
    undefined as unknown as IncomingMessage,
    recorder as unknown as ServerResponse,
    (err?: unknown) => {
      if (err) throw err instanceof Error ? err : new Error('helmet refused the security header options');
    },
  );
  return Object.fromEntries(headers);
}

export type RegisteredRoute = { method: string; url: string; scope: string | undefined; hidden: boolean };

/**
 * The Fastify instance with everything that is not a feature: validation, the problem+json error handler,
 * JSON-only bodies, X-Request-Id, security headers, and a table of every route (for the contract tests).
 */
export async function createServer(
  logger: Logger,
  helpers: DialectHelpers,
): Promise<{ app: FastifyInstance; routes: RegisteredRoute[] }> {
  // TLS is terminated in front of Gatehouse (docs/deploy.md); HSTS and upgrade-insecure-requests belong there.
  const headers = securityHeaders({ hsts: false, contentSecurityPolicy: { directives: CSP } });
  // Errors Fastify and Node answer before a route is found (a bad percent-encoding, an over-long path
  // segment, a request that is not HTTP) are problems too, with the request id and the security headers.
  const frameworkErrors = (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    request.log.debug({ code: err.code }, 'request rejected before routing');
    void sendProblem(
      reply.headers(headers).header('x-request-id', request.id),
      request,
      toAppError(err, helpers),
    );
  };
  const app: FastifyInstance = Fastify({
    ...SERVER_OPTIONS,
    // The assertion widens pino's Logger to Fastify's logger type, which the instance type is built on.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: logger as FastifyBaseLogger,
    genReqId,
    frameworkErrors,
    clientErrorHandler: (err: Error & { code?: string }, socket: Duplex) =>
      answerClientError(err, socket, headers),
  });
  registerValidators(app);
  app.setErrorHandler(problemHandler(helpers));
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (r) => {
    const methods = [r.method].flat();
    for (const method of methods)
      routes.push({ method, url: r.url, scope: r.config?.scope, hidden: r.schema?.hide === true });
    // Only a route that may take a body checks how it is sent: after the /api onRequest hooks (who, rate
    // limit, scope) and before any byte of it is read. GET and HEAD never read one.
    if (methods.some((m) => !BODILESS.has(m)))
      r.preParsing = [r.preParsing ?? []].flat().concat(refuseUnreadable);
  });
  jsonBodiesOnly(app);
  // One synchronous hook for the headers every answer carries: the request id and the static security set.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers).header('x-request-id', request.id);
    done();
  });
  return { app, routes };
}

/**
 * A malformed request (Node's `clientError`: not HTTP, headers too large, too slow) is answered on the raw
 * socket, as Fastify's default does, but as a problem with a fresh request id and the security headers.
 */
function answerClientError(
  err: Error & { code?: string },
  socket: Duplex,
  headers: Record<string, string>,
): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const code = status === 408 ? 'request_timeout' : status === 431 ? 'headers_too_large' : 'bad_request';
  const id = randomUUID();
  const body = JSON.stringify(
    problemBody(new AppError(code, status === 400 ? 'The request is not valid HTTP/1.1.' : undefined), id),
  );
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'content-type: application/problem+json',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    `x-request-id: ${id}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  if (socket.writable) socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  socket.destroy(err);
}

const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;
const BODILESS = new Set(['GET', 'HEAD']);

/** preParsing of a route that may take a body: refuses one it could not read (`refuseUnreadableBody`). */
const refuseUnreadable: preParsingHookHandler = (request, _reply, payload, done) => {
  try {
    if (hasBody(request.headers)) refuseUnreadableBody(request.headers);
    done(null, payload);
  } catch (err) {
    done(err as Error);
  }
};

/** As Fastify decides whether to parse: a request with neither a length above 0 nor a chunked body has none. */
function hasBody(headers: IncomingMessage['headers']): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Bodies are read as UTF-8 JSON and nothing else: another charset would be misread, and a compressed body
 * would be parsed as if it were plain. Both are a 415 rather than being accepted and ignored. A request
 * without a body has nothing to misread, whatever its headers say.
 */
function refuseUnreadableBody(headers: IncomingMessage['headers']): void {
  const encoding = headers['content-encoding'];
  if (
    encoding !== undefined &&
    encoding.split(',').some((c) => !['identity', ''].includes(c.trim().toLowerCase()))
  ) {
    throw new AppError(
      'unsupported_media_type',
      'Send the body uncompressed: Content-Encoding other than identity is not accepted.',
    );
  }
  const match = CHARSET.exec(headers['content-type'] ?? '');
  const charset = (match?.[1] ?? match?.[2])?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new AppError(
      'unsupported_media_type',
      `Send the body as UTF-8 (charset=utf-8), not ${charset.slice(0, 40)}.`,
    );
  }
}

/**
 * JSON bodies only (anything else is a 415, not a string the schema then rejects), merge patches included.
 * A DELETE or POST sent with `Content-Type: application/json` and no body is not an error; the route's
 * schema decides whether a body was required.
 */
function jsonBodiesOnly(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(
    ['application/json', 'application/merge-patch+json'],
    { parseAs: 'string' },
    (request, body, done) => {
      const text = String(body);
      if (text.trim() === '') return done(null, undefined);
      // Before parsing: a deep body is refused for the price of one scan, and nothing recursive ever sees one.
      if (jsonDepthExceeds(text))
        return done(
          new AppError(
            'bad_request',
            `The JSON body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels.`,
          ),
          undefined,
        );
      return parse(request, text, done);
    },
  );
}
