import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { counts, expectProblem, startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

/**
 * Issue #16, finding 8: another connection holds SQLite's write lock (`BEGIN IMMEDIATE`, as a backup or a
 * second process would). A write waits for it without blocking the event loop, then answers 503 with
 * Retry-After and changes nothing; `/healthz` and reads answer while it waits. Each case proves "while" by
 * order, not by time: the probes are answered before the waiting write is. The head start the write gets
 * (so that it is waiting when the probes go out) is not asserted: too short a head start could only let the
 * old, blocking code pass, never fail the new code.
 */
const HEAD_START_MS = 500;

/** The users, audit rows and outbox events in the file, read by the lock holder's own connection. */
function countRows(holder: Database.Database): unknown {
  return holder
    .prepare(
      'select (select count(*) from users) as users, (select count(*) from audit_events) as audit, (select count(*) from outbox) as outbox',
    )
    .get();
}

describe('SQLite write lock held by another process', () => {
  let server: ServerProcess;
  const admin = generateToken('gth');
  const call = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${server.url}${path}`, {
      method: init.method ?? 'GET',
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    });

  beforeAll(async () => {
    server = await startServer({ GATEHOUSE_BOOTSTRAP_TOKEN: admin });
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('a write answers 503 with Retry-After within 6 s and changes nothing, while /healthz and a read keep answering', async () => {
    expect((await call('/api/users', { method: 'POST', body: { username: 'before' } })).status).toBe(201);
    const holder = new Database(join(server.dataDir, 'gatehouse.db'));
    const before = countRows(holder);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const sent = performance.now();
      let answered = false;
      // Three writes at once: each gives up after its own wait, not after those queued before it.
      const write = (username: string) =>
        call('/api/users', { method: 'POST', body: { username } }).then(async (res) => {
          answered = true;
          return {
            res,
            body: (await res.json()) as { code?: string; detail?: string },
            elapsedMs: performance.now() - sent,
          };
        });
      const writes = Promise.all(['blocked-1', 'blocked-2', 'blocked-3'].map(write));
      await sleep(HEAD_START_MS);
      const [health, read] = await Promise.all([call('/healthz'), call('/api/users?limit=5')]);
      expect(health.status).toBe(200);
      expect(read.status).toBe(200);
      expect(((await read.json()) as { data: { username: string }[] }).data.map((u) => u.username)).toContain(
        'before',
      );
      // The probes went out after the write and came back before it: the server's event loop was free.
      expect(answered).toBe(false);

      for (const { res, body, elapsedMs } of await writes) {
        expect({ status: res.status, code: body.code }).toEqual({ status: 503, code: 'unavailable' });
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(body.detail).toMatch(/busy/);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        // The stated contract: 503 within 6 s (the wait's budget is 5 s). Reported, and bounded generously.
        console.info(`sqlite-locked: 503 after ${Math.round(elapsedMs)} ms`);
        expect(elapsedMs).toBeLessThan(6000);
      }
      // Still locked, still answering.
      expect((await call('/healthz')).status).toBe(200);
    } finally {
      holder.exec('ROLLBACK');
    }
    expect(countRows(holder)).toEqual(before);
    holder.close();
    expect((await call('/api/users', { method: 'POST', body: { username: 'unblocked' } })).status).toBe(201);
  }, 60_000);
});

describe('SQLite write lock held by another connection in the same process', () => {
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

  it('a write answers 503 with Retry-After and changes nothing, while /healthz and a read are answered first', async () => {
    const before = await counts(app);
    const holder = new Database(database.url.replace('sqlite://', ''));
    holder.exec('BEGIN IMMEDIATE');
    try {
      let answered = false;
      const write = app
        .request({ method: 'POST', url: '/api/users', payload: { username: 'blocked' } })
        .then((res) => {
          answered = true;
          return res;
        });
      await sleep(HEAD_START_MS);
      const [health, read] = await Promise.all([
        app.request({ method: 'GET', url: '/healthz', token: null }),
        app.request({ method: 'GET', url: '/api/users?limit=5' }),
      ]);
      expect(health.statusCode).toBe(200);
      expect(read.statusCode).toBe(200);
      expect(answered).toBe(false);
      const res = await write;
      const p = expectProblem(res, 503, 'unavailable');
      expect(p.detail).toMatch(/busy/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(await counts(app)).toEqual(before);
    expect(
      (await app.request({ method: 'POST', url: '/api/users', payload: { username: 'unblocked' } }))
        .statusCode,
    ).toBe(201);
  }, 30_000);

  it('a write that waits takes the lock once it is let go, and is done once', async () => {
    const before = await counts(app);
    const holder = new Database(database.url.replace('sqlite://', ''));
    holder.exec('BEGIN IMMEDIATE');
    let answered = false;
    const write = app
      .request({ method: 'POST', url: '/api/users', payload: { username: 'waited' } })
      .then((res) => {
        answered = true;
        return res;
      });
    try {
      await sleep(HEAD_START_MS);
      expect((await app.request({ method: 'GET', url: '/healthz', token: null })).statusCode).toBe(200);
      expect(answered).toBe(false);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect((await write).statusCode).toBe(201);
    expect(await counts(app)).toEqual({
      users: before.users + 1,
      audit: before.audit + 1,
      outbox: before.outbox + 1,
    });
  }, 30_000);
});
