import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { fromJson } from '../db/codecs.js';
import type { PluginsTable, Tables } from '../db/tables.js';
import type { Clock } from '../lib/clock.js';
import type { CreatorPermissions } from '../modules/events/reach.js';
import type { PluginsStore } from '../modules/plugins/module.js';
import type {
  AfterEvent,
  BeforeInput,
  PluginContext,
  PluginDefinition,
  PluginManifest,
  Verdict,
} from './define.js';
import { createPluginConnections, httpTarget, postSigned, type HttpTarget } from './http-call.js';
import type { IsolatedPlugin } from './isolate.js';

/** What the plugin host is built from (`createPluginHost`). */
export type HostDeps = {
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
};

/** The last `LATENCIES` call times, in a ring: recording one is O(1); p99 is worked out when read. */
const LATENCIES = 1000;
type Health = { calls: number; failures: number; last_error: string | null; latencies: Float64Array };
/**
 * An enabled plugin as the host calls it; everything a call needs that does not change between calls (its
 * context, timeout, http target) is built here, once per reload.
 */
export type Loaded = {
  row: PluginsTable;
  manifest: PluginManifest;
  config: Record<string, unknown>;
  module?: PluginDefinition;
  context: PluginContext<Record<string, unknown>>;
  timeoutMs: number;
  target: HttpTarget | Error | null;
};

/** The plugin host's state, shared by its steps (host.ts, and the calls here). */
export type HostState = ReturnType<typeof createHostState>;

/** A new host's state: nothing loaded yet. */
export function createHostState(deps: HostDeps) {
  return {
    deps,
    connections: createPluginConnections(deps.allowPrivate),
    loaded: [] as Loaded[],
    /** The enabled plugins with a before-hook on each action, in call order. */
    beforeHooks: new Map<string, Loaded[]>(),
    health: new Map<string, Health>(),
    /** Why a plugin receives nothing (or null once it may again): in its health, and logged when it changes. */
    notes: new Map<string, string | null>(),
    /** Module plugins other than the shipped ones, by plugin id: one worker each, kept across reloads. */
    isolates: new Map<string, IsolatedPlugin>(),
    env: {
      exportsDir: deps.exportsDir,
      get allowPrivateTargets() {
        return deps.allowPrivate();
      },
    },
  };
}

const p99 = (h: Health) => {
  const n = Math.min(h.calls, LATENCIES);
  if (n === 0) return null;
  const s = h.latencies.slice(0, n).sort();
  return s[Math.min(n - 1, Math.floor(n * 0.99))] ?? null;
};

/** A plugin's calls, failures and p99 as the API shows them. */
export function healthOf(state: HostState, id: string) {
  const h = state.health.get(id);
  return {
    calls: h?.calls ?? 0,
    failures: h?.failures ?? 0,
    last_error: state.notes.get(id) ?? h?.last_error ?? null,
    p99_ms: h ? p99(h) : null,
  };
}

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

export function record(state: HostState, id: string, ms: number, error: string | null): void {
  let h = state.health.get(id);
  if (!h)
    state.health.set(
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

async function callHttp(state: HostState, p: Loaded, body: unknown): Promise<string> {
  if (!p.target) throw new Error('an http plugin without a URL');
  if (p.target instanceof Error) throw p.target;
  return postSigned(state.connections.for(p.row.id, p.target.origin), p.target, body);
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

/** Records why a plugin receives nothing (or null once it may again), logging when it changes. */
export function noteReach(state: HostState, p: Loaded, why: string | null): void {
  if ((state.notes.get(p.row.id) ?? null) === why) return;
  state.notes.set(p.row.id, why);
  if (why) state.deps.logger.warn({ plugin: p.row.name }, `plugin ${p.row.name}: ${why}`);
}

function contextOf(
  state: HostState,
  manifest: PluginManifest,
  config: Record<string, unknown>,
): PluginContext<Record<string, unknown>> {
  const { logger } = state.deps;
  return {
    config,
    env: state.env,
    log: {
      info: (msg: string, extra?: object) => logger.info({ plugin: manifest.name, ...extra }, msg),
      warn: (msg: string, extra?: object) => logger.warn({ plugin: manifest.name, ...extra }, msg),
    },
  };
}

/** An enabled plugin's row made callable (`Loaded`). */
export function loadPlugin(
  state: HostState,
  row: PluginsTable,
  manifest: PluginManifest,
  module: PluginDefinition | undefined,
): Loaded {
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
    context: contextOf(state, manifest, config),
    timeoutMs,
    target,
  };
}

/** One before-hook's verdict on a change. Throws when the plugin fails, times out or answers neither. */
export async function verdictOf(state: HostState, p: Loaded, input: BeforeInput): Promise<Verdict> {
  if (p.module?.before) {
    const verdict = p.module.before(input, p.context);
    // A synchronous hook has answered before any timer could fire: only a pending one needs the race.
    return isThenable(verdict) ? withTimeout(Promise.resolve(verdict), p.timeoutMs) : verdict;
  }
  const answer = parseAnswer(await callHttp(state, p, { hook: 'before', ...input }));
  if (answer.allow === true) return { allow: true };
  if (answer.allow === false)
    return {
      allow: false,
      reason: typeof answer.reason === 'string' ? answer.reason.slice(0, 500) : 'no reason given',
    };
  throw new Error('answered neither {allow: true} nor {allow: false, reason}');
}

/** Calls one after-hook; false when it failed (recorded, logged: the event is retried next round). */
export async function callAfter(state: HostState, p: Loaded, event: AfterEvent): Promise<boolean> {
  const started = performance.now();
  try {
    if (p.module?.after) await withTimeout(Promise.resolve(p.module.after(event, p.context)), p.timeoutMs);
    else if (!p.module) await callHttp(state, p, { hook: 'after', event });
    record(state, p.row.id, performance.now() - started, null);
    return true;
  } catch (err) {
    record(state, p.row.id, performance.now() - started, (err as Error).message);
    state.deps.logger.warn(
      { plugin: p.row.name, seq: event.seq, err: (err as Error).message },
      'plugin after-hook failed; it will be retried',
    );
    return false;
  }
}
