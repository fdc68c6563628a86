import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';

export type DialectName = 'sqlite' | 'postgres';

/** A fresh, empty database for one test file: a temp SQLite file, or a new PostgreSQL database. */
export type TestDatabase = { name: DialectName; url: string; drop(): Promise<void> };

/** The PostgreSQL server URL for tests, or undefined (then PostgreSQL suites are not registered). */
export function postgresServerUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || undefined;
}

/**
 * `TEST_REDIS_URL` with its own logical database (1–15) per test file that uses Redis, so files running at once
 * never count in each other's rate-limit keys (keys such as a client IP are the same in every file).
 */
export function testRedisUrl(database: number): string | undefined {
  const base = process.env.TEST_REDIS_URL;
  if (!base) return undefined;
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function createTestDatabase(name: DialectName): Promise<TestDatabase> {
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
    return {
      name,
      url: `sqlite://${join(dir, 'gatehouse.db')}`,
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const server = postgresServerUrl();
  if (!server) throw new Error('TEST_DATABASE_URL is not set');
  const dbName = `gatehouse_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const url = new URL(server);
  url.pathname = `/${dbName}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      await c.query(`drop database if exists ${dbName} with (force)`);
      await c.end();
    },
  };
}

/** The dialects this run covers: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function dialects(): DialectName[] {
  return postgresServerUrl() ? ['sqlite', 'postgres'] : ['sqlite'];
}

/**
 * Registers `fn` once per dialect, inside `describe(<dialect>)`, with a fresh database created before and
 * dropped after. `get()` returns it once `beforeAll` has run.
 */
export function forEachDialect(fn: (get: () => TestDatabase, name: DialectName) => void): void {
  for (const name of dialects()) {
    describe(name, () => {
      let database: TestDatabase | undefined;
      beforeAll(async () => {
        database = await createTestDatabase(name);
      });
      afterAll(async () => {
        await database?.drop();
      });
      fn(() => {
        if (!database) throw new Error('the test database is not ready yet (use it inside a hook or a test)');
        return database;
      }, name);
    });
  }
}
