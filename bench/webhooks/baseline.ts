/**
 * The transport alone: the same receiver driven by a plain loop of undici POSTs, `concurrency` at a time,
 * with what the worker's sender puts on the wire (a user-shaped Standard Webhooks body, the three signed
 * headers, an HMAC per request) and an undici Agent configured like Gatehouse's outbound one
 * (`src/lib/ssrf-guard.ts`: 64 connections per origin, 10 s keep-alive). No database, no leasing.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { typeid } from 'typeid-js';
import { nowMs } from './db.js';
import type { Receiver } from './procs.js';

export type BaselineResult = {
  concurrency: number;
  n: number;
  ms: number;
  perSecond: number;
  non2xx: number;
  errors: number;
  connectionsUsed: number;
};

export async function runBaseline(
  receiver: Receiver,
  n: number,
  concurrency: number,
): Promise<BaselineResult> {
  const agent = new Agent({ connect: { timeout: 5000 }, keepAliveTimeout: 10_000, connections: 64 });
  const key = randomBytes(32);
  const url = `${receiver.url}/x`;
  let next = 0;
  let non2xx = 0;
  let errors = 0;
  const one = async (i: number) => {
    const iso = new Date().toISOString();
    const id = typeid('evt').toString();
    const data = {
      id: typeid('user').toString(),
      username: `baseline.${i}`,
      email: null,
      display_name: null,
      kind: 'human',
      disabled: false,
      created_at: iso,
      updated_at: iso,
    };
    const body = JSON.stringify({ type: 'user.create', timestamp: iso, data });
    const ts = Math.floor(Date.now() / 1000);
    const signature = `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
    try {
      const res = await request(url, {
        method: 'POST',
        body,
        dispatcher: agent,
        headers: {
          'webhook-id': id,
          'webhook-timestamp': String(ts),
          'webhook-signature': signature,
          'content-type': 'application/json',
          'user-agent': 'Gatehouse-Webhooks/1',
        },
      });
      await res.body.text();
      if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
    } catch {
      errors++;
    }
  };
  const loop = async () => {
    while (next < n) await one(next++);
  };
  // A short warmup opens the connections, as the worker's have been by its first batch.
  next = n - Math.min(n, concurrency * 10);
  await Promise.all(Array.from({ length: concurrency }, loop));
  await receiver.reset();
  next = 0;
  const started = nowMs();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const ms = nowMs() - started;
  const stats = await receiver.stats();
  await agent.close();
  return {
    concurrency,
    n,
    ms,
    perSecond: (n / ms) * 1000,
    non2xx,
    errors,
    connectionsUsed: stats.connectionsUsed,
  };
}
