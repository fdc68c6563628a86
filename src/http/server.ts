import helmet from '@fastify/helmet';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
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
  await app.register(helmet, { global: true, hsts: false, contentSecurityPolicy: { directives: CSP } });
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
