import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, postgresServerUrl, type TestDatabase } from '../helpers/databases.js';

/** Ends every server connection to the database, as a PostgreSQL restart or a failover does. */
async function terminateConnections(dbName: string): Promise<number> {
  const admin = new pg.Client({ connectionString: postgresServerUrl() });
  await admin.connect();
  const res = await admin.query(
    'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
    [dbName],
  );
  await admin.end();
  return res.rowCount ?? 0;
}

describe.runIf(postgresServerUrl())('postgres connection loss', () => {
  let database: TestDatabase;
  let app: TestApp;
  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    app = await startTestApp(database.url);
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('survives its connections being killed: answers 200 or a 503 problem, then recovers', async () => {
    const dbName = new URL(database.url).pathname.slice(1);
    // Open several pooled connections first, so there are idle clients to lose.
    await Promise.all(Array.from({ length: 5 }, () => app.request({ method: 'GET', url: '/api/users' })));
    expect(await terminateConnections(dbName)).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 100));
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await app.request({ method: 'GET', url: '/api/users' });
      statuses.push(res.statusCode);
      if (res.statusCode !== 200) {
        expect(res.statusCode, res.body).toBe(503);
        expect(res.headers['content-type']).toMatch(/problem\+json/);
        expect(res.headers['retry-after']).toBeDefined();
      }
    }
    expect(statuses.at(-1)).toBe(200);
    expect(
      (await app.request({ method: 'POST', url: '/api/users', payload: { username: 'after-loss' } }))
        .statusCode,
    ).toBe(201);
    expect((await app.app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });
});
