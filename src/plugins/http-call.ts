import type { Dispatcher, Pool } from 'undici';
import { CONNECT_TIMEOUT_MS, guardedConnector } from '../lib/ssrf-guard.js';
import { webhookHeaders } from '../lib/standard-webhooks.js';
import { undici } from '../lib/undici.js';

/** A verdict is a few bytes; an answer larger than this is a failure, and nothing more of it is read. */
export const ANSWER_LIMIT_BYTES = 64 * 1024;

/**
 * One keep-alive pool per http plugin (pipelining off), reused by all its calls: no connection is shared
 * between plugins, and each pool lives as long as its plugin stays loaded with the same origin and the same
 * `allow_private_targets`. A change of either gets a new pool, so a connection opened under the old rules is
 * never reused.
 */
export function createPluginConnections(allowPrivate: () => boolean) {
  const pools = new Map<string, { origin: string; open: boolean; pool: Pool }>();
  const guarded = guardedConnector();
  const retire = (pool: Pool) => void pool.close().catch(() => undefined);
  return {
    /** The pool for a plugin's calls to `origin`, under the current setting. */
    for(pluginId: string, origin: string): Dispatcher {
      const open = allowPrivate();
      const current = pools.get(pluginId);
      if (current?.origin === origin && current.open === open) return current.pool;
      if (current) retire(current.pool);
      const pool = new (undici().Pool)(origin, {
        connect: open ? { timeout: CONNECT_TIMEOUT_MS } : guarded,
        connections: 64,
        pipelining: 1,
        keepAliveTimeout: 10_000,
      });
      pools.set(pluginId, { origin, open, pool });
      return pool;
    },
    /** Closes the pools of plugins that are no longer loaded, once their calls in flight are done. */
    retain(pluginIds: ReadonlySet<string>): void {
      for (const [id, { pool }] of pools) {
        if (pluginIds.has(id)) continue;
        pools.delete(id);
        retire(pool);
      }
    },
    /** Destroys every pool: at shutdown a plugin that never answers must not hold the process. */
    async close(): Promise<void> {
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map(({ pool }) => pool.destroy()));
    },
  };
}

/** What every call to one http plugin shares, worked out once per (re)load rather than per call. */
export type HttpTarget = { origin: string; path: string; secret: string; timeoutMs: number };

/** Throws on a URL that does not parse. */
export function httpTarget(url: string, secret: string, timeoutMs: number): HttpTarget {
  const u = new URL(url);
  return { origin: u.origin, path: `${u.pathname}${u.search}`, secret, timeoutMs };
}

/**
 * POSTs `payload` as signed JSON (Standard Webhooks headers) and resolves with the 2xx answer's text. The
 * answer is read by a bare dispatch handler (no response stream, no AbortSignal): the per-call cost is the
 * exchange itself. One timer bounds the whole call, queueing and connecting included, at `timeoutMs`; a
 * non-2xx status or an answer over `ANSWER_LIMIT_BYTES` rejects. `dispatcher` is the plugin's own pool.
 */
export function postSigned(dispatcher: Dispatcher, target: HttpTarget, payload: unknown): Promise<string> {
  const body = JSON.stringify(payload);
  const id = `call_${Date.now()}_${Math.random().toString(36).slice(2)}`;
  const headers = {
    ...webhookHeaders([target.secret], id, Math.floor(Date.now() / 1000), body),
    'content-type': 'application/json',
  };
  const ms = target.timeoutMs;
  return new Promise<string>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | null = null;
    let settled = false;
    let status = 0;
    let size = 0;
    const chunks: Buffer[] = [];
    const settle = (err: Error | null, text = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(text);
    };
    const fail = (err: Error) => {
      settle(err);
      if (controller && !controller.aborted) controller.abort(err);
    };
    const timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms`)), ms);
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        // Timed out while queued or connecting: give the slot back at once.
        if (settled) c.abort(new Error(`timed out after ${ms} ms`));
      },
      onResponseStart(_c, statusCode) {
        status = statusCode;
      },
      onResponseData(_c, chunk) {
        size += chunk.length;
        if (size > ANSWER_LIMIT_BYTES) fail(new Error(`answer larger than ${ANSWER_LIMIT_BYTES} bytes`));
        else chunks.push(chunk);
      },
      onResponseEnd() {
        if (status < 200 || status >= 300) return settle(new Error(`HTTP ${status}`));
        settle(
          null,
          chunks.length === 1
            ? (chunks[0] as Buffer).toString('utf8')
            : Buffer.concat(chunks).toString('utf8'),
        );
      },
      onResponseError(_c, err) {
        settle(err);
      },
    };
    // No headersTimeout/bodyTimeout of its own: the timer above already bounds the whole call.
    dispatcher.dispatch({ origin: target.origin, path: target.path, method: 'POST', headers, body }, handler);
  });
}
