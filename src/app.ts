import rateLimitPlugin from '@fastify/rate-limit';
import type { Logger } from 'pino';
import type { Database } from './db/create-db.js';
import type { Env } from './env/schema.js';
import { registerConsole } from './http/console.js';
import { createMetrics, registerOps, type Lifecycle } from './http/ops.js';
import { openApiRoute, registerOpenApi } from './http/openapi.js';
import { registerPipeline } from './http/pipeline.js';
import { createLimiterRedis, createLimiterStoreClass } from './http/rate-limit-store.js';
import { createServer } from './http/server.js';
import { createIdempotency } from './http/idempotency.js';
import { createIdempotencyService } from './modules/idempotency/service.js';
import { createAuthCache } from './lib/auth-cache.js';
import type { Clock } from './lib/clock.js';
import type { Ids } from './lib/ids.js';
import { createPasswords } from './lib/passwords.js';
import { eventsRoutes } from './modules/events/routes.js';
import { webhookHeaderParameters, webhooksDocument } from './modules/events/webhooks-document.js';
import { createMfaModule } from './modules/mfa/module.js';
import { createSessionsModule } from './modules/sessions/module.js';
import type { LiveSession } from './modules/sessions/store.js';
import { createTokensModule } from './modules/tokens/module.js';
import type { LiveToken } from './modules/tokens/store.js';
import { createUsersModule } from './modules/users/module.js';
import type { Credentials } from './modules/users/service.js';
import { createPluginsModule } from './modules/plugins/module.js';
import { createAuthProvidersModule } from './modules/auth-providers/module.js';
import { createStateModule } from './modules/state/module.js';
import { VERSION } from './version.js';
import { buildCore } from './core.js';

export type { RegisteredRoute } from './http/server.js';
/** `auditKey`: the audit secret; by default GATEHOUSE_AUDIT_KEY, else DATA_DIR/audit.key (created on first start). */
export type AppDeps = {
  env: Env;
  database: Database;
  logger: Logger;
  clock: Clock;
  ids: Ids;
  configPollMs?: number;
  auditKey?: Buffer;
};

type Core = Awaited<ReturnType<typeof buildCore>>;
type Server = Awaited<ReturnType<typeof createServer>>['app'];
type Metrics = ReturnType<typeof createMetrics>;
type Identity = ReturnType<typeof buildIdentity>;

/** The composition root: builds the app over a migrated database (it reads the settings from it). */
export async function buildApp(deps: AppDeps) {
  const { database, logger, clock, ids } = deps;
  const { db, helpers } = database;
  const { app, routes } = await createServer(logger, helpers);
  const metrics = createMetrics();
  // Lookups of live tokens and sessions, dropped at once whenever access may have narrowed.
  const tokenCache = createAuthCache<LiveToken | null>({ now: () => clock.now() });
  const sessionCache = createAuthCache<LiveSession | null>({ now: () => clock.now() });
  const mfaGateCache = createAuthCache<boolean>({ now: () => clock.now() });
  const onAccessChange = () => (tokenCache.clear(), sessionCache.clear(), mfaGateCache.clear());
  // The audit log, the change path, settings, roles and the relays: everything but HTTP (core.ts).
  const core = await buildCore({ ...deps, onAccessChange });
  app.addHook('onClose', () => core.close());
  const { journal, audits, change, config, settings, roles, webhooks, streams, host } = core;
  metrics.watchJournal(() => journal.stats());
  const identity = buildIdentity(deps, core, { tokenCache, sessionCache, mfaGateCache, onAccessChange });
  const { tokens, users, sessions } = identity;
  const plugins = createPluginsModule({
    db,
    change,
    ids,
    clock,
    host,
    settings,
    exportsDir: core.exportsDir,
    store: core.pluginsStore,
    auditHeadSeq: () => audits.service.headSeq(),
  });
  const authProviders = buildAuthProviders(app, deps, core, identity);
  const idempotency = createIdempotencyService({ db, clock });
  const lifecycle = await registerEdge(app, deps, core, metrics);
  await registerApiRoutes(app, deps, { core, identity, plugins, metrics, idempotency, authProviders });

  const services = {
    users: users.service,
    roles: roles.service,
    tokens: tokens.service,
    sessions: sessions.service,
    authProviders: authProviders.service,
    audit: audits.service,
    config: config.service,
    webhooks: webhooks.service,
    streams: streams.service,
    plugins: plugins.service,
    clock,
    /** One audit row of its own (a denial, a read, a command-line action such as `admin.recover`). */
    record: core.record,
  };
  return {
    app,
    routes,
    services,
    metrics,
    lifecycle,
    journal,
    worker: webhooks.worker,
    relay: streams.relay,
    plugins: host,
    idempotency,
    /** Starts the webhook worker, the audit streams and the plugin after-hooks; the answer stops them (core.ts). */
    startRelays: core.startRelays,
  };
}
export type GatehouseApp = Awaited<ReturnType<typeof buildApp>>;

/** Step: the identity modules (tokens, users, sessions), wired to the roles and to each other. */
function buildIdentity(
  deps: AppDeps,
  core: Core,
  caches: {
    tokenCache: ReturnType<typeof createAuthCache<LiveToken | null>>;
    sessionCache: ReturnType<typeof createAuthCache<LiveSession | null>>;
    mfaGateCache: ReturnType<typeof createAuthCache<boolean>>;
    onAccessChange: () => void;
  },
) {
  const { database, logger, clock, ids } = deps;
  const { db } = database;
  const { change, record, settings, roles } = core;
  const { onAccessChange } = caches;
  const passwords = createPasswords();
  const rule = roles.service.rule;
  const tokens = createTokensModule({
    db,
    change,
    ids,
    clock,
    logger,
    settings,
    cache: caches.tokenCache,
    permissionsOf: (q, id) => roles.service.permissionsOf(q, id),
    rule,
    onAccessChange,
    assertAdminWayIn: (trx, userId, except, now) => roles.service.assertAdminWayIn(trx, userId, except, now),
  });
  // Disabling a user or changing its password ends its credentials in the same transaction.
  const credentials: Credentials = {
    revokeTokens: (trx, userId, now) => tokens.service.revokeAllOf(trx, userId, now),
    endSessions: (trx, userId, except, now) => sessions.service.endAllOf(trx, userId, except, now),
  };
  const users = createUsersModule({
    db,
    change,
    ids,
    clock,
    passwords,
    settings,
    assertAnotherAdmin: (trx, id) => roles.service.assertAnotherAdmin(trx, id),
    rule,
    credentials,
    onAccessChange,
    assertAdminWayIn: (trx, userId, except, now) => roles.service.assertAdminWayIn(trx, userId, except, now),
  });
  const sessions = createSessionsModule({
    ...{ db, change, record, ids, clock, passwords, settings },
    users: users.service,
    cache: caches.sessionCache,
    // The second factor, when the account has one (modules/mfa); defined below, called only per request.
    afterPassword: (ctx, userId) => mfa.login.afterPassword(ctx, userId),
  });
  const mfa = createMfaModule({
    ...{ db, change, record, ids, clock, settings, rule, secrets: core.secrets, users: users.service },
    ...{ signIn: (...a) => sessions.service.signIn(...a), gateCache: caches.mfaGateCache },
  });
  return { tokens, users, sessions, mfa };
}

/** Step: identity providers (single sign-on), on the roles, users and sessions services. */
function buildAuthProviders(app: Server, deps: AppDeps, core: Core, identity: Identity) {
  const { database, clock, ids } = deps;
  const authProviders = createAuthProvidersModule({
    ...{ db: database.db, clock, ids, change: core.change, record: core.record, settings: core.settings },
    secrets: core.secrets,
    roles: core.roles.service,
    users: identity.users.service,
    sessions: identity.sessions.service,
  });
  app.addHook('onClose', () => authProviders.close());
  return authProviders;
}

/** Step: the HTTP edge outside /api: rate limiting, the OpenAPI document, the ops endpoints and the console. */
async function registerEdge(app: Server, deps: AppDeps, core: Core, metrics: Metrics): Promise<Lifecycle> {
  const { env, database, logger } = deps;
  const { db } = database;
  const { settings } = core;
  const redis = env.REDIS_URL ? createLimiterRedis(env.REDIS_URL, logger) : undefined;
  if (redis) app.addHook('onClose', async () => redis.disconnect());
  const store = createLimiterStoreClass({
    redis,
    mode: () => settings().rate_limits.store_failure,
    logger,
    failures: metrics.limiterStoreFailures,
  });
  await app.register(rateLimitPlugin, { global: false, store });
  await registerOpenApi(app, VERSION, { webhooks: webhooksDocument(), parameters: webhookHeaderParameters });
  const lifecycle: Lifecycle = { draining: false };
  await registerOps(app, { db, metrics, lifecycle });
  await registerConsole(app);
  return lifecycle;
}

/** Step: the /api routes behind the request pipeline (authentication, limits, audit of denials and reads, idempotency). */
async function registerApiRoutes(
  app: Server,
  deps: AppDeps,
  parts: {
    core: Core;
    identity: Identity;
    plugins: ReturnType<typeof createPluginsModule>;
    metrics: Metrics;
    idempotency: ReturnType<typeof createIdempotencyService>;
    authProviders: ReturnType<typeof createAuthProvidersModule>;
  },
): Promise<void> {
  const { logger, ids } = deps;
  const { core, metrics, plugins, idempotency } = parts;
  const { journal, audits, record, config, settings, roles, webhooks, streams } = core;
  const { tokens, users, sessions, mfa } = parts.identity;
  // A session is marked when its user must enrol a second factor first (auth.require_mfa_for_roles).
  const resolvePrincipal = async (secret: string) => {
    if (!secret.startsWith('gts_')) return tokens.service.authenticate(secret);
    const principal = await sessions.service.authenticate(secret);
    return principal && mfa.gate.mark(principal);
  };
  await app.register(
    async (api) => {
      const hooks = registerPipeline(api, {
        authenticate: resolvePrincipal,
        limits: () => settings().rate_limits,
        denial: { journal, ids, logger, onFailure: () => metrics.auditWriteFailures.inc() },
        readAudit: { record, enabled: () => settings().audit.log_reads, logger },
        idempotency: createIdempotency(idempotency),
      });
      openApiRoute(api, app);
      await sessions.routes(api, hooks.loginLimit);
      await mfa.routes(api);
      await parts.authProviders.routes(api, hooks.ticketLimit);
      await users.routes(api);
      await roles.routes(api);
      await tokens.routes(api);
      await audits.routes(api);
      await streams.routes(api);
      await config.routes(api);
      await webhooks.routes(api);
      await plugins.routes(api);
      await stateRoutesOf(deps, parts).routes(api);
      await api.register(eventsRoutes, { prefix: '/events' });
    },
    { prefix: '/api' },
  );
}

/**
 * Step: export, plan and apply of the declarative state (modules/state): read through the other modules'
 * services, changed through their prepared changes in one batch.
 */
function stateRoutesOf(
  deps: AppDeps,
  parts: {
    core: Core;
    identity: Identity;
    plugins: ReturnType<typeof createPluginsModule>;
    authProviders: ReturnType<typeof createAuthProvidersModule>;
  },
) {
  const { core, identity } = parts;
  // The same services are read from (their listings) and changed through (their prepared changes).
  const services = {
    users: identity.users.service,
    roles: core.roles.service,
    webhooks: core.webhooks.service,
    plugins: parts.plugins.service,
    providers: parts.authProviders.service,
    streams: core.streams.service,
    config: core.config.service,
  };
  return createStateModule({
    ...{ record: core.record, changeAll: core.changeAll, ids: deps.ids },
    headSeq: () => core.audits.service.headSeq(),
    sources: services,
    targets: services,
  });
}
