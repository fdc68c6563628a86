import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort, removeOnInterrupt, startChild, waitForHttp, type Child } from './children.js';

export const MAIN = 'dist/src/main.js';

/** A fresh well-formed admin token from the built CLI. */
export function generateToken(): string {
  return execFileSync(process.execPath, [MAIN, 'token', 'generate'], { encoding: 'utf8' }).trim();
}

/** `node dist/src/main.js serve` on SQLite in `dataDir`, with `token` as the bootstrap admin token. */
export async function startGatehouse(opts: {
  host: string;
  port: number;
  dataDir: string;
  token: string;
  /** More settings for this instance (`REDIS_URL`, `PLUGINS_DIR`). */
  env?: Record<string, string>;
  /** Node flags before the script (`--cpu-prof`). */
  nodeArgs?: string[];
  name?: string;
}): Promise<Child> {
  const env: Record<string, string | undefined> = {
    PORT: String(opts.port),
    HOST: opts.host,
    DATA_DIR: opts.dataDir,
    LOG_LEVEL: 'warn',
    GATEHOUSE_BOOTSTRAP_TOKEN: opts.token,
    ...opts.env,
  };
  const child = startChild(
    opts.name ?? 'gatehouse',
    process.execPath,
    [...(opts.nodeArgs ?? []), MAIN, 'serve'],
    env,
  );
  await waitForHttp(child, `http://${opts.host}:${opts.port}/healthz`);
  return child;
}

/** Gatehouse's environment must not point it at PostgreSQL or Redis from the caller's shell. */
export function scrubInheritedEnv(): void {
  delete process.env.DATABASE_URL;
  delete process.env.REDIS_URL;
}

/** One JSON request to Gatehouse with a bearer token; the answer's status and parsed body (or text). */
export async function api(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // Keep the text for the error message.
  }
  return { status: res.status, json };
}

/** The per-token rate limit the bench gives its own token: far above what two cores can serve. */
export const BENCH_LIMIT = { max: 1_000_000, window_s: 1 };

/**
 * The default limit (600 requests a minute per token) would answer the load with 429s. This gives the bench's
 * token a `by_token` override through `PATCH /api/config`, so the limiter still runs on every request (its
 * cost is measured) but never refuses. Returns the token's id.
 */
export async function liftRateLimit(base: string, token: string): Promise<string> {
  const tokens = await api(base, token, 'GET', '/api/tokens?limit=50');
  const list = (tokens.json as { data?: { id: string; name: string }[] }).data ?? [];
  const own = list.find((t) => t.name === 'bootstrap');
  if (tokens.status !== 200 || !own)
    throw new Error(`GET /api/tokens answered ${tokens.status}: ${JSON.stringify(tokens.json)}`);
  await patchConfig(base, token, { rate_limits: { by_token: { [own.id]: BENCH_LIMIT } } });
  return own.id;
}

/** Creates `count` users through the API, four at a time, and returns their ids. */
export async function seedUsers(base: string, token: string, count: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      const { status, json } = await api(base, token, 'POST', '/api/users', { username: `${tag}.seed.${n}` });
      const id = (json as { id?: unknown }).id;
      if (status !== 201 || typeof id !== 'string') {
        throw new Error(`seeding: POST /api/users answered ${status}: ${JSON.stringify(json)}`);
      }
      ids.push(id);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return ids;
}

/** One request of each scenario by hand, so a broken route fails before the load runs. */
export async function sanityCheck(base: string, token: string, ids: readonly string[]): Promise<void> {
  const first = ids[0];
  if (first === undefined) throw new Error('sanity: no seeded users');
  const one = await api(base, token, 'GET', `/api/users/${first}`);
  if (one.status !== 200 || (one.json as { id?: unknown }).id !== first) {
    throw new Error(`sanity: GET /api/users/${first} answered ${one.status}: ${JSON.stringify(one.json)}`);
  }
  const list = await api(base, token, 'GET', '/api/users?limit=50');
  const data = (list.json as { data?: unknown }).data;
  if (list.status !== 200 || !Array.isArray(data) || data.length !== Math.min(50, ids.length + 1)) {
    throw new Error(
      `sanity: GET /api/users?limit=50 answered ${list.status} with ${Array.isArray(data) ? data.length : 'no'} users`,
    );
  }
}

export type DbCounts = {
  users: number;
  tokens: number;
  auditSuccess: number;
  auditOther: number;
  outbox: number;
  fileBytes: number;
};

/** Row counts after the run, read from the SQLite file once Gatehouse has stopped. */
export function countRows(dataDir: string): DbCounts {
  const file = join(dataDir, 'gatehouse.db');
  const db = new Database(file, { readonly: true });
  try {
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    return {
      users: count('select count(*) as n from users'),
      tokens: count('select count(*) as n from tokens'),
      auditSuccess: count("select count(*) as n from audit_events where outcome = 'success'"),
      auditOther: count("select count(*) as n from audit_events where outcome <> 'success'"),
      outbox: count('select count(*) as n from outbox'),
      fileBytes: pageCount * pageSize,
    };
  } finally {
    db.close();
  }
}

/** `api`, failing with the answer unless its status is `expected`; the parsed body. */
export async function apiExpect<T>(
  base: string,
  token: string,
  call: { method: string; path: string; body?: unknown; expected?: number },
): Promise<T> {
  const { status, json } = await api(base, token, call.method, call.path, call.body);
  const expected = call.expected ?? 200;
  if (status !== expected)
    throw new Error(
      `${call.method} ${call.path} answered ${status} (expected ${expected}): ${JSON.stringify(json)}`,
    );
  return json as T;
}

/** `PATCH /api/config` with a merge patch; fails unless 200. */
export async function patchConfig(
  base: string,
  token: string,
  patch: Record<string, unknown>,
): Promise<void> {
  await apiExpect(base, token, { method: 'PATCH', path: '/api/config', body: patch });
}

/** A Gatehouse process for a variant bench, on SQLite in its own temporary folder, seeded and checked. */
export type Instance = { child: Child; url: string; dataDir: string; ids: string[]; tokenId: string };

/**
 * Starts Gatehouse on 127.0.0.1 in a fresh `DATA_DIR`, lifts the bench token's rate limit (`liftRateLimit`),
 * seeds `seed` users and checks one GET and one list. The caller removes `dataDir`.
 */
export async function startSeeded(opts: {
  name: string;
  token: string;
  seed: number;
  tag: string;
  env?: Record<string, string>;
  nodeArgs?: string[];
}): Promise<Instance> {
  const host = '127.0.0.1';
  const dataDir = mkdtempSync(join(tmpdir(), `gatehouse-bench-${opts.name}-`));
  removeOnInterrupt(dataDir);
  const port = await freePort(host);
  const url = `http://${host}:${port}`;
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each server, written when it exits on SIGTERM.
  const prof = process.env.BENCH_CPU_PROF;
  const nodeArgs = [
    ...(opts.nodeArgs ?? []),
    ...(prof
      ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${opts.name}-${Date.now()}.cpuprofile`]
      : []),
  ];
  const child = await startGatehouse({ host, port, dataDir, ...opts, nodeArgs });
  const tokenId = await liftRateLimit(url, opts.token);
  const ids = await seedUsers(url, opts.token, opts.seed, `${opts.tag}.${opts.name}`);
  await sanityCheck(url, opts.token, ids);
  process.stdout.write(
    `${opts.name}: ${MAIN} serve (pid ${child.pid}) at ${url}, SQLite in ${dataDir}; ${ids.length} users seeded\n`,
  );
  return { child, url, dataDir, ids, tokenId };
}
