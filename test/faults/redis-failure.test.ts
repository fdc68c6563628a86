import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { createTestDatabase, postgresServerUrl, type TestDatabase } from '../helpers/databases.js';
import { startLoad, within } from '../helpers/load.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/private-services.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

/**
 * A request that takes longer than this is hung. Redis commands time out after 100 ms
 * (src/http/rate-limit-store.ts); without that timeout a paused Redis would hold requests forever.
 */
const HANG_MS = 5000;
const LIMIT = 5;
type Mode = 'local' | 'open' | 'closed';
type Answer = {
  status: number;
  ms: number;
  retryAfter: string | null;
  contentType: string | null;
  etag: string | null;
  body: { id?: string; secret?: string; code?: string };
};

/**
 * Redis stopped (SIGTERM) and slowed (SIGSTOP: connections open, nothing answers) under load, with two
 * instances on one PostgreSQL database and a Redis of the test's own: no request hangs, each
 * `rate_limits.store_failure` mode does what docs/deploy.md says, revoked tokens never work again, and
 * counters are shared again once Redis is back.
 */
describe.runIf(postgresServerUrl())('Redis stopped and slowed under load', () => {
  let redis: PrivateRedis;
  let database: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  const admin = generateToken('gth');
  const revoked: string[] = [];

  async function call(
    server: ServerProcess,
    path: string,
    init: { method?: string; body?: unknown; token?: string } = {},
  ): Promise<Answer> {
    const started = Date.now();
    const res = await fetch(`${server.url}${path}`, {
      method: init.method ?? 'GET',
      signal: AbortSignal.timeout(HANG_MS),
      headers: { authorization: `Bearer ${init.token ?? admin}`, 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      ms: Date.now() - started,
      retryAfter: res.headers.get('retry-after'),
      contentType: res.headers.get('content-type'),
      etag: res.headers.get('etag'),
      body: text ? (JSON.parse(text) as Answer['body']) : {},
    };
  }
  const version = (etag: string | null) => Number((etag ?? '').replaceAll('"', ''));

  /** PATCHes the settings through `a` (retrying while a closed limiter still refuses) and waits until `b` has them. */
  async function patchSettings(patch: object): Promise<void> {
    let res: Answer | undefined;
    await within(
      10_000,
      async () => (res = await call(a, '/api/config', { method: 'PATCH', body: patch })).status === 200,
      200,
    );
    expect(res?.status, JSON.stringify(res?.body)).toBe(200);
    const v = version(res!.etag);
    expect(await within(5000, async () => version((await call(b, '/api/config')).etag) >= v)).not.toBeNull();
  }

  /** A token of the admin's limited to LIMIT requests a minute by its own override. */
  async function limitedToken(mode: Mode): Promise<{ id: string; secret: string }> {
    const t = await call(a, '/api/tokens', {
      method: 'POST',
      body: { name: `limited-${mode}`, scopes: ['users:read'] },
    });
    expect(t.status).toBe(201);
    await patchSettings({
      rate_limits: { store_failure: mode, by_token: { [t.body.id!]: { max: LIMIT, window_s: 60 } } },
    });
    return { id: t.body.id!, secret: t.body.secret! };
  }

  /** n requests with `token` to `server`, one after another; none may hang. */
  async function probe(server: ServerProcess, token: string, n: number): Promise<Answer[]> {
    const answers: Answer[] = [];
    for (let i = 0; i < n; i++) answers.push(await call(server, '/api/users?limit=1', { token }));
    for (const x of answers) expect(x.ms).toBeLessThan(HANG_MS);
    return answers;
  }
  const statuses = (xs: Answer[]) => xs.map((x) => x.status);

  /** A token revoked through one instance fails on that instance at once and on the other within 1 s. */
  async function revokeWhileDown(): Promise<void> {
    const t = await call(a, '/api/tokens', {
      method: 'POST',
      body: { name: 'to-revoke', scopes: ['users:read'] },
    });
    expect(t.status, JSON.stringify(t.body)).toBe(201);
    expect((await call(a, '/api/me', { token: t.body.secret! })).status).toBe(200);
    expect((await call(b, '/api/me', { token: t.body.secret! })).status).toBe(200);
    expect((await call(a, `/api/tokens/${t.body.id!}`, { method: 'DELETE' })).status).toBe(204);
    revoked.push(t.body.secret!);
    expect((await call(a, '/api/me', { token: t.body.secret! })).status).toBe(401);
    const seen = await within(
      3000,
      async () => (await call(b, '/api/me', { token: t.body.secret! })).status === 401,
      25,
    );
    expect(seen).not.toBeNull();
    expect(seen!).toBeLessThan(1000);
  }

  beforeAll(async () => {
    redis = await startPrivateRedis();
    database = await createTestDatabase('postgres');
    const env = { DATABASE_URL: database.url, REDIS_URL: redis.url, GATEHOUSE_BOOTSTRAP_TOKEN: admin };
    a = await startServer(env);
    b = await startServer(env);
    const generous = { max: 1_000_000, window_s: 60 };
    await patchSettings({ rate_limits: { default: generous, anonymous: generous } });
  }, 90_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.close();
    await database?.drop();
  });

  const cases = (['local', 'open', 'closed'] as const).flatMap((mode) =>
    (['stopped', 'slowed'] as const).map((how) => ({ mode, how })),
  );

  it.each(cases)(
    'store_failure $mode holds while Redis is $how, under load, and nothing hangs',
    async ({ mode, how }) => {
      const token = await limitedToken(mode);
      const load = [a, b].map((s) =>
        startLoad({
          baseUrl: () => s.url,
          workers: 2,
          token: admin,
          timeoutMs: HANG_MS,
          pauseMs: 10,
          next: () => ({ path: '/api/users?limit=1' }),
        }),
      );
      try {
        if (how === 'stopped') await redis.stop();
        else redis.pause();

        if (mode === 'local') {
          // Each instance counts on its own: LIMIT on each, so up to 2 × LIMIT across the two.
          const expected = [...Array<number>(LIMIT).fill(200), 429, 429];
          expect(statuses(await probe(a, token.secret, LIMIT + 2))).toEqual(expected);
          expect(statuses(await probe(b, token.secret, LIMIT + 2))).toEqual(expected);
        } else if (mode === 'open') {
          expect(statuses(await probe(a, token.secret, LIMIT * 2)).every((s) => s === 200)).toBe(true);
          expect(statuses(await probe(b, token.secret, LIMIT * 2)).every((s) => s === 200)).toBe(true);
        } else {
          for (const x of [...(await probe(a, token.secret, 4)), ...(await probe(b, token.secret, 4))]) {
            expect(x.status).toBe(503);
            expect(x.contentType).toMatch(/^application\/problem\+json/);
            expect(x.body.code).toBe('unavailable');
            expect(x.retryAfter).toBe('1');
          }
          expect((await fetch(`${a.url}/healthz`, { signal: AbortSignal.timeout(HANG_MS) })).status).toBe(
            200,
          );
        }
        if (mode !== 'closed') await revokeWhileDown();
        // Tokens revoked earlier never work again, whatever the mode (closed answers 503 before it looks).
        for (const secret of revoked)
          for (const s of [a, b]) expect((await call(s, '/api/me', { token: secret })).status).not.toBe(200);
      } finally {
        if (how === 'stopped') await redis.start();
        else redis.resume();
        await Promise.all(load.map((l) => l.stop()));
      }

      for (const o of load.flatMap((l) => l.outcomes)) {
        expect({ status: o.status, error: o.error }).not.toMatchObject({ status: 'error' }); // nothing hung or dropped
        expect(mode === 'closed' ? [200, 503] : [200]).toContain(o.status);
      }
      // Back to shared counting once Redis is back (the client reconnects on its own within a few seconds).
      const shared = await within(
        15_000,
        async () => {
          const t = await limitedToken(mode);
          const xs = [];
          for (let i = 0; i < LIMIT * 2; i++)
            xs.push((await call(i % 2 ? a : b, '/api/users?limit=1', { token: t.secret })).status);
          return xs.filter((s) => s === 200).length === LIMIT;
        },
        500,
      );
      expect(shared, 'rate limits not shared again within 15 s of Redis coming back').not.toBeNull();
    },
    90_000,
  );
});
