import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import type { Logger } from 'pino';
import type { DialectHelpers } from '../db/dialects/helpers.js';
import { problemHandler } from './problem.js';
import { genReqId } from './request-context.js';
import { registerValidators } from './validation.js';
import './types.js';

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
  helmet(options)(undefined as unknown as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error('helmet refused the security header options');
  });
  return Object.fromEntries(headers);
}

export type RegisteredRoute = { method: string; url: string; scope: string | undefined; hidden: boolean };

/**
 * The Fastify instance with everything that is not a feature: validation, the problem+json error handler,
 * JSON-only bodies, X-Request-Id, security headers, and a table of every route (for the contract tests).
 */
export async function createServer(logger: Logger, helpers: DialectHelpers): Promise<{ app: FastifyInstance; routes: RegisteredRoute[] }> {
  // The assertion widens pino's Logger to Fastify's logger type, which the instance type is built on.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const app: FastifyInstance = Fastify({ ...SERVER_OPTIONS, loggerInstance: logger as FastifyBaseLogger, genReqId });
  registerValidators(app);
  app.setErrorHandler(problemHandler(helpers));
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, scope: r.config?.scope, hidden: r.schema?.hide === true });
  });
  app.addHook('onRequest', async (request, reply) => void reply.header('x-request-id', request.id));
  jsonBodiesOnly(app);
  // TLS is terminated in front of Gatehouse (docs/deploy.md); HSTS and upgrade-insecure-requests belong there.
  const headers = securityHeaders({ hsts: false, contentSecurityPolicy: { directives: CSP } });
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
  return { app, routes };
}

/**
 * JSON bodies only (anything else is a 415, not a string the schema then rejects), merge patches included.
 * A DELETE or POST sent with `Content-Type: application/json` and no body is not an error; the route's
 * schema decides whether a body was required.
 */
function jsonBodiesOnly(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(['application/json', 'application/merge-patch+json'], { parseAs: 'string' }, (request, body, done) => {
    if (String(body).trim() === '') return done(null, undefined);
    return parse(request, String(body), done);
  });
}
