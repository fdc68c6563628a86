import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { postgresServerUrl } from '../helpers/databases.js';
import { startLoad, within, type Outcome } from '../helpers/load.js';
import { startPrivatePostgres, type PrivatePostgres } from '../helpers/private-services.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

/** The promise: service is back within 10 s of the database, with no restart of Gatehouse. */
const BACK_WITHIN_MS = 10_000;

/**
 * PostgreSQL restarted under load (`pg_ctlcluster … restart`; here `pg_ctl` on a cluster of the test's own,
 * so the shared server other test files use is left alone): the Gatehouse process survives, every request
 * in the gap gets a 503 problem with `Retry-After` (never a 500, never a hang, never a dropped connection),
 * and service is back within 10 s of the database.
 */
describe.runIf(postgresServerUrl())('PostgreSQL restart under load', () => {
  let pgc: PrivatePostgres;
  let server: ServerProcess;
  const admin = generateToken('gth');
  let seq = 0;

  const call = (path: string, method = 'GET', body?: unknown) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      signal: AbortSignal.timeout(15_000),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  // Reads and writes, half and half: a write needs its transaction, a read only its pooled connection.
  const load = () =>
    startLoad({
      baseUrl: () => server.url,
      workers: 4,
      token: admin,
      pauseMs: 5,
      next: (w) =>
        w % 2
          ? { method: 'POST', path: '/api/users', body: { username: `load-${(seq += 1)}` } }
          : { path: '/api/users?limit=5' },
    });
  const serving = async () =>
    (await call('/api/users?limit=1')).status === 200 &&
    (await call('/api/users', 'POST', { username: `probe-${(seq += 1)}` })).status === 201;

  /** Every answer is a success or a 503 problem with Retry-After; a request never goes unanswered. */
  function expectOnlySuccessOr503(outcomes: Outcome[]): void {
    for (const o of outcomes) {
      if (o.status === 200 || o.status === 201) continue;
      expect({ status: o.status, error: o.error, code: o.code }, `${o.method} ${o.path}`).toEqual({
        status: 503,
        error: undefined,
        code: 'unavailable',
      });
      expect(o.contentType).toMatch(/^application\/problem\+json/);
      expect(Number(o.retryAfter)).toBeGreaterThan(0);
    }
  }

  beforeAll(async () => {
    pgc = await startPrivatePostgres();
    server = await startServer({ DATABASE_URL: pgc.url, GATEHOUSE_BOOTSTRAP_TOKEN: admin });
    const generous = { max: 1_000_000, window_s: 60 };
    expect((await call('/api/config', 'PATCH', { rate_limits: { default: generous } })).status).toBe(200);
  }, 150_000);
  afterAll(async () => {
    await server?.stop();
    await pgc?.close();
  });

  it('stopped for 3 s: 503s with Retry-After in the gap, back within 10 s of the database, same process', async () => {
    const run = load();
    try {
      await within(10_000, async () => run.outcomes.filter((o) => o.status === 201).length >= 20);
      await pgc.stop();
      const down = Date.now();
      const readyDown = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(15_000) });
      expect(readyDown.status).toBe(503);
      await new Promise((r) => setTimeout(r, 3000));
      const downUntil = Date.now();
      await pgc.start();
      const back = await within(BACK_WITHIN_MS, serving, 100);
      expect(back, `not serving ${BACK_WITHIN_MS} ms after PostgreSQL came back`).not.toBeNull();
      await new Promise((r) => setTimeout(r, 1000));
      await run.stop();

      expectOnlySuccessOr503(run.outcomes);
      const inGap = run.outcomes.filter((o) => o.startedAt >= down && o.startedAt + o.ms <= downUntil);
      expect(inGap.length).toBeGreaterThan(0);
      expect(inGap.every((o) => o.status === 503)).toBe(true);
      expect(server.child.exitCode).toBeNull();
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    } finally {
      await run.stop();
    }
  }, 90_000);

  it('pg_ctl restart (the pg_ctlcluster restart) under load: back within 10 s, every answer a success or a 503', async () => {
    const run = load();
    try {
      const before = run.outcomes.length;
      await within(10_000, async () => run.outcomes.length >= before + 20);
      const pid = pgc.pid();
      await pgc.restart();
      expect(pgc.pid()).not.toBe(pid); // a real restart: a new postmaster
      const back = await within(BACK_WITHIN_MS, serving, 100);
      expect(back, `not serving ${BACK_WITHIN_MS} ms after PostgreSQL restarted`).not.toBeNull();
      const recovered = Date.now();
      await within(
        10_000,
        async () => run.outcomes.filter((o) => o.startedAt > recovered + 500).length >= 20,
      );
      await run.stop();

      expectOnlySuccessOr503(run.outcomes);
      // Once back, it stays back: no lingering broken pooled connections.
      const settled = run.outcomes.filter((o) => o.startedAt > recovered + 500);
      expect(settled.length).toBeGreaterThan(0);
      expect(settled.filter((o) => o.status !== 200 && o.status !== 201)).toEqual([]);
      expect(server.child.exitCode).toBeNull();
    } finally {
      await run.stop();
    }
  }, 90_000);
});
