import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { forEachDialect } from '../helpers/databases.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

/**
 * The journal's promise under SIGKILL, on each dialect: a burst of concurrent writes (on SQLite committed in
 * groups), the process killed in the middle of it, then a restart on the same data. Every write answered 2xx
 * is there, exactly once, with exactly one `user.create` audit event; nothing was created twice; the audit
 * chain verifies. A client-side record of the answers is the oracle.
 */
forEachDialect((database, dialect) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-journal-kill-'));
  const admin = generateToken('gth');
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const env = () => ({
    GATEHOUSE_BOOTSTRAP_TOKEN: admin,
    ...(dialect === 'postgres' ? { DATABASE_URL: database().url } : {}),
  });
  const call = (path: string, method = 'GET', body?: unknown) =>
    fetch(`${server!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('loses no answered write, duplicates none, and the chain verifies after a SIGKILL mid-burst', async () => {
    server = await startServer(env(), 60_000, { dataDir });
    const limits = { rate_limits: { default: { max: 1_000_000, window_s: 60 } } };
    expect((await call('/api/config', 'PATCH', limits)).status).toBe(200);

    const answered = new Map<string, string>(); // username → id, for every 201
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 2000; i++) {
        const username = `kill-${w}-${i}`;
        try {
          const res = await call('/api/users', 'POST', { username });
          if (res.status === 201) answered.set(username, ((await res.json()) as { id: string }).id);
          else expect(res.status, await res.text()).toBe(201);
        } catch {
          return; // the connection died with the server
        }
      }
    };
    const writers = Array.from({ length: 12 }, (_, w) => writer(w));
    while (answered.size < 200) await new Promise((r) => setTimeout(r, 5));
    process.kill(server.pid, 'SIGKILL');
    stop = true;
    await Promise.all(writers);
    expect(await server.exited).toBeNull(); // killed by the signal

    server = await startServer(env(), 60_000, { dataDir });
    const users = new Map<string, string>(); // username → id, as stored
    for (let cursor: string | null = null, first = true; first || cursor; first = false) {
      const page = (await (
        await call(`/api/users?limit=500${cursor ? `&cursor=${cursor}` : ''}`)
      ).json()) as { data: { id: string; username: string }[]; next_cursor: string | null };
      for (const u of page.data) {
        expect(users.has(u.username), u.username).toBe(false);
        users.set(u.username, u.id);
      }
      cursor = page.next_cursor;
    }
    const lost = [...answered].filter(([username, id]) => users.get(username) !== id);
    expect(lost).toEqual([]);

    const creates = new Map<string, number>();
    for (let cursor: string | null = null, first = true; first || cursor; first = false) {
      const page = (await (
        await call(
          `/api/audit?action=user.create&outcome=success&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
        )
      ).json()) as { data: { target: { id: string } }[]; next_cursor: string | null };
      for (const e of page.data) creates.set(e.target.id, (creates.get(e.target.id) ?? 0) + 1);
      cursor = page.next_cursor;
    }
    // Every stored user (answered or committed just before the kill) has exactly one create event.
    for (const [username, id] of users)
      if (username.startsWith('kill-')) expect(creates.get(id), username).toBe(1);
    expect((await (await call('/api/audit/verify')).json()) as object).toMatchObject({ status: 'ok' });
  }, 180_000);
});
