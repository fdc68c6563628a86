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
 * still verifies. Every write carries an Idempotency-Key; after the restart the client retries the writes it
 * never saw answered, and no username is created twice. A client-side journal of the writes is the oracle.
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

  const call = (path: string, method = 'GET', body?: unknown, key?: string) =>
    fetch(`${server!.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${admin}`,
        'content-type': 'application/json',
        ...(key ? { 'idempotency-key': key } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('delivers every acknowledged change at least once after a restart; retried keys create nothing twice', async () => {
    rx = await startReceiver();
    let calls = 0;
    const env = { GATEHOUSE_BOOTSTRAP_TOKEN: admin };
    server = await startServer(env, 60_000, { dataDir });
    expect(
      (
        await call('/api/config', 'PATCH', {
          webhooks: { allow_private_targets: true },
          rate_limits: { default: { max: 100000, window_s: 60 } },
        })
      ).status,
    ).toBe(200);
    const hook = (await (
      await call('/api/webhooks', 'POST', {
        url: rx.url('/kill'),
        events: ['user.create'],
        retry_schedule_s: [0, 1, 1, 1, 1, 1],
      })
    ).json()) as { id: string };
    expect(hook.id).toMatch(/^whk_/);

    // The client's journal: every write it sent, with its idempotency key, and the id when it was answered.
    const journal = new Map<string, { username: string; id?: string }>();
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 400; i++) {
        const key = `kill-${w}-${i}`;
        const entry = { username: `burst-${w}-${i}` };
        journal.set(key, entry);
        try {
          const res = await call('/api/users', 'POST', entry, key);
          if (res.status === 201)
            journal.set(key, { ...entry, id: ((await res.json()) as { id: string }).id });
        } catch {
          return; // the connection died with the server
        }
        calls += 1;
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    const answered = () => [...journal.values()].filter((e) => e.id).length;
    while (answered() < 150) await new Promise((r) => setTimeout(r, 10));
    process.kill(server.pid, 'SIGKILL');
    stop = true;
    await Promise.all(writers);
    expect(await server.exited).toBeNull(); // killed by the signal
    expect(calls).toBeGreaterThan(0);
    const acknowledged = [...journal.values()].flatMap((e) => (e.id ? [e.id] : []));

    server = await startServer(env, 60_000, { dataDir });
    const deadline = Date.now() + 60_000; // leases of the killed worker expire within 30 s
    const delivered = () =>
      new Set(rx!.at('/kill').map((r) => (JSON.parse(r.body) as { data: { id: string } }).data.id));
    while (Date.now() < deadline && !acknowledged.every((id) => delivered().has(id)))
      await new Promise((r) => setTimeout(r, 100));
    const missing = acknowledged.filter((id) => !delivered().has(id));
    expect(missing).toEqual([]);

    // A client retries what it sent but never saw answered, with the same keys: a write that committed before
    // the kill is answered again (the same user), one that did not is made now; no username is created twice.
    // A key that was in flight at the kill answers 409 with Retry-After until its 60 s in-flight lease ends.
    for (const [key, entry] of journal) {
      if (entry.id) continue;
      const until = Date.now() + 90_000;
      let res = await call('/api/users', 'POST', { username: entry.username }, key);
      while (res.status === 409 && Date.now() < until) {
        expect(res.headers.get('retry-after')).toBeTruthy();
        await new Promise((r) => setTimeout(r, 1000));
        res = await call('/api/users', 'POST', { username: entry.username }, key);
      }
      expect(res.status, await res.clone().text()).toBe(201);
      journal.set(key, { ...entry, id: ((await res.json()) as { id: string }).id });
    }
    for (const [key, entry] of journal) {
      const again = await call('/api/users', 'POST', { username: entry.username }, key);
      expect(again.status).toBe(201);
      expect(((await again.json()) as { id: string }).id).toBe(entry.id);
    }

    // Each acknowledged write exists with exactly one user.create audit event, and the chain verifies.
    const verify = (await (await call('/api/audit/verify')).json()) as { status: string };
    expect(verify.status).toBe('ok');
    const creates: { target: { id: string } }[] = [];
    let page: string | null = null;
    do {
      const res = (await (
        await call(`/api/audit?action=user.create&limit=500${page ? `&cursor=${page}` : ''}`)
      ).json()) as { data: { target: { id: string } }[]; next_cursor: string | null };
      creates.push(...res.data);
      page = res.next_cursor;
    } while (page);
    for (const { id } of journal.values()) expect(creates.filter((e) => e.target.id === id)).toHaveLength(1);
    // One user per username the client sent, however often it sent it.
    expect(new Set([...journal.values()].map((e) => e.id)).size).toBe(journal.size);

    // No delivery is marked succeeded without a 2xx attempt.
    let cursor: string | null = null;
    do {
      const page = (await (
        await call(`/api/webhooks/${hook.id}/deliveries?limit=500${cursor ? `&cursor=${cursor}` : ''}`)
      ).json()) as {
        data: { status: string; attempts: { status_code: number | null }[] }[];
        next_cursor: string | null;
      };
      for (const d of page.data) {
        if (d.status === 'succeeded')
          expect(
            d.attempts.some((a) => a.status_code !== null && a.status_code >= 200 && a.status_code < 300),
          ).toBe(true);
      }
      cursor = page.next_cursor;
    } while (cursor);
  }, 300_000);
});
