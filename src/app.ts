import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import { createChange, createRecordAudit } from './change.js';
import type { Database } from './db/create-db.js';
import type { Env } from './env/schema.js';
import { registerOps, createMetrics } from './http/ops.js';
import { addErrorResponses, registerOpenApi } from './http/openapi.js';
import { registerPipeline } from './http/pipeline.js';
import { problemHandler } from './http/problem.js';
import { genReqId } from './http/request-context.js';
import { registerValidators } from './http/validation.js';
import './http/types.js';
import type { Clock } from './lib/clock.js';
import type { Ids } from './lib/ids.js';
import { createAuditLog } from './modules/audit/append.js';
import { createAuditModule } from './modules/audit/module.js';
import { eventsRoutes } from './modules/events/routes.js';
import { createOutbox } from './modules/events/outbox.js';
import { createTokensModule } from './modules/tokens/module.js';
import type { LiveToken } from './modules/tokens/store.js';
import { createRolesModule } from './modules/roles/module.js';
import { createSessionsModule } from './modules/sessions/module.js';
import type { LiveSession } from './modules/sessions/store.js';
import { createAuthCache } from './lib/auth-cache.js';
import { createPasswords } from './lib/passwords.js';
import { createUsersModule } from './modules/users/module.js';
import { VERSION } from './version.js';

export type RegisteredRoute = { method: string; url: string; scope: string | undefined; hidden: boolean };

export type AppDeps = { env: Env; database: Database; logger: Logger; clock: Clock; ids: Ids };

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

/** The composition root: builds the app over the given database; no I/O beyond it. */
export async function buildApp(deps: AppDeps) {
  const { database, logger, clock, ids } = deps;
  const { db, helpers } = database;
  // The assertion widens pino's Logger to Fastify's logger type, which the instance type is built on.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const app: FastifyInstance = Fastify({ ...SERVER_OPTIONS, loggerInstance: logger as FastifyBaseLogger, genReqId });
  registerValidators(app);
  app.setErrorHandler(problemHandler(helpers));
  app.addHook('onRoute', addErrorResponses);
  // The route table, for the contract tests that check the OpenAPI document and route security against it.
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, scope: r.config?.scope, hidden: r.schema?.hide === true });
  });
  app.addHook('onRequest', async (request, reply) => void reply.header('x-request-id', request.id));
  acceptEmptyJsonBodies(app);

  const metrics = createMetrics();
  const audit = createAuditLog({ helpers, clock });
  const change = createChange({ db, helpers, audit, outbox: createOutbox({ clock }), ids, logger });
  const record = createRecordAudit({ db, audit, ids });
  const passwords = createPasswords();
  // Lookups of live tokens and sessions, dropped at once whenever access may have narrowed.
  const tokenCache = createAuthCache<LiveToken | null>({ now: () => clock.now() });
  const sessionCache = createAuthCache<LiveSession | null>({ now: () => clock.now() });
  const onAccessChange = () => {
    tokenCache.clear();
    sessionCache.clear();
  };

  const roles = createRolesModule({ db, change, ids, clock, onAccessChange });
  const users = createUsersModule({ db, change, ids, clock, passwords, assertAnotherAdmin: (trx, id) => roles.service.assertAnotherAdmin(trx, id), onAccessChange });
  const tokens = createTokensModule({ db, change, ids, clock, logger, cache: tokenCache, permissionsOf: (q, id) => roles.service.permissionsOf(q, id), onAccessChange });
  const sessions = createSessionsModule({ db, change, record, ids, clock, passwords, users: users.service, cache: sessionCache });
  const audits = createAuditModule({ db, change, record, clock });
  const resolvePrincipal = (secret: string) =>
    secret.startsWith('gts_') ? sessions.service.authenticate(secret) : tokens.service.authenticate(secret);

  // TLS is terminated in front of Gatehouse (docs/deploy.md); HSTS and upgrade-insecure-requests belong there.
  await app.register(helmet, {
    global: true,
    hsts: false,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });
  await registerOpenApi(app, VERSION);
  await registerOps(app, { db, metrics });

  await app.register(async (api) => {
    registerPipeline(api, {
      authenticate: resolvePrincipal,
      denial: { db, audit, ids, logger, onFailure: () => metrics.auditWriteFailures.inc() },
    });
    api.get('/openapi.json', {
      config: { scope: 'public', action: 'openapi.read' },
      schema: {
        operationId: 'getOpenApi', tags: ['meta'], security: [], summary: 'This OpenAPI 3.1 document',
        response: { 200: Type.Object({ openapi: Type.String() }, { additionalProperties: true }) },
      },
    }, async () => app.swagger());
    await sessions.routes(api);
    await users.routes(api);
    await roles.routes(api);
    await tokens.routes(api);
    await audits.routes(api);
    await api.register(eventsRoutes, { prefix: '/events' });
  }, { prefix: '/api' });

  const services = { users: users.service, roles: roles.service, tokens: tokens.service, sessions: sessions.service, audit: audits.service, clock };
  return { app, routes, services, metrics };
}
export type GatehouseApp = Awaited<ReturnType<typeof buildApp>>;

/**
 * A DELETE or POST sent with `Content-Type: application/json` and no body is not an error; the route's
 * schema decides whether a body was required.
 */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  // Only JSON bodies: anything else is a 415, not a string the schema then rejects.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (String(body).trim() === '') return done(null, undefined);
    return parse(request, String(body), done);
  });
}
