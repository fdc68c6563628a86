/**
 * The PostgreSQL leg of `npm run bench`: `POST /api/users` against Gatehouse on a fresh PostgreSQL database,
 * under the same load as the SQLite scenarios, compared with the same run's bare `node:http` baseline.
 * The server is `BENCH_DATABASE_URL` (default: the local server at 127.0.0.1:5432, user postgres); the
 * database is created for the run and dropped after it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, stopAllChildren, stopChild } from './children.js';
import { liftRateLimit, startGatehouse } from './gatehouse.js';
import { createRequest, measure, type Run, type Scenario } from './load.js';
import type { BenchOptions } from './options.js';

const DEFAULT_SERVER = 'postgres://postgres@127.0.0.1:5432/postgres';

export type PostgresLeg = {
  scenario: Scenario;
  runs: Run[];
  /** Rows that grew during the measured POSTs: users, audit rows (success), outbox rows. */
  grew: { users: number; auditSuccess: number; outbox: number };
  warnings: string[];
};

async function adminQuery(server: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function counts(url: string): Promise<PostgresLeg['grew']> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const n = async (text: string) => Number((await client.query<{ n: string }>(text)).rows[0]?.n ?? 0);
    return {
      users: await n('select count(*) as n from users'),
      auditSuccess: await n("select count(*) as n from audit_events where outcome = 'success'"),
      outbox: await n('select count(*) as n from outbox'),
    };
  } finally {
    await client.end();
  }
}

/**
 * Runs the leg, or returns null (with a line saying why) when no PostgreSQL server answers. `groupCommit`:
 * the server's GATEHOUSE_GROUP_COMMIT (auto: each change in its own transaction on PostgreSQL).
 */
export async function runPostgresLeg(
  options: BenchOptions,
  token: string,
  tag: string,
  log: (line: string) => void,
  groupCommit: 'auto' | 'on' = 'auto',
): Promise<PostgresLeg | null> {
  const server = process.env.BENCH_DATABASE_URL ?? DEFAULT_SERVER;
  const name = `gatehouse_bench_${randomBytes(4).toString('hex')}`;
  try {
    await adminQuery(server, `create database ${name}`);
  } catch (err) {
    log(`\npostgres: skipped, no server at ${server} (${(err as Error).message}); set BENCH_DATABASE_URL`);
    return null;
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-pg-'));
  try {
    const port = await freePort('127.0.0.1');
    const child = await startGatehouse({
      host: '127.0.0.1',
      port,
      dataDir,
      token,
      env: { DATABASE_URL: url.toString(), GATEHOUSE_GROUP_COMMIT: groupCommit },
      name: 'gatehouse-pg',
    });
    const base = `http://127.0.0.1:${port}`;
    log(
      `\ngatehouse on PostgreSQL (pid ${child.pid}) at ${base}, database ${name}, group commit ${groupCommit}`,
    );
    await liftRateLimit(base, token);
    const scenario: Scenario = {
      key: groupCommit === 'on' ? 'create_pg_group' : 'create_pg',
      title: `POST /api/users (PostgreSQL${groupCommit === 'on' ? ', GATEHOUSE_GROUP_COMMIT=on' : ''})`,
      goal: groupCommit === 'on' ? null : 0.1,
      request: createRequest(token, `${tag}.pg${groupCommit}`),
    };
    const before = await counts(url.toString());
    const runs = await measure(base, child.pid, scenario.key.padEnd(8), scenario.request, options, log);
    await stopChild(child);
    const after = await counts(url.toString());
    const grew = {
      users: after.users - before.users,
      auditSuccess: after.auditSuccess - before.auditSuccess,
      outbox: after.outbox - before.outbox,
    };
    return { scenario, runs, grew, warnings: child.warnings };
  } finally {
    await stopAllChildren();
    rmSync(dataDir, { recursive: true, force: true });
    await adminQuery(server, `drop database if exists ${name} with (force)`).catch(() => undefined);
  }
}
