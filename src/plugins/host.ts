import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { fromJson } from '../db/codecs.js';
import type { PluginsTable, Tables } from '../db/tables.js';
import { AppError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import type { RequestCtx } from '../lib/request-ctx.js';
import { actorOf } from '../lib/request-ctx.js';
import type { CreatorPermissions } from '../modules/events/reach.js';
import type {
  AfterEvent,
  BeforeInput,
  PluginContext,
  PluginDefinition,
  PluginManifest,
  Verdict,
} from './define.js';
import { createPluginConnections, httpTarget, postSigned, type HttpTarget } from './http-call.js';
import { createIsolatedPlugin, type IsolatedPlugin } from './isolate.js';
import type { PluginsStore } from '../modules/plugins/module.js';
import { findModulePlugin } from './resolve.js';
import { createAfterRelay } from './after-relay.js';

/** The last `LATENCIES` call times, in a ring: recording one is O(1); p99 is worked out when read. */
const LATENCIES = 1000;
type Health = { calls: number; failures: number; last_error: string | null; latencies: Float64Array };
/**
 * An enabled plugin as the host calls it; everything a call needs that does not change between calls (its
 * context, timeout, http target) is built here, once per reload.
 */
type Loaded = {
  row: PluginsTable;
  manifest: PluginManifest;
  config: Record<string, unknown>;
  module?: PluginDefinition;
  context: PluginContext<Record<string, unknown>>;
  timeoutMs: number;
  target: HttpTarget | Error | null;
};

/**
 * The manifest of an installed module plugin, for registering it: a shipped plugin's is read in-process; any
 * other is imported in a worker of its own (its code never runs on the main thread), which then stops.
 * Throws `unprocessable`, naming no server path (the server log has the import error).
 */
export async function inspectModulePlugin(
  name: string,
  pluginsDir: string,
  logger: Logger,
): Promise<PluginManifest> {
  const source = findModulePlugin(name, pluginsDir);
  if (source.kind === 'builtin') {
    const { before: _b, after: _a, validate: _v, ...manifest } = source.definition;
    return manifest;
  }
  const isolated = createIsolatedPlugin({ name, file: source.file, logger });
  try {
    return await isolated.start();
  } catch (err) {
    throw new AppError('unprocessable', `The module plugin ${name} ${(err as Error).message}.`);
  } finally {
    isolated.close();
  }
}

const p99 = (h: Health) => {
  const n = Math.min(h.calls, LATENCIES);
  if (n === 0) return null;
  const s = h.latencies.slice(0, n).sort();
  return s[Math.min(n - 1, Math.floor(n * 0.99))] ?? null;
};

/** A before-hook's answer; after-hooks' answers are not read, any 2xx acknowledges the event. */
function parseAnswer(text: string): { allow?: unknown; reason?: unknown } {
  try {
    return (JSON.parse(text) ?? {}) as { allow?: unknown; reason?: unknown };
  } catch {
    throw new Error('answered with something that is not JSON');
  }
}

const isThenable = (x: unknown): x is PromiseLike<unknown> =>
  typeof (x as { then?: unknown } | null)?.then === 'function';

/**
 * Loads, calls and times plugins. Before-hooks run from `change()` in `order`, each within its timeout; a
 * timeout or error follows the plugin's failure policy. After-hooks follow the audit log by `seq`, at least
 * once, and never break a request.
 */
export function createPluginHost(deps: {
  db: Kysely<Tables>;
  logger: Logger;
  pluginsDir: string;
  allowPrivate: () => boolean;
  /** `<DATA_DIR>/exports`: the only folder a plugin writes files to. */
  exportsDir: string;
  /** Plugins' creators' current permissions: what each plugin's after-hooks and audit feed may receive. */
  creatorPermissions: CreatorPermissions;
  /** The plugins module's store: the host loads enabled plugins and leases and moves their cursors only through it. */
  store: Pick<PluginsStore, 'listEnabled' | 'claimAfter' | 'advanceAfter' | 'releaseAfter'>;
  clock: Clock;
  /** The audit log's head: a cursor at it has nothing to deliver, and is not claimed. */
  auditHeadSeq: () => Promise<number>;
}) {
  const { db, logger } = deps;
  const connections = createPluginConnections(deps.allowPrivate);
  let loaded: Loaded[] = [];
  /** The enabled plugins with a before-hook on each action, in call order. */
  let beforeHooks = new Map<string, Loaded[]>();
  const health = new Map<string, Health>();
  /** Module plugins other than the shipped ones, by plugin id: one worker each, kept across reloads. */
  let isolates = new Map<string, IsolatedPlugin>();

  function record(id: string, ms: number, error: string | null): void {
    let h = health.get(id);
    if (!h)
      health.set(
        id,
        (h = { calls: 0, failures: 0, last_error: null, latencies: new Float64Array(LATENCIES) }),
      );
    h.latencies[h.calls % LATENCIES] = ms;
    h.calls += 1;
    if (error) {
      h.failures += 1;
      h.last_error = error.slice(0, 500);
    }
  }

  async function callHttp(p: Loaded, body: unknown): Promise<string> {
    if (!p.target) throw new Error('an http plugin without a URL');
    if (p.target instanceof Error) throw p.target;
    return postSigned(connections.for(p.row.id, p.target.origin), p.target, body);
  }

  async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>(
      (_r, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)),
    );
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Why a plugin receives nothing (or null once it may again): in its health, and logged when it changes. */
  const notes = new Map<string, string | null>();
  function noteReach(p: Loaded, why: string | null): void {
    if ((notes.get(p.row.id) ?? null) === why) return;
    notes.set(p.row.id, why);
    if (why) logger.warn({ plugin: p.row.name }, `plugin ${p.row.name}: ${why}`);
  }

  const env = {
    exportsDir: deps.exportsDir,
    get allowPrivateTargets() {
      return deps.allowPrivate();
    },
  };
  const contextOf = (
    manifest: PluginManifest,
    config: Record<string, unknown>,
  ): PluginContext<Record<string, unknown>> => ({
    config,
    env,
    log: {
      info: (msg: string, extra?: object) => logger.info({ plugin: manifest.name, ...extra }, msg),
      warn: (msg: string, extra?: object) => logger.warn({ plugin: manifest.name, ...extra }, msg),
    },
  });

  function load(row: PluginsTable, manifest: PluginManifest, module: PluginDefinition | undefined): Loaded {
    const config = fromJson<Record<string, unknown>>(row.config);
    const timeoutMs = manifest.timeout_ms ?? 2000;
    let target: HttpTarget | Error | null = null;
    if (!module && row.url) {
      try {
        target = httpTarget(row.url, row.secret ?? '', timeoutMs);
      } catch (err) {
        target = new Error(`unusable URL: ${(err as Error).message}`);
      }
    }
    return {
      row,
      manifest,
      config,
      ...(module ? { module } : {}),
      context: contextOf(manifest, config),
      timeoutMs,
      target,
    };
  }

  /** A shipped plugin runs in-process (all it computes is bounded); any other in its worker, reused across reloads. */
  function moduleOf(
    row: PluginsTable,
    manifest: PluginManifest,
    kept: Map<string, IsolatedPlugin>,
  ): PluginDefinition {
    const source = findModulePlugin(row.name, deps.pluginsDir);
    if (source.kind === 'builtin') return source.definition;
    let isolated = isolates.get(row.id);
    if (isolated?.file !== source.file) {
      isolated = createIsolatedPlugin({ name: row.name, file: source.file, logger });
      void isolated
        .start()
        .catch((err: unknown) =>
          logger.error(
            { plugin: row.name, err: (err as Error).message },
            'a module plugin could not be loaded; its hooks fail by its failure policy',
          ),
        );
    }
    kept.set(row.id, isolated);
    return isolated.definition(manifest, manifest.timeout_ms ?? 2000);
  }

  async function verdictOf(p: Loaded, input: BeforeInput): Promise<Verdict> {
    if (p.module?.before) {
      const verdict = p.module.before(input, p.context);
      // A synchronous hook has answered before any timer could fire: only a pending one needs the race.
      return isThenable(verdict) ? withTimeout(Promise.resolve(verdict), p.timeoutMs) : verdict;
    }
    const answer = parseAnswer(await callHttp(p, { hook: 'before', ...input }));
    if (answer.allow === true) return { allow: true };
    if (answer.allow === false)
      return {
        allow: false,
        reason: typeof answer.reason === 'string' ? answer.reason.slice(0, 500) : 'no reason given',
      };
    throw new Error('answered neither {allow: true} nor {allow: false, reason}');
  }

  /** Calls one after-hook; false when it failed (recorded, logged: the event is retried next round). */
  async function callAfter(p: Loaded, event: AfterEvent): Promise<boolean> {
    const started = performance.now();
    try {
      if (p.module?.after) await withTimeout(Promise.resolve(p.module.after(event, p.context)), p.timeoutMs);
      else if (!p.module) await callHttp(p, { hook: 'after', event });
      record(p.row.id, performance.now() - started, null);
      return true;
    } catch (err) {
      record(p.row.id, performance.now() - started, (err as Error).message);
      logger.warn(
        { plugin: p.row.name, seq: event.seq, err: (err as Error).message },
        'plugin after-hook failed; it will be retried',
      );
      return false;
    }
  }

  const relay = createAfterRelay({
    ...deps,
    plugins: () => loaded,
    call: callAfter,
    noteReach,
    reload: () => host.reload(),
  });

  const host = {
    /** The manifest of an installed module plugin, to register it (`inspectModulePlugin`). Throws `unprocessable`. */
    inspect: (name: string) => inspectModulePlugin(name, deps.pluginsDir, logger),

    /** Reloads the enabled plugins from the database (after a registry change, and periodically). */
    async reload(): Promise<void> {
      const rows = await deps.store.listEnabled(db);
      const next: Loaded[] = [];
      const kept = new Map<string, IsolatedPlugin>();
      for (const row of rows) {
        const manifest = fromJson<PluginManifest>(row.manifest);
        try {
          const module = row.kind === 'module' ? moduleOf(row, manifest, kept) : undefined;
          next.push(load(row, manifest, module));
        } catch (err) {
          logger.error({ err, plugin: row.name }, 'an enabled plugin could not be loaded; it is skipped');
        }
      }
      for (const [id, isolated] of isolates) if (kept.get(id) !== isolated) isolated.close();
      isolates = kept;
      loaded = next.sort(
        (a, b) => (a.manifest.order ?? 0) - (b.manifest.order ?? 0) || a.row.name.localeCompare(b.row.name),
      );
      const byAction = new Map<string, Loaded[]>();
      for (const p of loaded)
        for (const action of new Set(p.manifest.hooks?.before ?? []))
          byAction.set(action, [...(byAction.get(action) ?? []), p]);
      beforeHooks = byAction;
      connections.retain(new Set(loaded.map((p) => p.row.id)));
    },

    /** Runs the before-hooks for an action, in order. Throws `plugin.denied` (422) or `unavailable` (503, policy fail). */
    async runBefore(
      ctx: RequestCtx,
      spec: { action: string; target: { type: string; id: string | null }; input?: Record<string, unknown> },
    ): Promise<void> {
      const hooked = beforeHooks.get(spec.action);
      if (!hooked) return;
      const { actor, actorName } = actorOf(ctx);
      const input: BeforeInput = {
        action: spec.action,
        target: spec.target,
        input: spec.input ?? {},
        actor: { id: actor, name: actorName },
      };
      for (const p of hooked) {
        const started = performance.now();
        let verdict: Verdict;
        try {
          verdict = await verdictOf(p, input);
          record(p.row.id, performance.now() - started, null);
        } catch (err) {
          const message = (err as Error).message || String(err);
          record(p.row.id, performance.now() - started, message);
          if ((p.manifest.failure_policy ?? 'fail') === 'ignore') {
            logger.warn(
              { plugin: p.row.name, err: message },
              'plugin before-hook failed; ignored by its failure policy',
            );
            continue;
          }
          throw new AppError(
            'unavailable',
            `The plugin ${p.row.name} did not answer (${message}); its failure policy refuses the change.`,
            { plugin: p.row.name, retry_after_s: 5 },
          );
        }
        if (!verdict.allow)
          throw new AppError('plugin.denied', `${p.row.name}: ${verdict.reason}`, {
            plugin: p.row.name,
            reason: verdict.reason,
          });
      }
    },

    /**
     * One after-hook round now (after-relay.ts): each plugin's events after its cursor, in `seq` order, the
     * cursor leased so that one process at a time delivers them. Rounds of one process never overlap.
     */
    runAfter: (batch?: number) => relay.runAfter(batch),

    /**
     * Runs after-hook rounds every `intervalMs`, and reloads the plugins every few rounds so other instances'
     * registry changes apply. The answer stops it: no round starts, the one running ends after its current
     * call, and every cursor lease this process holds is given back.
     */
    start(intervalMs = 500): () => Promise<void> {
      relay.start(intervalMs);
      return () => relay.stop();
    },

    /** Closes the http plugins' connections (at shutdown, after the server has drained). */
    close: () => {
      for (const isolated of isolates.values()) isolated.close();
      isolates.clear();
      return connections.close();
    },

    health(id: string) {
      const h = health.get(id);
      return {
        calls: h?.calls ?? 0,
        failures: h?.failures ?? 0,
        last_error: notes.get(id) ?? h?.last_error ?? null,
        p99_ms: h ? p99(h) : null,
      };
    },
  };
  return host;
}
export type PluginHost = ReturnType<typeof createPluginHost>;
