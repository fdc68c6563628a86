import ipaddr from 'ipaddr.js';
import type { Dispatcher } from 'undici';
import { undici } from '../../lib/undici.js';
import { isForbiddenAddress } from '../../lib/ssrf-guard.js';
import { webhookHeaders } from '../../lib/standard-webhooks.js';

export const EXCERPT_BYTES = 1024;

export type SendResult = {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  excerpt: string | null;
  error: string | null;
  /** From `Retry-After` on 429/502/503/504, in seconds. */
  retryAfterS: number | null;
};

/** `Retry-After` as seconds: a number, or an HTTP date. */
function retryAfter(value: string | string[] | undefined, nowMs: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - nowMs) / 1000));
}

/** Reads at most `EXCERPT_BYTES` of a body, then drops the rest: a huge or endless response costs nothing. */
async function excerpt(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    chunks.push(b);
    size += b.length;
    if (size >= EXCERPT_BYTES) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
}

/** Why a send threw: a timeout by name, else the error's message. */
function failureReason(err: unknown, timeoutMs: number): string {
  const e = err as Error & { code?: string };
  return e.name === 'TimeoutError' ||
    e.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e.code === 'UND_ERR_BODY_TIMEOUT'
    ? `timeout after ${timeoutMs} ms`
    : e.message || String(err);
}

/**
 * One signed POST (Standard Webhooks), for webhook deliveries and audit stream batches. 2xx is success; anything else, a 3xx included (never followed), a
 * timeout or a refused address is a failure with its reason recorded.
 */
export async function sendSigned(opts: {
  url: string;
  body: string;
  eventId: string;
  secrets: string[];
  timeoutMs: number;
  dispatcher: Dispatcher;
  allowPrivate: boolean;
  /** `application/json` unless given (audit streams send `application/x-ndjson`). */
  contentType?: string;
}): Promise<SendResult> {
  const started = performance.now();
  const done = (r: Omit<SendResult, 'latencyMs'>): SendResult => ({
    ...r,
    latencyMs: Math.round(performance.now() - started),
  });
  try {
    const host = new URL(opts.url).hostname.replace(/^\[|\]$/g, '');
    // A literal IP never goes through DNS, so the connect-time lookup guard would not see it.
    if (!opts.allowPrivate && ipaddr.isValid(host) && isForbiddenAddress(host)) {
      return done({
        ok: false,
        statusCode: null,
        excerpt: null,
        error: `refused: ${host} is an internal address`,
        retryAfterS: null,
      });
    }
    return done(await post(opts));
  } catch (err) {
    return done({
      ok: false,
      statusCode: null,
      excerpt: null,
      error: failureReason(err, opts.timeoutMs).slice(0, 500),
      retryAfterS: null,
    });
  }
}

/** The POST itself, once the address passed: the status, an excerpt of the body, and any `Retry-After`. */
async function post(opts: Parameters<typeof sendSigned>[0]): Promise<Omit<SendResult, 'latencyMs'>> {
  const headers = webhookHeaders(opts.secrets, opts.eventId, Math.floor(Date.now() / 1000), opts.body);
  const res = await undici().request(opts.url, {
    method: 'POST',
    body: opts.body,
    headers: {
      ...headers,
      'content-type': opts.contentType ?? 'application/json',
      'user-agent': 'Gatehouse-Webhooks/1',
    },
    dispatcher: opts.dispatcher,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  const text = await excerpt(res.body).catch(() => '');
  const ok = res.statusCode >= 200 && res.statusCode < 300;
  const ra = [429, 502, 503, 504].includes(res.statusCode)
    ? retryAfter(res.headers['retry-after'], Date.now())
    : null;
  return {
    ok,
    statusCode: res.statusCode,
    excerpt: text,
    error: ok ? null : `HTTP ${res.statusCode}`,
    retryAfterS: ra,
  };
}
