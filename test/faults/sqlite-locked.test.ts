import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, expectProblem, startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

/** Another process holds SQLite's write lock: writes answer 503 with Retry-After after the busy timeout, never a 500. */
describe('SQLite held locked by another connection', () => {
  let database: TestDatabase;
  let app: TestApp;
  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    app = await startTestApp(database.url);
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('a write waits for the busy timeout, then answers 503 with Retry-After and changes nothing', async () => {
    const before = await counts(app);
    const holder = new Database(database.url.replace('sqlite://', ''));
    holder.exec('BEGIN IMMEDIATE');
    try {
      const res = await app.request({ method: 'POST', url: '/api/users', payload: { username: 'blocked' } });
      const p = expectProblem(res, 503, 'unavailable');
      expect(p.detail).toMatch(/busy/);
      expect(res.headers['retry-after']).toBeDefined();
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(await counts(app)).toEqual(before);
    expect((await app.request({ method: 'POST', url: '/api/users', payload: { username: 'unblocked' } })).statusCode).toBe(201);
  }, 30_000);
});
