import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, expectProblem, makePrincipal, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

const DAY = 24 * 3600 * 1000;

forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  const mint = (payload: object, token?: string) =>
    app.request({ method: 'POST', url: '/api/tokens', payload, ...(token ? { token } : {}) });
  const me = (token: string) => app.request({ method: 'GET', url: '/api/me', token });

  describe('succeeds', () => {
    it('mints a token whose secret appears once, with no-store, and default expiry of 30 days', async () => {
      const res = await mint({ name: 'ci', scopes: ['users:read'] });
      expect(res.statusCode).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const token = res.json();
      expect(token.secret).toMatch(/^gth_[0-9A-Za-z]{38}$/);
      expect(token).toMatchObject({
        id: expect.stringMatching(/^tok_/),
        name: 'ci',
        user_id: app.adminId,
        scopes: ['users:read'],
        prefix: token.secret.slice(0, 10),
        revoked_at: null,
        last_used_at: null,
      });
      expect(Date.parse(token.expires_at) - Date.parse(token.created_at)).toBe(30 * DAY);
      const read = (await app.request({ method: 'GET', url: `/api/tokens/${token.id}` })).json();
      expect(read).not.toHaveProperty('secret');
      const listed = (await app.request({ method: 'GET', url: '/api/tokens?limit=500' })).json().data;
      expect(JSON.stringify(listed)).not.toContain(token.secret);
      expect(listed.map((t: { id: string }) => t.id)).toContain(token.id);
    });

    it('works at once with its scopes; records last use; answers carry its expiry', async () => {
      const token = (await mint({ name: 'r', scopes: ['users:read'], ttl_seconds: 3600 })).json();
      const res = await app.request({ method: 'GET', url: '/api/users', token: token.secret });
      expect(res.statusCode).toBe(200);
      expect(res.headers['gatehouse-token-expires-at']).toBe(token.expires_at);
      expectProblem(
        await app.request({
          method: 'POST',
          url: '/api/users',
          payload: { username: 'nope' },
          token: token.secret,
        }),
        403,
        'forbidden',
      );
      await new Promise((r) => setTimeout(r, 50)); // last_used_at is written off the request path
      expect(
        (await app.request({ method: 'GET', url: `/api/tokens/${token.id}` })).json().last_used_at,
      ).not.toBeNull();
      expect((await me(token.secret)).json()).toMatchObject({
        token: { id: token.id, kind: 'token' },
        scopes: ['users:read'],
      });
    });

    it('lists only its own tokens without tokens:read', async () => {
      const p = await makePrincipal(app, { permissions: ['users:read'] });
      const page = (await app.request({ method: 'GET', url: '/api/tokens', token: p.token })).json();
      expect(page.data.map((t: { user_id: string }) => t.user_id)).toEqual([p.userId]);
      expectProblem(
        await app.request({ method: 'GET', url: `/api/tokens?user_id=${app.adminId}`, token: p.token }),
        403,
        'forbidden',
      );
      const adminTokens = (
        await app.request({ method: 'GET', url: `/api/tokens?user_id=${app.adminId}` })
      ).json().data;
      expectProblem(
        await app.request({ method: 'GET', url: `/api/tokens/${adminTokens[0].id}`, token: p.token }),
        404,
        'not_found',
      );
    });

    it('rotation: new secret now, old one during the grace period only', async () => {
      const token = (await mint({ name: 'rot', scopes: ['users:read'] })).json();
      const rotated = await app.request({
        method: 'POST',
        url: `/api/tokens/${token.id}/rotate`,
        payload: { grace_seconds: 60 },
      });
      expect(rotated.statusCode).toBe(200);
      expect(rotated.headers['cache-control']).toBe('no-store');
      const fresh = rotated.json().secret;
      expect(fresh).not.toBe(token.secret);
      expect((await me(fresh)).statusCode).toBe(200);
      expect((await me(token.secret)).statusCode).toBe(200);
      app.clock.advance(61_000);
      expectProblem(await me(token.secret), 401, 'unauthenticated');
      expect((await me(fresh)).statusCode).toBe(200);
    });
  });

  describe('rejects', () => {
    it('401 in the very next request after revocation, expiry, rotation without grace, or with a bad checksum', async () => {
      const revoked = (await mint({ name: 'a', scopes: ['users:read'] })).json();
      expect((await me(revoked.secret)).statusCode).toBe(200);
      expect((await app.request({ method: 'DELETE', url: `/api/tokens/${revoked.id}` })).statusCode).toBe(
        204,
      );
      expectProblem(await me(revoked.secret), 401, 'unauthenticated');

      const rotated = (await mint({ name: 'b', scopes: ['users:read'] })).json();
      expect((await me(rotated.secret)).statusCode).toBe(200);
      await app.request({ method: 'POST', url: `/api/tokens/${rotated.id}/rotate` });
      expectProblem(await me(rotated.secret), 401, 'unauthenticated');

      const expiring = (await mint({ name: 'c', scopes: ['users:read'], ttl_seconds: 120 })).json();
      expect((await me(expiring.secret)).statusCode).toBe(200);
      app.clock.advance(121_000);
      expectProblem(await me(expiring.secret), 401, 'unauthenticated');

      const good = (await mint({ name: 'd', scopes: ['users:read'] })).json().secret as string;
      const typo = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
      const res = await me(typo);
      expectProblem(res, 401, 'unauthenticated');
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    });

    it('a token whose owner lost the role is narrowed in the very next request', async () => {
      const p = await makePrincipal(app, { permissions: ['users:read', 'users:write'] });
      expect((await app.request({ method: 'GET', url: '/api/users', token: p.token })).statusCode).toBe(200);
      await app.request({
        method: 'PUT',
        url: `/api/roles/${p.roleId!}`,
        payload: { permissions: ['users:write'] },
      });
      const res = await app.request({ method: 'GET', url: '/api/users', token: p.token });
      expect(expectProblem(res, 403, 'forbidden').required_permission).toBe('users:read');
      await app.request({ method: 'DELETE', url: `/api/users/${p.userId}/roles/${p.roleId!}` });
      expect((await me(p.token)).json().scopes).toEqual([]);
    });

    it("a deleted owner's tokens stop working", async () => {
      const p = await makePrincipal(app, { permissions: ['users:read'] });
      await app.request({ method: 'DELETE', url: `/api/users/${p.userId}` });
      expectProblem(await me(p.token), 401, 'unauthenticated');
    });

    const bad: [string, object, string][] = [
      ['no scopes', { name: 'x', scopes: [] }, '/scopes'],
      ['an unknown scope', { name: 'x', scopes: ['users:READ'] }, '/scopes/0'],
      [
        'both expiry forms',
        {
          name: 'x',
          scopes: ['users:read'],
          ttl_seconds: 3600,
          expires_at: new Date(Date.now() + DAY).toISOString(),
        },
        '/ttl_seconds',
      ],
      [
        'a lifetime over 366 days',
        { name: 'x', scopes: ['users:read'], ttl_seconds: 367 * 24 * 3600 },
        '/ttl_seconds',
      ],
      [
        'an expiry in the past',
        { name: 'x', scopes: ['users:read'], expires_at: '2001-01-01T00:00:00.000Z' },
        '/expires_at',
      ],
      [
        'an expiry at a leap second',
        {
          name: 'x',
          scopes: ['users:read'],
          expires_at: `${new Date(Date.now() + DAY).toISOString().slice(0, 10)}T23:59:60Z`,
        },
        '/expires_at',
      ],
      [
        'an unknown owner',
        { name: 'x', scopes: ['users:read'], user_id: 'user_01jd8y6v7kf3zr4x6qk9n2m1ab' },
        '/user_id',
      ],
      ['an unknown field', { name: 'x', scopes: ['users:read'], secret: 'gth_x' }, '/secret'],
    ];
    for (const [name, payload, pointer] of bad) {
      it(`${name}: 400 at ${pointer}, nothing minted`, async () => {
        const before = await counts(app);
        const problem = expectProblem(await mint(payload), 400, 'validation_failed');
        expect(problem.errors?.[0]?.pointer).toBe(pointer);
        expect((await counts(app)).outbox).toBe(before.outbox);
      });
    }

    it('a grace period over 7 days, and rotating a revoked token', async () => {
      const token = (await mint({ name: 'g', scopes: ['users:read'] })).json();
      expectProblem(
        await app.request({
          method: 'POST',
          url: `/api/tokens/${token.id}/rotate`,
          payload: { grace_seconds: 7 * 24 * 3600 + 1 },
        }),
        400,
        'validation_failed',
      );
      await app.request({ method: 'DELETE', url: `/api/tokens/${token.id}` });
      expectProblem(
        await app.request({ method: 'POST', url: `/api/tokens/${token.id}/rotate` }),
        409,
        'conflict',
      );
    });

    it("a token beyond its owner's permissions: 422", async () => {
      const p = await makePrincipal(app, { permissions: ['users:read'] });
      expectProblem(
        await mint({ name: 'x', scopes: ['audit:read'], user_id: p.userId }),
        422,
        'unprocessable',
      );
    });
  });

  describe('audit', () => {
    it('create, rotate and revoke each write one audit row and one event, without the secret', async () => {
      const before = await counts(app);
      const token = (await mint({ name: 'aud', scopes: ['users:read'] })).json();
      const rotated = (await app.request({ method: 'POST', url: `/api/tokens/${token.id}/rotate` })).json();
      await app.request({ method: 'DELETE', url: `/api/tokens/${token.id}` });
      const after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([3, 3]);
      const rows = await app.database.db
        .selectFrom('audit_events')
        .select(['action', 'changes'])
        .where('target_id', '=', token.id)
        .orderBy('seq')
        .execute();
      expect(rows.map((r) => r.action)).toEqual(['token.create', 'token.rotate', 'token.revoke']);
      const text =
        JSON.stringify(rows) +
        JSON.stringify(await app.database.db.selectFrom('outbox').selectAll().execute());
      expect(text).not.toContain(token.secret);
      expect(text).not.toContain(rotated.secret);
    });
  });
});
