import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type GatehouseApp } from '../../src/app.js';
import { bootstrapAdmin } from '../../src/bootstrap.js';
import { createDb, type Database } from '../../src/db/create-db.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { defaultEnv } from '../../src/env/load.js';
import { systemClock } from '../../src/lib/clock.js';
import { createIds } from '../../src/lib/ids.js';
import { createLogger } from '../../src/lib/logger.js';
import { systemCtx } from '../../src/lib/request-ctx.js';
import { createTestDatabase, testRedisUrl, type TestDatabase } from '../helpers/databases.js';

const REDIS = testRedisUrl(2);
/** Nothing listens here: every Redis command fails at once. */
const CLOSED = 'redis://127.0.0.1:1';

type Running = { built: GatehouseApp; database: Database; test: TestDatabase; token: string };

async function start(redisUrl: string | undefined, limits: object): Promise<Running> {
  const test = await createTestDatabase('sqlite');
  const logger = createLogger('silent', false);
  const database = createDb(test.url, logger);
  await migrateToLatest(database.db);
  const built = await buildApp({
    env: defaultEnv(redisUrl ? { REDIS_URL: redisUrl } : {}),
    database,
    logger,
    clock: systemClock,
    ids: createIds(),
    auditKey: randomBytes(32),
  });
  const token = (await bootstrapAdmin(built.services))!.secret;
  await built.services.config.patch(systemCtx('test'), { rate_limits: limits }, undefined, false);
  return { built, database, test, token };
}

async function stop(r: Running | undefined): Promise<void> {
  if (!r) return;
  await r.built.app.close();
  await r.database.close();
  await r.test.drop();
}

/**
 * Sends n requests one after another; returns statuses, headers and the median answer time. The bound on
 * the median (200 ms, the figure) is loose on purpose: the property under test is "never waits for
 * a dead Redis" (ioredis would otherwise queue commands until it reconnects), not speed.
 */
async function burst(
  r: Running,
  n: number,
): Promise<{ statuses: number[]; medianMs: number; headers: Record<string, unknown>[] }> {
  const statuses: number[] = [];
  const headers: Record<string, unknown>[] = [];
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await r.built.app.inject({
      url: '/api/users?limit=1',
      headers: { authorization: `Bearer ${r.token}` },
    });
    times.push(performance.now() - t);
    statuses.push(res.statusCode);
    headers.push(res.headers);
  }
  times.sort((a, b) => a - b);
  return { statuses, medianMs: times[Math.floor(times.length / 2)] ?? 0, headers };
}

const limit = (max: number, mode: string) => ({ default: { max, window_s: 60 }, store_failure: mode });

describe('rate limit store: local (no Redis)', () => {
  let r: Running;
  beforeAll(async () => (r = await start(undefined, limit(3, 'local'))));
  afterAll(() => stop(r));
  it('counts per token: max successes, then 429', async () => {
    expect((await burst(r, 5)).statuses).toEqual([200, 200, 200, 429, 429]);
  });
});

describe.runIf(REDIS)('rate limit store: Redis', () => {
  let r: Running;
  beforeAll(async () => (r = await start(REDIS, limit(4, 'closed'))));
  afterAll(() => stop(r));
  it('counts in Redis exactly like the local store, with the same fields', async () => {
    const { statuses, headers } = await burst(r, 6);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect(headers[0]!.ratelimit).toMatch(/^"default";r=3;t=\d+$/);
  });
});

describe('rate limit store: Redis unreachable (closed port), per store_failure', () => {
  const runs: Running[] = [];
  afterAll(async () => {
    for (const r of runs) await stop(r);
  });

  it('local: falls back to per-instance counters; the limit still holds; no request hangs', async () => {
    const r = await start(CLOSED, limit(3, 'local'));
    runs.push(r);
    const { statuses, medianMs } = await burst(r, 5);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(medianMs).toBeLessThan(200);
    const metrics = (await r.built.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/gatehouse_rate_limit_store_failures_total\{mode="local"\} [1-9]/);
  });

  it('open: allows every request; no request hangs', async () => {
    const r = await start(CLOSED, limit(3, 'open'));
    runs.push(r);
    const { statuses, medianMs } = await burst(r, 5);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(medianMs).toBeLessThan(200);
  });

  it('closed: refuses with a 503 problem and Retry-After; no request hangs', async () => {
    const r = await start(CLOSED, limit(3, 'closed'));
    runs.push(r);
    const { statuses, medianMs } = await burst(r, 3);
    expect(statuses).toEqual([503, 503, 503]);
    expect(medianMs).toBeLessThan(200);
    const res = await r.built.app.inject({
      url: '/api/users',
      headers: { authorization: `Bearer ${r.token}` },
    });
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toMatchObject({ code: 'unavailable' });
  });
});
