/**
 * What the bench reads and writes in Gatehouse's database directly, beside the running server: the bulk
 * outbox load of the throughput phase, the per-event timestamps of the latency phase, and the final counts.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { typeid } from 'typeid-js';

export type Dialect = 'sqlite' | 'postgres';

/** One event's life as the server recorded it (epoch ms, server clock). */
export type EventTrace = {
  eventId: string;
  dataId: string;
  /** `outbox.created_at`: inside the request's transaction, just before commit. */
  createdAt: number;
  /** `outbox.dispatched_at`: the fan-out transaction that turned it into a delivery. */
  dispatchedAt: number;
  /** `delivery_attempts.attempted_at`: when the send had finished. */
  attemptedAt: number;
  /** `delivery_attempts.latency_ms`: the send itself (request to response). */
  sendMs: number;
  attempts: number;
};

export type Counts = {
  outboxPending: number;
  deliveries: Record<string, number>;
  attempts: number;
  failedAttempts: number;
};

export type BenchDb = {
  /** Inserts `n` `user.create` events in one transaction; returns the time just after commit (epoch ms, high resolution). */
  insertOutbox(n: number, tag: string): Promise<number>;
  /**
   * Inserts `n` events fanned out a day ago (what `webhooks.retention_days` keeps for `recover`), in chunks of
   * RETAINED_CHUNK, calling `progress` after each; then refreshes the planner's statistics.
   */
  insertSent(n: number, progress: (done: number) => void): Promise<void>;
  traces(sinceMs: number): Promise<EventTrace[]>;
  counts(): Promise<Counts>;
  version(): Promise<string>;
  close(): Promise<void>;
};

const RETAINED_CHUNK = 100_000;
/** The retained events' payload: the size of a user event's. */
const RETAINED_DATA = JSON.stringify({
  id: 'user_01jd8y6v7kf3zr4x6qk9n2m1ab',
  username: 'retained.load.0',
  email: null,
  display_name: null,
  kind: 'human',
  disabled: false,
  created_at: '2026-11-30T00:00:00.000Z',
  updated_at: '2026-11-30T00:00:00.000Z',
});
/** Chunks of at most RETAINED_CHUNK: [first index, count]. */
function chunks(n: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i += RETAINED_CHUNK) out.push([i, Math.min(RETAINED_CHUNK, n - i)]);
  return out;
}

export const nowMs = () => performance.timeOrigin + performance.now();

/** A user-shaped payload like the one `POST /api/users` puts in its event (about 230 bytes). */
function userEvent(tag: string, n: number, createdAt: number) {
  const iso = new Date(createdAt).toISOString();
  const data = {
    id: typeid('user').toString(),
    username: `${tag}.load.${n}`,
    email: null,
    display_name: null,
    kind: 'human',
    disabled: false,
    created_at: iso,
    updated_at: iso,
  };
  return {
    id: typeid('evt').toString(),
    type: 'user.create',
    data: JSON.stringify(data),
    created_at: createdAt,
  };
}

const TRACE_COLUMNS =
  'o.id as event_id, o.created_at, o.dispatched_at, a.attempted_at, a.latency_ms, d.attempts';

function toTrace(r: Record<string, unknown>): EventTrace {
  return {
    eventId: String(r.event_id),
    dataId: String(r.data_id),
    createdAt: Number(r.created_at),
    dispatchedAt: Number(r.dispatched_at),
    attemptedAt: Number(r.attempted_at),
    sendMs: Number(r.latency_ms),
    attempts: Number(r.attempts),
  };
}

function sqliteDb(dataDir: string): BenchDb {
  const db = new Database(join(dataDir, 'gatehouse.db'));
  db.pragma('busy_timeout = 10000');
  return {
    async insertOutbox(n, tag) {
      const insert = db.prepare(
        'insert into outbox (id, type, data, created_at, dispatched_at) values (?, ?, ?, ?, null)',
      );
      const createdAt = Date.now();
      const rows = Array.from({ length: n }, (_, i) => userEvent(tag, i, createdAt));
      // `immediate`: take the write lock first, as Gatehouse does, rather than failing to upgrade a read.
      db.transaction(() => {
        for (const r of rows) insert.run(r.id, r.type, r.data, r.created_at);
      }).immediate();
      return nowMs();
    },
    async insertSent(n, progress) {
      const at = Date.now() - 86_400_000 - n;
      const insert = db.prepare(`with recursive s(g) as (select ? union all select g + 1 from s where g < ?)
        insert into outbox (id, type, data, created_at, dispatched_at) select printf('evt_retained%014d', g), 'user.create', ?, ? + g, ? + g from s`);
      for (const [from, count] of chunks(n)) {
        insert.run(from, from + count - 1, RETAINED_DATA, at, at);
        progress(from + count);
        await new Promise((r) => setImmediate(r));
      }
      db.exec('analyze outbox');
    },
    async traces(sinceMs) {
      const rows = db
        .prepare(
          `select ${TRACE_COLUMNS}, json_extract(o.data, '$.id') as data_id
        from outbox o join deliveries d on d.event_id = o.id join delivery_attempts a on a.delivery_id = d.id
        where o.created_at >= ? and o.type = 'user.create' and a.status_code between 200 and 299`,
        )
        .all(Math.floor(sinceMs)) as Record<string, unknown>[];
      return rows.map(toTrace);
    },
    async counts() {
      const one = (q: string) => (db.prepare(q).get() as { n: number }).n;
      const byStatus = db.prepare('select status, count(*) as n from deliveries group by status').all() as {
        status: string;
        n: number;
      }[];
      return {
        outboxPending: one('select count(*) as n from outbox where dispatched_at is null'),
        deliveries: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
        attempts: one('select count(*) as n from delivery_attempts'),
        failedAttempts: one(
          'select count(*) as n from delivery_attempts where status_code is null or status_code not between 200 and 299',
        ),
      };
    },
    async version() {
      return (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
    },
    async close() {
      db.close();
    },
  };
}

function postgresDb(url: string): BenchDb {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // An idle client is cut off when the database is dropped on Ctrl-C; that is expected, not a crash.
  pool.on('error', () => undefined);
  return {
    async insertOutbox(n, tag) {
      const createdAt = Date.now();
      const rows = Array.from({ length: n }, (_, i) => userEvent(tag, i, createdAt));
      await pool.query(
        `insert into outbox (id, type, data, created_at, dispatched_at)
         select i, t, d::jsonb, c, null from unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) as u(i, t, d, c)`,
        [
          rows.map((r) => r.id),
          rows.map((r) => r.type),
          rows.map((r) => r.data),
          rows.map((r) => r.created_at),
        ],
      );
      return nowMs();
    },
    async insertSent(n, progress) {
      const at = Date.now() - 86_400_000 - n;
      for (const [from, count] of chunks(n)) {
        await pool.query(
          `insert into outbox (id, type, data, created_at, dispatched_at)
           select 'evt_retained' || lpad(g::text, 14, '0'), 'user.create', $3::jsonb, $4::bigint + g, $4::bigint + g from generate_series($1::bigint, $2::bigint) g`,
          [from, from + count - 1, RETAINED_DATA, at],
        );
        progress(from + count);
      }
      await pool.query('analyze outbox');
    },
    async traces(sinceMs) {
      const res = await pool.query(
        `select ${TRACE_COLUMNS}, o.data->>'id' as data_id
        from outbox o join deliveries d on d.event_id = o.id join delivery_attempts a on a.delivery_id = d.id
        where o.created_at >= $1 and o.type = 'user.create' and a.status_code between 200 and 299`,
        [Math.floor(sinceMs)],
      );
      return (res.rows as Record<string, unknown>[]).map(toTrace);
    },
    async counts() {
      const one = async (q: string) => Number((await pool.query<{ n: string }>(q)).rows[0]?.n ?? 0);
      const byStatus = await pool.query<{ status: string; n: string }>(
        'select status, count(*) as n from deliveries group by status',
      );
      return {
        outboxPending: await one('select count(*) as n from outbox where dispatched_at is null'),
        deliveries: Object.fromEntries(byStatus.rows.map((r) => [r.status, Number(r.n)])),
        attempts: await one('select count(*) as n from delivery_attempts'),
        failedAttempts: await one(
          'select count(*) as n from delivery_attempts where status_code is null or status_code not between 200 and 299',
        ),
      };
    },
    async version() {
      return (
        (await pool.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v ??
        'unknown'
      );
    },
    async close() {
      await pool.end();
    },
  };
}

export function openBenchDb(
  target: { dialect: 'sqlite'; dataDir: string } | { dialect: 'postgres'; url: string },
): BenchDb {
  return target.dialect === 'sqlite' ? sqliteDb(target.dataDir) : postgresDb(target.url);
}

/** `postgres://…/<name>` on the same server as `adminUrl`. */
export function databaseUrlFor(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function adminQuery(adminUrl: string, query: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

/** Only names this bench makes (`gatehouse_bench_wh_<suffix>`) are ever created or dropped. */
function checkName(name: string): void {
  if (!/^gatehouse_bench_wh_[a-z0-9_]+$/.test(name)) throw new Error(`refusing to touch database ${name}`);
}

export async function createPgDatabase(adminUrl: string, name: string): Promise<void> {
  checkName(name);
  await adminQuery(adminUrl, `create database ${name}`);
}

export async function dropPgDatabase(adminUrl: string, name: string): Promise<void> {
  checkName(name);
  await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
}
