import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { AfterEvent, BeforeInput, PluginDefinition, PluginManifest, Verdict } from './define.js';

/** How long a worker may take to start and import its plugin before it is given up. */
export const LOAD_TIMEOUT_MS = 10_000;

/**
 * The worker's whole program, as source (a worker cannot run TypeScript, and a string needs no file next to
 * the built output). It imports the plugin, checks its default export, answers each hook call with the
 * hook's result, and forwards `ctx.log` to the main thread.
 */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const send = (msg) => { try { parentPort.postMessage(msg); } catch (err) { parentPort.postMessage({ ...msg, result: undefined, extra: undefined, error: msg.type === 'result' ? 'answered with a value that cannot be sent: ' + err.message : undefined }); } };
const logAt = (level) => (msg, extra) => send({ type: 'log', level, msg: String(msg), extra });
const log = { info: logAt('info'), warn: logAt('warn') };
import(workerData.url).then((mod) => {
  const def = mod.default;
  if (!def || typeof def !== 'object' || def.name !== workerData.name) {
    send({ type: 'ready', error: 'does not default-export definePlugin({ name: ' + JSON.stringify(workerData.name) + ', … })' });
    return;
  }
  parentPort.on('message', async ({ id, hook, arg, config }) => {
    try {
      if (typeof def[hook] !== 'function') throw new Error('has no ' + hook + ' hook');
      const result = await def[hook](arg, { config, log });
      send({ type: 'result', id, result: hook === 'before' ? result : undefined });
    } catch (err) {
      send({ type: 'result', id, error: String((err && err.message) || err) });
    }
  });
  const { before, after, ...manifest } = def;
  send({ type: 'ready', manifest: JSON.parse(JSON.stringify(manifest)) });
}, (err) => send({ type: 'ready', error: 'could not be imported', cause: String((err && err.stack) || err) }));
`;

type Ready = { manifest: PluginManifest };
type Message =
  | { type: 'ready'; manifest?: PluginManifest; error?: string; cause?: string }
  | { type: 'result'; id: number; result?: unknown; error?: string }
  | { type: 'log'; level: 'info' | 'warn'; msg: string; extra?: object };
type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void; timer?: NodeJS.Timeout };

/** A before-hook's answer from another thread is data to check, like an http plugin's. */
function toVerdict(answer: unknown): Verdict {
  const a = (answer ?? {}) as { allow?: unknown; reason?: unknown };
  if (a.allow === true) return { allow: true };
  if (a.allow === false)
    return {
      allow: false,
      reason: typeof a.reason === 'string' ? a.reason.slice(0, 500) : 'no reason given',
    };
  throw new Error('answered neither {allow: true} nor {allow: false, reason}');
}

/** One isolated plugin's state, shared by the steps below. */
type IsolateState = {
  opts: { name: string; file: string; logger: Logger };
  worker: Worker | null;
  ready: Promise<Ready>;
  closed: boolean;
  nextId: number;
  pending: Map<number, Pending>;
};

function failAll(state: IsolateState, message: string): void {
  for (const p of state.pending.values()) {
    clearTimeout(p.timer);
    p.reject(new Error(message));
  }
  state.pending.clear();
}

function stop(state: IsolateState, w: Worker, message: string): void {
  if (state.worker === w) state.worker = null;
  failAll(state, message);
  void w.terminate();
}

/** A log line or a hook's result from the worker (its `ready` is handled by `spawn`). */
function onWorkerMessage(state: IsolateState, msg: Exclude<Message, { type: 'ready' }>): void {
  if (msg.type === 'log') {
    state.opts.logger[msg.level === 'warn' ? 'warn' : 'info'](
      { ...msg.extra, plugin: state.opts.name },
      msg.msg,
    );
    return;
  }
  const call = state.pending.get(msg.id);
  if (!call) return;
  state.pending.delete(msg.id);
  clearTimeout(call.timer);
  if (msg.error === undefined) call.resolve(msg.result);
  else call.reject(new Error(msg.error));
}

function spawn(state: IsolateState): void {
  const { name, logger } = state.opts;
  const w = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { url: pathToFileURL(state.opts.file).href, name },
    resourceLimits: { maxOldGenerationSizeMb: 256 },
  });
  w.unref();
  state.worker = w;
  state.ready = new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`did not load within ${LOAD_TIMEOUT_MS} ms`));
      stop(state, w, 'did not load in time');
    }, LOAD_TIMEOUT_MS);
    w.on('message', (msg: Message) => {
      if (msg.type !== 'ready') return onWorkerMessage(state, msg);
      clearTimeout(timer);
      if (msg.cause) logger.error({ plugin: name, err: msg.cause }, 'a module plugin could not be imported');
      if (msg.manifest) resolve({ manifest: msg.manifest });
      else reject(new Error(msg.error ?? 'did not load'));
    });
    w.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
      stop(state, w, `crashed: ${err.message}`);
    });
    w.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with code ${code}`));
      if (state.worker === w) stop(state, w, `exited with code ${code}`);
    });
  });
  state.ready.catch(() => undefined); // awaited by calls; a load that fails with none waiting is not an unhandled rejection
}

/**
 * The call's timer starts now, before the host's own, so a spinning worker is stopped before the host gives
 * up on the call and before any later call can be queued behind it. Time spent waiting for a starting worker
 * counts too, but only a call the worker has received can stop it: a worker that is starting is not stuck.
 */
function call(
  state: IsolateState,
  hook: 'before' | 'after',
  arg: BeforeInput | AfterEvent,
  config: Record<string, unknown>,
  timeoutMs: number,
): Promise<unknown> {
  if (state.closed) return Promise.reject(new Error('the plugin was unloaded'));
  if (!state.worker) spawn(state);
  const w = state.worker as Worker;
  const started = state.ready;
  const id = (state.nextId += 1);
  let sent = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (sent) {
        stop(state, w, `timed out after ${timeoutMs} ms`);
        if (!state.closed) spawn(state); // the next call should not wait for a worker to start
      } else {
        state.pending.delete(id);
        reject(new Error(`timed out after ${timeoutMs} ms, its worker still starting`));
      }
    }, timeoutMs);
    state.pending.set(id, { resolve, reject, timer });
    started.then(
      () => {
        if (!state.pending.has(id)) return;
        sent = true;
        w.postMessage({ id, hook, arg, config });
      },
      (err: unknown) => {
        if (!state.pending.delete(id)) return;
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/**
 * A module plugin from PLUGINS_DIR or a package, run in a worker thread of its own: its hooks can block
 * that thread, never the event loop that serves requests. A call that outlives `timeoutMs` (counted once the
 * worker is ready) terminates the worker, which V8 does even inside `while (true) {}`; every call pending on
 * it fails with the timeout, and a fresh worker is started for the next ones. The `PluginContext` crosses the
 * thread as data: `config` is sent with each call, `log` comes back as messages.
 */
export function createIsolatedPlugin(opts: { name: string; file: string; logger: Logger }) {
  const state: IsolateState = {
    opts,
    worker: null,
    ready: new Promise(() => undefined), // replaced by spawn() before anyone awaits it
    closed: false,
    nextId: 0,
    pending: new Map(),
  };
  return {
    file: opts.file,
    /** Starts the worker and resolves with the plugin's manifest once it has loaded. Throws an `Error` saying why not. */
    async start(): Promise<PluginManifest> {
      if (!state.worker) spawn(state);
      return (await state.ready).manifest;
    },
    /** The plugin as the host calls it: the manifest it was registered with, and hooks that cross to the worker. */
    definition(manifest: PluginManifest, timeoutMs: number): PluginDefinition {
      return {
        ...manifest,
        before: async (input, ctx) => toVerdict(await call(state, 'before', input, ctx.config, timeoutMs)),
        after: async (event, ctx) => {
          await call(state, 'after', event, ctx.config, timeoutMs);
        },
      };
    },
    close(): void {
      state.closed = true;
      if (state.worker) stop(state, state.worker, 'the plugin was unloaded');
    },
  };
}
export type IsolatedPlugin = ReturnType<typeof createIsolatedPlugin>;
