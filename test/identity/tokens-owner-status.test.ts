import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, expectProblem, makePrincipal, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

type Token = {
  id: string;
  user_id: string;
  revoked_at: string | null;
  expires_at: string | null;
  previous_secret_expires_at: string | null;
  owner: { id: string; username: string; display_name: string | null } | null;
};

/** Tokens answer with their owner by name, the end of a rotated secret's grace, and list by status. */
forEachDialect((database) => {
  let app: TestApp;
  let owner: { id: string; username: string };
  const ids = { live: '', revoked: '', expired: '', rotated: '' };

  beforeAll(async () => {
    app = await startTestApp(database().url);
    const user = await app.request({
      method: 'POST',
      url: '/api/users',
      payload: { username: 'zoe', display_name: 'Zoe Smith Okafor', kind: 'service' },
    });
    owner = user.json();
    const role = await app.request({
      method: 'POST',
      url: '/api/roles',
      payload: { name: 'readers', permissions: ['users:read'] },
    });
    await app.request({ method: 'PUT', url: `/api/users/${owner.id}/roles/${role.json().id}` });
    const mint = async (name: string, extra: object = {}) => {
      const res = await app.request({
        method: 'POST',
        url: '/api/tokens',
        payload: { name, scopes: ['users:read'], user_id: owner.id, ...extra },
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json<Token>();
    };
    ids.expired = (await mint('short', { ttl_seconds: 60 })).id;
    ids.live = (await mint('live')).id;
    ids.revoked = (await mint('gone')).id;
    ids.rotated = (await mint('rotated')).id;
    expect((await app.request({ method: 'DELETE', url: `/api/tokens/${ids.revoked}` })).statusCode).toBe(204);
    app.clock.advance(61_000);
  });
  afterAll(async () => app?.close());

  const get = (url: string, token?: string) => app.request({ method: 'GET', url, token });
  const listIds = async (query: string, token?: string) =>
    (await get(`/api/tokens?limit=500${query}`, token)).json<{ data: Token[] }>().data.map((t) => t.id);

  describe('succeeds', () => {
    it('every token answer names its owner: list, read, create, rotate', async () => {
      const named = { id: owner.id, username: 'zoe', display_name: 'Zoe Smith Okafor' };
      const listed = (await get(`/api/tokens?user_id=${owner.id}`)).json<{ data: Token[] }>().data;
      expect(listed).toHaveLength(4);
      for (const t of listed) expect(t.owner).toEqual(named);
      const admin = (await get('/api/tokens?limit=500')).json<{ data: Token[] }>().data;
      expect(admin.find((t) => t.user_id === app.adminId)?.owner).toMatchObject({
        id: app.adminId,
        username: 'admin',
      });
      expect((await get(`/api/tokens/${ids.live}`)).json<Token>().owner).toEqual(named);
      const created = await app.request({
        method: 'POST',
        url: '/api/tokens',
        payload: { name: 'x', scopes: ['users:read'], user_id: owner.id },
      });
      expect(created.json<Token>().owner).toEqual(named);
      const rotated = await app.request({
        method: 'POST',
        url: `/api/tokens/${created.json<Token>().id}/rotate`,
        payload: {},
      });
      expect(rotated.json<Token>().owner).toEqual(named);
    });

    it('a rotation with grace shows when the previous secret stops working; a revocation clears it', async () => {
      expect((await get(`/api/tokens/${ids.rotated}`)).json<Token>().previous_secret_expires_at).toBeNull();
      const res = await app.request({
        method: 'POST',
        url: `/api/tokens/${ids.rotated}/rotate`,
        payload: { grace_seconds: 3600 },
      });
      expect(res.statusCode, res.body).toBe(200);
      const until = new Date(app.clock.now() + 3_600_000).toISOString();
      expect(res.json<Token>().previous_secret_expires_at).toBe(until);
      expect((await get(`/api/tokens/${ids.rotated}`)).json<Token>().previous_secret_expires_at).toBe(until);
      const listed = (await get(`/api/tokens?user_id=${owner.id}`)).json<{ data: Token[] }>().data;
      expect(listed.find((t) => t.id === ids.rotated)?.previous_secret_expires_at).toBe(until);
      const noGrace = await app.request({
        method: 'POST',
        url: `/api/tokens/${ids.rotated}/rotate`,
        payload: {},
      });
      expect(noGrace.json<Token>().previous_secret_expires_at).toBeNull();
    });

    it('status=active, revoked and expired split the tokens, and count alike', async () => {
      const mine = `&user_id=${owner.id}`;
      expect(await listIds(`${mine}&status=revoked`)).toEqual([ids.revoked]);
      expect(await listIds(`${mine}&status=expired`)).toEqual([ids.expired]);
      const active = await listIds(`${mine}&status=active`);
      expect(active).toContain(ids.live);
      expect(active).not.toContain(ids.revoked);
      expect(active).not.toContain(ids.expired);
      const all = await listIds(mine);
      expect(all.length).toBe(active.length + 2);
      const counted = (await get(`/api/tokens?status=active${mine}&include=total&limit=1`)).json();
      expect(counted.total).toBe(active.length);
      expect(counted.data).toHaveLength(1);
      // Paging under a status filter visits each active token once.
      let cursor: string | null = null;
      const paged: string[] = [];
      do {
        const page: { data: Token[]; next_cursor: string | null } = (
          await get(`/api/tokens?status=active${mine}&limit=1${cursor ? `&cursor=${cursor}` : ''}`)
        ).json<{ data: Token[]; next_cursor: string | null }>();
        paged.push(...page.data.map((t) => t.id));
        cursor = page.next_cursor;
      } while (cursor);
      expect(paged).toEqual(active);
    });

    it('tokens:read without users:read sees owners by id only, but its own by name', async () => {
      const reader = await makePrincipal(app, { permissions: ['tokens:read'] });
      const listed = (await get('/api/tokens?limit=500', reader.token)).json<{ data: Token[] }>().data;
      const others = listed.filter((t) => t.user_id !== reader.userId);
      expect(others.length).toBeGreaterThan(3);
      for (const t of others) expect(t.owner).toBeNull();
      expect(listed.find((t) => t.id === reader.tokenId)?.owner).toMatchObject({ id: reader.userId });
      expect((await get(`/api/tokens/${ids.live}`, reader.token)).json<Token>().owner).toBeNull();
    });

    it('without tokens:read a caller lists only its own tokens, under every status', async () => {
      const plain = await makePrincipal(app, { permissions: ['users:read'] });
      for (const status of ['', '&status=active', '&status=revoked', '&status=expired']) {
        const seen = (await get(`/api/tokens?limit=500&include=total${status}`, plain.token)).json<{
          data: Token[];
          total: number;
        }>();
        for (const t of seen.data) expect(t.user_id).toBe(plain.userId);
        expect(seen.total).toBe(seen.data.length);
      }
      expect(await listIds('&status=active', plain.token)).toEqual([plain.tokenId]);
    });
  });

  describe('rejects', () => {
    for (const status of ['live', 'ACTIVE', '', 'active,revoked']) {
      it(`status=${status}: 400 naming /status`, async () => {
        const problem = expectProblem(await get(`/api/tokens?status=${status}`), 400, 'validation_failed');
        expect(problem.errors?.[0]).toMatchObject({ in: 'query', pointer: '/status' });
      });
    }

    it('a cursor of one status used with another: 400', async () => {
      const { next_cursor: cursor } = (await get('/api/tokens?status=active&limit=1')).json();
      expect(cursor).not.toBeNull();
      const problem = expectProblem(
        await get(`/api/tokens?status=revoked&limit=1&cursor=${cursor}`),
        400,
        'validation_failed',
      );
      expect(problem.detail).toMatch(/other filters/);
    });
  });

  describe('audit', () => {
    it('a filtered, counted token list changes nothing', async () => {
      const before = await counts(app);
      await get('/api/tokens?status=revoked&include=total');
      expect(await counts(app)).toEqual(before);
    });

    it('a rotation with grace records the grace end in its audit row', async () => {
      const res = await app.request({
        method: 'POST',
        url: `/api/tokens/${ids.live}/rotate`,
        payload: { grace_seconds: 60 },
      });
      expect(res.statusCode).toBe(200);
      const row = await app.database.db
        .selectFrom('audit_events')
        .select(['changes'])
        .where('action', '=', 'token.rotate')
        .where('target_id', '=', ids.live)
        .executeTakeFirstOrThrow();
      const changes = JSON.stringify(row.changes);
      expect(changes).toContain(res.json<Token>().previous_secret_expires_at);
      expect(changes).not.toContain('Zoe Smith Okafor');
    });
  });
});
