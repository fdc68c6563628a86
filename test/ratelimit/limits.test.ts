import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_ROLE,
  counts,
  expectProblem,
  makePrincipal,
  makeUser,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url, { realLimits: true });
    // The admin token drives the tests; its role gets a budget of its own so the limits under test bind others.
    await setLimits({ by_role: { [ADMIN_ROLE]: { max: 1_000_000, window_s: 60 } } });
  });
  afterAll(async () => app?.close());

  const setLimits = (rate_limits: object) =>
    app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ rate_limits }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });

  describe('succeeds', () => {
    it('every /api answer carries the IETF draft RateLimit-Policy and RateLimit fields', async () => {
      const res = await app.request({ method: 'GET', url: '/api/users' });
      expect(res.headers['ratelimit-policy']).toBe('"role";q=1000000;w=60');
      expect(res.headers.ratelimit).toMatch(/^"role";r=\d+;t=\d+$/);
      const p = await makePrincipal(app, { permissions: ['users:read'] });
      expect(
        (await app.request({ method: 'GET', url: '/api/users', token: p.token })).headers['ratelimit-policy'],
      ).toBe('"default";q=600;w=60');
      const anon = await app.request({ method: 'GET', url: '/api/users', token: null });
      expect(anon.statusCode).toBe(401);
      expect(anon.headers['ratelimit-policy']).toBe('"anonymous";q=60;w=60');
      const notFound = await app.request({ method: 'GET', url: '/api/nowhere', token: p.token });
      expect(notFound.headers['ratelimit-policy']).toBe('"default";q=600;w=60');
      expect((await app.app.inject({ url: '/healthz' })).headers['ratelimit-policy']).toBeUndefined();
    });

    it('a live limit change applies to the very next request: max successes, then 429 with Retry-After', async () => {
      const p = await makePrincipal(app, { permissions: ['users:read'] });
      expect((await setLimits({ default: { max: 3, window_s: 60 } })).statusCode).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await app.request({ method: 'GET', url: '/api/users', token: p.token })).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const res = await app.request({ method: 'GET', url: '/api/users', token: p.token });
      const problem = expectProblem(res, 429, 'rate_limited');
      expect(problem.detail).toMatch(/default limit of 3/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.headers.ratelimit).toBe(`"default";r=0;t=${res.headers['retry-after'] as string}`);
      await setLimits({ default: { max: 600, window_s: 60 } });
    });

    it("per-token overrides win; otherwise the most generous of the owner's roles applies", async () => {
      const p = await makePrincipal(app, { permissions: ['users:read'] });
      const second = (
        await app.request({
          method: 'POST',
          url: '/api/roles',
          payload: { name: 'generous', permissions: ['users:read'] },
        })
      ).json();
      await app.request({ method: 'PUT', url: `/api/users/${p.userId}/roles/${second.id}` });
      await setLimits({
        by_role: { [p.roleId!]: { max: 5, window_s: 60 }, [second.id]: { max: 50, window_s: 60 } },
      });
      expect(
        (await app.request({ method: 'GET', url: '/api/users', token: p.token })).headers['ratelimit-policy'],
      ).toBe('"role";q=50;w=60');
      await setLimits({ by_token: { [p.tokenId]: { max: 7, window_s: 30 } } });
      expect(
        (await app.request({ method: 'GET', url: '/api/users', token: p.token })).headers['ratelimit-policy'],
      ).toBe('"token";q=7;w=30');
      await setLimits({ by_role: { [p.roleId!]: null, [second.id]: null }, by_token: null });
    });

    it('login is limited per IP and per IP + username, and lists both policies', async () => {
      const user = (
        await app.request({
          method: 'POST',
          url: '/api/users',
          payload: makeUser({ password: 'a long enough password' }),
        })
      ).json();
      await setLimits({ login: { max: 2, window_s: 300 } });
      const attempt = () =>
        app.request({
          method: 'POST',
          url: '/api/auth/login',
          payload: { username: user.username, password: 'wrong password here' },
          token: null,
        });
      const first = await attempt();
      expect(first.statusCode).toBe(401);
      expect(first.headers['ratelimit-policy']).toBe('"anonymous";q=60;w=60, "login";q=2;w=300');
      expect((await attempt()).statusCode).toBe(401);
      const third = await attempt();
      expectProblem(third, 429, 'rate_limited');
      // Another username from the same IP still gets its own login budget.
      const other = await app.request({
        method: 'POST',
        url: '/api/auth/login',
        payload: { username: 'someone-else', password: 'wrong password here' },
        token: null,
      });
      expect(other.statusCode).toBe(401);
    });

    it('rate_limits.enabled=false turns the limiter off', async () => {
      await setLimits({ enabled: false });
      const res = await app.request({ method: 'GET', url: '/api/users' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['ratelimit-policy']).toBeUndefined();
      await setLimits({ enabled: true });
    });
  });

  describe('rejects', () => {
    it('pipeline order: bad tokens count against their IP, and the limiter runs before the scope check', async () => {
      await setLimits({ anonymous: { max: 2, window_s: 60 } });
      const bad = 'gth_' + 'A'.repeat(38);
      const statuses = [];
      // From an address of its own, so earlier anonymous requests from 127.0.0.1 do not count.
      for (let i = 0; i < 3; i++)
        statuses.push(
          (await app.request({ method: 'GET', url: '/api/users', token: bad, remoteAddress: '192.0.2.7' }))
            .statusCode,
        );
      expect(statuses).toEqual([401, 401, 429]);
      await setLimits({ anonymous: { max: 60, window_s: 60 } });

      const weak = await makePrincipal(app, { permissions: ['audit:read'] });
      await setLimits({ by_token: { [weak.tokenId]: { max: 1, window_s: 60 } } });
      expect(
        (await app.request({ method: 'POST', url: '/api/users', payload: { bogus: 1 }, token: weak.token }))
          .statusCode,
      ).toBe(403);
      expect(
        (await app.request({ method: 'POST', url: '/api/users', payload: { bogus: 1 }, token: weak.token }))
          .statusCode,
      ).toBe(429);
      await setLimits({ by_token: null });
    });

    it('429s are counted, not audited', async () => {
      const p = await makePrincipal(app, { permissions: ['users:read'] });
      await setLimits({ by_token: { [p.tokenId]: { max: 1, window_s: 60 } } });
      await app.request({ method: 'GET', url: '/api/users', token: p.token });
      const before = await counts(app);
      expect((await app.request({ method: 'GET', url: '/api/users', token: p.token })).statusCode).toBe(429);
      expect((await counts(app)).audit).toBe(before.audit);
      await setLimits({ by_token: null });
    });
  });
});
