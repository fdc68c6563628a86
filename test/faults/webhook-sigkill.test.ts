import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

/**
 * SIGKILL in the middle of a burst of changes, then a restart on the same data: every change acknowledged
 * before the kill is delivered at least once, no delivery is marked done without a 2xx, and the audit chain
 * still verifies. A client-side journal of acknowledged writes is the oracle.
 */
describe('SIGKILL under a burst of writes (SQLite)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-kill-'));
  const admin = generateToken('gth');
  let server: ServerProcess | undefined;
  let rx: Receiver | undefined;
  afterAll(async () => {
    await server?.stop();
    await rx?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const call = (path: string, method = 'GET', body?: unknown) =>
    fetch(`${server!.url}${path}`, {
      method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('delivers every acknowledged change at least once after a restart', async () => {
    rx = await startReceiver();
    let calls = 0;
    const env = { GATEHOUSE_BOOTSTRAP_TOKEN: admin };
    server = await startServer(env, 60_000, { dataDir });
    expect((await call('/api/config', 'PATCH', { webhooks: { allow_private_targets: true }, rate_limits: { default: { max: 100000, window_s: 60 } } })).status).toBe(200);
    const hook = await (await call('/api/webhooks', 'POST', { url: rx.url('/kill'), events: ['user.create'], retry_schedule_s: [0, 1, 1, 1, 1, 1] })).json() as { id: string };
    expect(hook.id).toMatch(/^whk_/);

    const acknowledged: string[] = [];
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 400; i++) {
        try {
          const res = await call('/api/users', 'POST', { username: `burst-${w}-${i}` });
          if (res.status === 201) acknowledged.push(((await res.json()) as { id: string }).id);
        } catch {
          return; // the connection died with the server
        }
        calls += 1;
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    while (acknowledged.length < 150) await new Promise((r) => setTimeout(r, 10));
    process.kill(server.pid, 'SIGKILL');
    stop = true;
    await Promise.all(writers);
    expect(await server.exited).toBeNull(); // killed by the signal
    expect(calls).toBeGreaterThan(0);

    server = await startServer(env, 60_000, { dataDir });
    const deadline = Date.now() + 60_000; // leases of the killed worker expire within 30 s
    const delivered = () => new Set(rx!.at('/kill').map((r) => (JSON.parse(r.body) as { data: { id: string } }).data.id));
    while (Date.now() < deadline && !acknowledged.every((id) => delivered().has(id))) await new Promise((r) => setTimeout(r, 100));
    const missing = acknowledged.filter((id) => !delivered().has(id));
    expect(missing).toEqual([]);

    // Each acknowledged write exists with exactly one user.create audit event, and the chain verifies.
    const verify = await (await call('/api/audit/verify')).json() as { status: string };
    expect(verify.status).toBe('ok');
    const creates = await (await call('/api/audit?action=user.create&limit=500')).json() as { data: { target: { id: string } }[] };
    for (const id of acknowledged) expect(creates.data.filter((e) => e.target.id === id)).toHaveLength(1);

    // No delivery is marked succeeded without a 2xx attempt.
    let cursor: string | null = null;
    do {
      const page = await (await call(`/api/webhooks/${hook.id}/deliveries?limit=500${cursor ? `&cursor=${cursor}` : ''}`)).json() as { data: { status: string; attempts: { status_code: number | null }[] }[]; next_cursor: string | null };
      for (const d of page.data) {
        if (d.status === 'succeeded') expect(d.attempts.some((a) => a.status_code !== null && a.status_code >= 200 && a.status_code < 300)).toBe(true);
      }
      cursor = page.next_cursor;
    } while (cursor);
  }, 240_000);
});
