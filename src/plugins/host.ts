import type { Logger } from 'pino';
import { fromJson } from '../db/codecs.js';
import type { PluginsTable } from '../db/tables.js';
import { AppError } from '../errors.js';
import type { RequestCtx } from '../lib/request-ctx.js';
import { actorOf } from '../lib/request-ctx.js';
import type { BeforeInput, PluginDefinition, PluginManifest, Verdict } from './define.js';
import { createIsolatedPlugin, type IsolatedPlugin } from './isolate.js';
import { findModulePlugin } from './resolve.js';
import { createAfterRelay } from './after-relay.js';
import {
  callAfter,
  createHostState,
  healthOf,
  loadPlugin,
  noteReach,
  record,
  verdictOf,
  type HostDeps,
  type HostState,
  type Loaded,
} from './host-calls.js';

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

/** A shipped plugin runs in-process (all it computes is bounded); any other in its worker, reused across reloads. */
function moduleOf(
  state: HostState,
  row: PluginsTable,
  manifest: PluginManifest,
  kept: Map<string, IsolatedPlugin>,
): PluginDefinition {
  const { logger } = state.deps;
  const source = findModulePlugin(row.name, state.deps.pluginsDir);
  if (source.kind === 'builtin') return source.definition;
  let isolated = state.isolates.get(row.id);
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

/** Reloads the enabled plugins from the database (after a registry change, and periodically). */
async function reload(state: HostState): Promise<void> {
  const { logger } = state.deps;
  const rows = await state.deps.store.listEnabled(state.deps.db);
  const next: Loaded[] = [];
  const kept = new Map<string, IsolatedPlugin>();
  for (const row of rows) {
    const manifest = fromJson<PluginManifest>(row.manifest);
    try {
      const module = row.kind === 'module' ? moduleOf(state, row, manifest, kept) : undefined;
      next.push(loadPlugin(state, row, manifest, module));
    } catch (err) {
      logger.error({ err, plugin: row.name }, 'an enabled plugin could not be loaded; it is skipped');
    }
  }
  for (const [id, isolated] of state.isolates) if (kept.get(id) !== isolated) isolated.close();
  state.isolates = kept;
  state.loaded = next.sort(
    (a, b) => (a.manifest.order ?? 0) - (b.manifest.order ?? 0) || a.row.name.localeCompare(b.row.name),
  );
  const byAction = new Map<string, Loaded[]>();
  for (const p of state.loaded)
    for (const action of new Set(p.manifest.hooks?.before ?? []))
      byAction.set(action, [...(byAction.get(action) ?? []), p]);
  state.beforeHooks = byAction;
  state.connections.retain(new Set(state.loaded.map((p) => p.row.id)));
}

/** Runs the before-hooks for an action, in order. Throws `plugin.denied` (422) or `unavailable` (503, policy fail). */
async function runBefore(
  state: HostState,
  ctx: RequestCtx,
  spec: { action: string; target: { type: string; id: string | null }; input?: Record<string, unknown> },
): Promise<void> {
  const hooked = state.beforeHooks.get(spec.action);
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
      verdict = await verdictOf(state, p, input);
      record(state, p.row.id, performance.now() - started, null);
    } catch (err) {
      const message = (err as Error).message || String(err);
      record(state, p.row.id, performance.now() - started, message);
      if ((p.manifest.failure_policy ?? 'fail') === 'ignore') {
        state.deps.logger.warn(
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
}

/**
 * Loads, calls and times plugins. Before-hooks run from `change()` in `order`, each within its timeout; a
 * timeout or error follows the plugin's failure policy. After-hooks follow the audit log by `seq`, at least
 * once, and never break a request.
 */
export function createPluginHost(deps: HostDeps) {
  const state = createHostState(deps);
  const relay = createAfterRelay({
    ...deps,
    plugins: () => state.loaded,
    call: (p, event) => callAfter(state, p, event),
    noteReach: (p, why) => noteReach(state, p, why),
    reload: () => host.reload(),
  });

  const host = {
    /** The manifest of an installed module plugin, to register it (`inspectModulePlugin`). Throws `unprocessable`. */
    inspect: (name: string) => inspectModulePlugin(name, deps.pluginsDir, deps.logger),

    /** Reloads the enabled plugins from the database (after a registry change, and periodically). */
    reload: (): Promise<void> => reload(state),

    /** Runs the before-hooks for an action, in order. Throws `plugin.denied` (422) or `unavailable` (503, policy fail). */
    runBefore: (ctx: RequestCtx, spec: Parameters<typeof runBefore>[2]): Promise<void> =>
      runBefore(state, ctx, spec),

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
      for (const isolated of state.isolates.values()) isolated.close();
      state.isolates.clear();
      return state.connections.close();
    },

    health: (id: string) => healthOf(state, id),
  };
  return host;
}
export type PluginHost = ReturnType<typeof createPluginHost>;
