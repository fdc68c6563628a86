import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * Issue #17: a plugin's after-hook cursor is leased, so one relay at a time delivers its events. Another
 * relay is stood in for by writing its lease into the row, as its claim would.
 */
forEachDialect((database) => {
  let app: TestApp;
  let rx: Receiver;
  let n = 0;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-lease-'));
  beforeAll(async () => {
    app = await startTestApp(database().url, { env: { DATA_DIR: dir } });
    rx = await startReceiver();
    const res = await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks: { allow_private_targets: true } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(res.statusCode, res.body).toBe(200);
  });
  afterAll(async () => {
    await app?.close();
    await rx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function plugin(path: string): Promise<string> {
    const res = await app.request({
      method: 'POST',
      url: '/api/plugins',
      payload: {
        kind: 'http',
        url: rx.url(path),
        manifest: { name: `lease${n++}`, version: '1.0.0', hooks: { after: ['user.create'] } },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id as string;
  }
  const cursor = async (id: string) => {
    const row = await app.database.db
      .selectFrom('plugins')
      .select(['after_seq', 'after_lock_token', 'after_locked_until'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return {
      seq: Number(row.after_seq),
      token: row.after_lock_token ?? null,
      until: row.after_locked_until == null ? null : Number(row.after_locked_until),
    };
  };
  const leaseTo = (id: string, token: string | null, until: number | null) =>
    app.database.db
      .updateTable('plugins')
      .set({ after_lock_token: token, after_locked_until: until })
      .where('id', '=', id)
      .execute();
  const newUser = async () => {
    const res = await app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().id as string;
  };
  const usersAt = (path: string) =>
    rx.at(path).map((r) => (JSON.parse(r.body) as { event: { data: { id: string } } }).event.data.id);
  const headSeq = () => app.services.audit.headSeq();

  describe('succeeds', () => {
    it('a cursor leased by another relay is left alone until its lease runs out; then taken, moved and released', async () => {
      const path = `/held${n}`;
      const id = await plugin(path);
      const user = await newUser();
      await leaseTo(id, 'relay_other', app.clock.now() + 30_000);
      const before = await cursor(id);
      await app.plugins.runAfter();
      expect(usersAt(path)).toEqual([]);
      expect(await cursor(id)).toEqual(before);

      app.clock.advance(30_000); // the holder's lease runs out at exactly this instant: free
      await app.plugins.runAfter();
      expect(usersAt(path)).toEqual([user]);
      expect(await cursor(id)).toEqual({ seq: await headSeq(), token: null, until: null });
      await app.request({ method: 'DELETE', url: `/api/plugins/${id}` });
    });

    it('a relay whose lease was taken over moves nothing: what it sent is sent again by the holder (at least once)', async () => {
      const path = `/taken${n}`;
      rx.behave(path, { status: 204, delayMs: 300 });
      const id = await plugin(path);
      const from = (await cursor(id)).seq;
      const users = [await newUser(), await newUser()];
      const round = app.plugins.runAfter();
      await new Promise((r) => setTimeout(r, 100)); // the first call is in flight
      await leaseTo(id, 'relay_other', app.clock.now() + 30_000);
      await round;
      expect(usersAt(path)).toEqual(users);
      expect(await cursor(id)).toEqual({ seq: from, token: 'relay_other', until: app.clock.now() + 30_000 });

      await leaseTo(id, null, null); // the other relay stops and gives it back
      rx.behave(path, { status: 204 });
      await app.plugins.runAfter();
      expect(usersAt(path)).toEqual([...users, ...users]);
      expect((await cursor(id)).seq).toBe(await headSeq());
      await app.request({ method: 'DELETE', url: `/api/plugins/${id}` });
    });

    it('a failing hook keeps the cursor before it; the lease is given back all the same', async () => {
      const path = `/fails${n}`;
      rx.behave(path, { status: 500 });
      const id = await plugin(path);
      const from = (await cursor(id)).seq;
      const user = await newUser();
      await app.plugins.runAfter();
      expect(usersAt(path)).toEqual([user]);
      // Past its own plugin.register (not subscribed), not past the user.create that failed.
      expect(await cursor(id)).toEqual({ seq: from + 1, token: null, until: null });
      rx.behave(path, { status: 204 });
      await app.plugins.runAfter();
      expect(usersAt(path)).toEqual([user, user]);
      expect((await cursor(id)).seq).toBe(await headSeq());
      await app.request({ method: 'DELETE', url: `/api/plugins/${id}` });
    });
  });
});
