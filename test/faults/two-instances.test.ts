import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import {
  createTestDatabase,
  postgresServerUrl,
  testRedisUrl,
  type TestDatabase,
} from '../helpers/databases.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const REDIS = testRedisUrl(1);

/** Two server processes on one PostgreSQL database and one Redis, as behind a load balancer. */
describe.runIf(postgresServerUrl() && REDIS)('two instances on PostgreSQL and Redis', () => {
  let database: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  const admin = generateToken('gth');

  const call = (
    server: ServerProcess,
    path: string,
    init: { method?: string; body?: string; token?: string } = {},
  ) =>
    fetch(`${server.url}${path}`, {
      method: init.method ?? 'GET',
      ...(init.body !== undefined ? { body: init.body } : {}),
      headers: { authorization: `Bearer ${init.token ?? admin}`, 'content-type': 'application/json' },
    });

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const env = { DATABASE_URL: database.url, REDIS_URL: REDIS!, GATEHOUSE_BOOTSTRAP_TOKEN: admin };
    a = await startServer(env);
    b = await startServer(env);
  }, 150_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  it('share one limit through Redis: exactly max successes, alternating between instances, then 429s', async () => {
    const user = (await (
      await call(a, '/api/users', { method: 'POST', body: JSON.stringify({ username: 'limited' }) })
    ).json()) as { id: string };
    const role = (await (
      await call(a, '/api/roles', {
        method: 'POST',
        body: JSON.stringify({ name: 'reader', permissions: ['users:read'] }),
      })
    ).json()) as { id: string };
    await call(a, `/api/users/${user.id}/roles/${role.id}`, { method: 'PUT' });
    const token = (await (
      await call(a, '/api/tokens', {
        method: 'POST',
        body: JSON.stringify({ name: 't', scopes: ['users:read'], user_id: user.id }),
      })
    ).json()) as { id: string; secret: string };
    const patch = await call(b, '/api/config', {
      method: 'PATCH',
      body: JSON.stringify({ rate_limits: { by_token: { [token.id]: { max: 20, window_s: 60 } } } }),
    });
    expect(patch.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100)); // the other instance polls the settings version every 500 ms
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++)
      statuses.push((await call(i % 2 ? a : b, '/api/users?limit=1', { token: token.secret })).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
  });

  it('a settings change made through one instance is visible in the other within 1 s', async () => {
    const res = await call(a, '/api/config', {
      method: 'PATCH',
      body: JSON.stringify({ sessions: { ttl_minutes: 77 } }),
    });
    expect(res.status).toBe(200);
    const version = Number((res.headers.get('etag') ?? '').replaceAll('"', ''));
    const started = Date.now();
    let seen = 0;
    while (Date.now() - started < 3000) {
      const got = await call(b, '/api/config');
      seen = Number((got.headers.get('etag') ?? '').replaceAll('"', ''));
      if (seen >= version) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(seen).toBe(version);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a token revoked through one instance stops working in the other within 1 s', async () => {
    const token = (await (
      await call(a, '/api/tokens', {
        method: 'POST',
        body: JSON.stringify({ name: 'r', scopes: ['users:read'] }),
      })
    ).json()) as { id: string; secret: string };
    expect((await call(b, '/api/me', { token: token.secret })).status).toBe(200);
    expect((await call(a, `/api/tokens/${token.id}`, { method: 'DELETE' })).status).toBe(204);
    const started = Date.now();
    let status = 200;
    while (Date.now() - started < 3000 && status === 200) {
      status = (await call(b, '/api/me', { token: token.secret })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 25));
    }
    expect(status).toBe(401);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
