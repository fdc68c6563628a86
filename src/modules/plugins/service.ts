import type { Kysely } from 'kysely';
import { runPrepared, type Change, type Prepared } from '../../change.js';
import { fromJson, toBool, toIso } from '../../db/codecs.js';
import type { PluginsTable, Tables } from '../../db/tables.js';
import { AppError, assertFound, fieldError } from '../../errors.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, withTotal, type PageOf } from '../../lib/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { isId, type Ids } from '../../lib/ids.js';
import { actorOf, type RequestCtx } from '../../lib/request-ctx.js';
import { assertPublicUrl } from '../../lib/ssrf-guard.js';
import { generateWebhookSecret } from '../../lib/standard-webhooks.js';
import { PluginConfigError, type PluginDefinition, type PluginManifest } from '../../plugins/define.js';
import { builtinPlugins } from '../../plugins/builtin/index.js';
import type { PluginHost } from '../../plugins/host.js';
import type { ConfigDocument } from '../config/schemas.js';
import { assertMayStreamAudit, assertMaySubscribe, creatorOf } from '../events/reach.js';
import { createConfigValidator } from './config-schema.js';
import type { ListQuery, Plugin, RegisterPluginBody } from './schemas.js';
import type { PluginsStore } from './store.js';

type Deps = {
  db: Kysely<Tables>;
  change: Change;
  ids: Ids;
  clock: Clock;
  host: PluginHost;
  settings: () => ConfigDocument;
  store: PluginsStore;
  /** The audit log's head seq, from the audit service: where a new plugin's after-hooks start. */
  auditHeadSeq: () => Promise<number>;
  /** `<DATA_DIR>/exports`: the only folder plugins write files to. */
  exportsDir: string;
};

/** Strips the config fields its schema marks `writeOnly` (secrets a plugin needs, never shown again). */
function redact(
  config: Record<string, unknown>,
  schema: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const props = (schema?.properties ?? {}) as Record<string, { writeOnly?: boolean; properties?: unknown }>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    const s = props[k];
    if (s?.writeOnly) continue;
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && s?.properties
        ? redact(v as Record<string, unknown>, s)
        : v;
  }
  return out;
}

export function createPluginsService(deps: Deps) {
  const kit = kitOf(deps);
  return {
    ...createPluginRegistration(kit),
    ...createPluginReads(kit),
    ...createPluginConfiguration(kit),
    ...createPluginLifecycle(kit),
  };
}
export type PluginsService = ReturnType<typeof createPluginsService>;

/** What every use case below shares: the deps, the config validator and the row-to-resource mapping. */
function kitOf(deps: Deps) {
  const configs = createConfigValidator();
  return {
    ...deps,
    /** The schema in this request's body (an http plugin being registered) is refused with a 400 into it; any other with a 422. */
    checkConfig: (manifest: PluginManifest, config: unknown, pointerBase: string, schemaInBody = false) =>
      configs.check(manifest, config, pointerBase, schemaInBody ? 'body' : 'plugin'),
    toPlugin: (row: PluginsTable): Plugin => toPlugin(deps.host, row),
    load: async (id: string): Promise<PluginsTable> => {
      if (!isId('plugin', id)) throw new AppError('not_found', 'No plugin has this id.');
      return assertFound(await deps.store.findById(deps.db, id), 'The plugin');
    },
  };
}
type Kit = ReturnType<typeof kitOf>;
type Page<T> = PageOf<T>;

function toPlugin(host: PluginHost, row: PluginsTable): Plugin {
  const manifest = fromJson<PluginManifest>(row.manifest);
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    url: row.url,
    manifest,
    enabled: toBool(row.enabled),
    config: redact(fromJson<Record<string, unknown>>(row.config), manifest.config_schema),
    config_version: Number(row.config_version),
    health: host.health(row.id),
    created_at: toIso(Number(row.created_at)),
    updated_at: toIso(Number(row.updated_at)),
    created_by: row.created_by,
  };
}

/**
 * A shipped module plugin's own checks of a config (its outbound targets), before anything is saved: 400 on
 * refusal. Installed plugins run in a worker and have no such hook.
 */
async function validateTargets(
  kit: Kit,
  kind: 'module' | 'http',
  name: string,
  config: Record<string, unknown>,
  pointerBase: string,
): Promise<void> {
  const shipped = kind === 'module' ? (builtinPlugins[name] as PluginDefinition | undefined) : undefined;
  try {
    await shipped?.validate?.(config, {
      exportsDir: kit.exportsDir,
      allowPrivateTargets: kit.settings().webhooks.allow_private_targets,
    });
  } catch (err) {
    if (err instanceof PluginConfigError)
      throw fieldError('body', `${pointerBase}${err.pointer}`, err.message);
    throw err;
  }
}

/**
 * What a plugin will receive must be readable by whoever sets it up: exact after-hook types need their read
 * permission, and an audit feed (`audit_stream`) needs audit:read. Before-hooks receive each change's input,
 * so they need the same as after-hooks of those actions. Throws `forbidden`.
 */
function assertMayReceive(ctx: RequestCtx, manifest: PluginManifest, what: string): void {
  assertMaySubscribe(ctx, manifest.hooks?.after ?? []);
  assertMaySubscribe(ctx, manifest.hooks?.before ?? []);
  if (manifest.audit_stream === true) assertMayStreamAudit(ctx, what);
}

async function manifestOf(
  kit: Kit,
  body: RegisterPluginBody,
): Promise<{ manifest: PluginManifest; url: string | null }> {
  if (body.kind === 'module') {
    return { manifest: await kit.host.inspect(body.name), url: null };
  }
  const url = new URL(body.url);
  const allowPrivate = kit.settings().webhooks.allow_private_targets;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowPrivate))
    throw fieldError('body', '/url', 'must use https (http only with webhooks.allow_private_targets)');
  if (!allowPrivate)
    await assertPublicUrl(url).catch((err: unknown) => {
      throw fieldError('body', '/url', `refused: ${(err as Error).message}`);
    });
  return { manifest: body.manifest as PluginManifest, url: url.toString() };
}

/** Use case: registering a plugin. */
function createPluginRegistration(kit: Kit) {
  const { change, ids, clock, host, store, checkConfig, toPlugin } = kit;
  /**
   * A registration made ready: the manifest (an http plugin's URL through the SSRF guard), the permissions
   * and the config checked, the id and an http plugin's secret drawn, the audit head read. The secret rides
   * beside the change, never in its audit row or event. Throws `validation_failed`, `unprocessable`, `forbidden`.
   */
  async function prepareRegister(
    ctx: RequestCtx,
    body: RegisterPluginBody,
  ): Promise<Prepared<Plugin> & { secret: string | null }> {
    const { manifest, url } = await manifestOf(kit, body);
    assertMayReceive(ctx, manifest, `The plugin ${manifest.name}`);
    const config = checkConfig(manifest, body.config, '/config', body.kind === 'http');
    await validateTargets(kit, body.kind, manifest.name, config, '/config');
    const id = ids.next('plugin');
    const secret = body.kind === 'http' ? generateWebhookSecret() : null;
    // After-hooks start at the log's head: a new plugin is not sent the past.
    const headSeq = await kit.auditHeadSeq();
    const now = clock.now();
    const row: PluginsTable = {
      id,
      name: manifest.name,
      kind: body.kind,
      url,
      manifest: JSON.stringify(manifest),
      enabled: body.enabled ?? true,
      config: JSON.stringify(config),
      config_version: 1,
      secret,
      after_seq: headSeq,
      created_at: now,
      updated_at: now,
      created_by: creatorOf(ctx),
    };
    return {
      secret,
      spec: { action: 'plugin.register', target: { type: 'plugin', id } },
      write: async (trx) => {
        await store.insert(trx, row, actorOf(ctx).actor);
        return { before: null, after: toPlugin(row) };
      },
      after: () => host.reload(),
    };
  }
  return {
    prepareRegister,
    /** Registers an installed module plugin by name, or a remote http plugin by URL and manifest. Throws `validation_failed`, `unprocessable`, `conflict`. */
    async register(ctx: RequestCtx, body: RegisterPluginBody): Promise<Plugin & { secret: string | null }> {
      const prepared = await prepareRegister(ctx, body);
      return { ...(await runPrepared(change, ctx, prepared)), secret: prepared.secret };
    },
  };
}

/** Use case: reading plugins. */
function createPluginReads(kit: Kit) {
  const { db, store, toPlugin, load } = kit;
  return {
    async get(id: string): Promise<Plugin> {
      return toPlugin(await load(id));
    },

    /** A page of plugins by id, with `total` when asked. Throws `validation_failed` for a bad cursor. */
    async list(query: ListQuery): Promise<Page<Plugin>> {
      const limit = query.limit ?? DEFAULT_LIMIT;
      const after = query.cursor ? String(decodeCursor(query.cursor)[0]) : null;
      const found = toPage(await store.list(db, after, limit), limit, toPlugin, (p) => [p.id]);
      return withTotal(found, query.include ? await store.count(db) : undefined);
    },
  };
}

/** Use case: configuring a plugin (a new config version). */
function createPluginConfiguration(kit: Kit) {
  const { change, clock, host, store, checkConfig, toPlugin, load } = kit;

  /** The config checked against the plugin's schema and its own target checks; the row it was checked for. */
  async function checked(ctx: RequestCtx, id: string, config: unknown) {
    const row = await load(id);
    const stored = fromJson<PluginManifest>(row.manifest);
    assertMayReceive(ctx, stored, `The plugin ${row.name}`);
    // A shipped plugin's config is checked against the schema of the code that runs now, not the one stored
    // when it was registered (which may predate, say, `format: "regex"` on username-policy's pattern).
    const shipped = row.kind === 'module' ? builtinPlugins[row.name] : undefined;
    const schema = shipped ? { ...stored, config_schema: shipped.config_schema } : stored;
    const valid = checkConfig(schema, config, '');
    await validateTargets(kit, row.kind, row.name, valid, '');
    return { row, valid };
  }

  /**
   * A new config version made ready: checked as `configure` does; the version is counted inside. Throws
   * `validation_failed`, `forbidden`, `not_found`.
   */
  async function prepareConfigure(ctx: RequestCtx, id: string, config: unknown): Promise<Prepared<Plugin>> {
    const { valid } = await checked(ctx, id, config);
    return {
      spec: { action: 'plugin.configure', target: { type: 'plugin', id } },
      write: async (trx) => {
        const current = assertFound(await store.findById(trx, id), 'The plugin');
        const version = Number(current.config_version) + 1;
        const values = {
          config: JSON.stringify(valid),
          version,
          createdBy: creatorOf(ctx),
          actor: actorOf(ctx).actor,
        };
        const updated = assertFound(await store.configure(trx, id, values, clock.now()), 'The plugin');
        return { before: toPlugin(current), after: toPlugin(updated) };
      },
      after: () => host.reload(),
    };
  }

  return {
    prepareConfigure,
    /**
     * Validates against the plugin's schema and keeps the previous versions. `dryRun` validates only. The
     * config may say where a plugin sends what it receives, so the caller becomes the plugin's creator (whose
     * permissions filter its after-hooks). Throws `validation_failed`, `forbidden`, `not_found`.
     */
    async configure(ctx: RequestCtx, id: string, config: unknown, dryRun: boolean): Promise<Plugin> {
      if (dryRun) {
        const { row, valid } = await checked(ctx, id, config);
        return toPlugin({ ...row, config: JSON.stringify(valid) });
      }
      return runPrepared(change, ctx, await prepareConfigure(ctx, id, config));
    },
  };
}

/** Use case: enabling, disabling and unregistering a plugin. */
function createPluginLifecycle(kit: Kit) {
  const { change, clock, host, store, toPlugin, load } = kit;

  /**
   * Enabling or disabling made ready: enabling needs what the plugin receives. Throws `not_found`,
   * `forbidden`.
   */
  async function prepareSetEnabled(ctx: RequestCtx, id: string, enabled: boolean): Promise<Prepared<Plugin>> {
    const current = await load(id);
    if (enabled)
      assertMayReceive(ctx, fromJson<PluginManifest>(current.manifest), `The plugin ${current.name}`);
    return {
      spec: { action: enabled ? 'plugin.enable' : 'plugin.disable', target: { type: 'plugin', id } },
      write: async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The plugin');
        const row = assertFound(await store.setEnabled(trx, id, enabled, clock.now()), 'The plugin');
        return { before: toPlugin(before), after: toPlugin(row) };
      },
      after: () => host.reload(),
    };
  }

  /** An unregistration made ready: 404 early, the row read again inside. Throws `not_found`. */
  async function prepareUnregister(_ctx: RequestCtx, id: string): Promise<Prepared<null>> {
    await load(id);
    return {
      spec: { action: 'plugin.unregister', target: { type: 'plugin', id } },
      write: async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The plugin');
        await store.delete(trx, id);
        return { before: toPlugin(before), after: null };
      },
      after: () => host.reload(),
    };
  }

  return {
    prepareSetEnabled,
    prepareUnregister,
    /** Enables a plugin. Throws `not_found`, `forbidden`. */
    enable: async (ctx: RequestCtx, id: string): Promise<Plugin> =>
      runPrepared(change, ctx, await prepareSetEnabled(ctx, id, true)),
    /** Disables a plugin. Throws `not_found`. */
    disable: async (ctx: RequestCtx, id: string): Promise<Plugin> =>
      runPrepared(change, ctx, await prepareSetEnabled(ctx, id, false)),

    /** Unregisters a plugin. Throws `not_found`. */
    async unregister(ctx: RequestCtx, id: string): Promise<void> {
      await runPrepared(change, ctx, await prepareUnregister(ctx, id));
    },
  };
}
