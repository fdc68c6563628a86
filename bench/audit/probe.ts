/**
 * The bench's own connection to the database under test: a few look-ups to build query parameters, table
 * sizes, and the query plans of the exact SQL Gatehouse runs (captured from its audit service through a
 * Kysely logger, then prefixed with EXPLAIN QUERY PLAN on SQLite or EXPLAIN (ANALYZE, BUFFERS) on PG).
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type LogEvent } from 'kysely';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { helpersOf } from '../../src/db/create-db.js';
import type { Tables } from '../../src/db/tables.js';
import { systemCtx } from '../../src/lib/request-ctx.js';
import { DEFAULT_CONFIG } from '../../src/modules/config/schemas.js';
import type { AuditQuery } from '../../src/modules/audit/schemas.js';
import { deriveAuditKeys } from '../../src/modules/audit/keys.js';
import { createAuditService } from '../../src/modules/audit/service.js';
import { createAuditStore } from '../../src/modules/audit/store.js';
import { exportLineSql } from '../../src/modules/journal/event.js';
import { copyTextStatement } from '../../src/db/inline-parameters.js';
import type { Dialect } from './options.js';
import { stats, type Stats } from './measure.js';

// bigint columns (seq, ts) as numbers, as Gatehouse's own pool does.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

type Captured = { sql: string; params: readonly unknown[] };

export type PlanReport = {
  path: string;
  inProcess: Stats;
  queries: { sql: string; params: readonly unknown[]; plan: string[] }[];
};

export class Probe {
  readonly dialect: Dialect;
  readonly db: Kysely<Tables>;
  private readonly captured: Captured[] = [];
  private capturing = false;
  private readonly raw: {
    all(sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;
    /** Runs a one-text-column query and counts its rows and UTF-8 bytes (plus a newline each) as fast as it can. */
    drain(sql: string, params: readonly unknown[]): Promise<{ rows: number; bytes: number }>;
    close(): Promise<void>;
  };

  private constructor(
    dialect: Dialect,
    raw: Probe['raw'],
    make: (log: (e: LogEvent) => void) => Kysely<Tables>,
  ) {
    this.dialect = dialect;
    this.raw = raw;
    this.db = make((e) => {
      if (this.capturing && e.level === 'query')
        this.captured.push({ sql: e.query.sql, params: e.query.parameters });
    });
  }

  static sqlite(file: string): Probe {
    const database = new Database(file);
    database.pragma('busy_timeout = 5000');
    return new Probe(
      'sqlite',
      {
        all: async (sql, params) => {
          const stmt = database.prepare(sql);
          if (stmt.reader) return stmt.all(...params) as Record<string, unknown>[];
          stmt.run(...params);
          return [];
        },
        drain: async (sql, params) => {
          let rows = 0;
          let bytes = 0;
          for (const [line] of database
            .prepare(sql)
            .raw()
            .iterate(...params) as Iterable<[string]>) {
            rows++;
            bytes += Buffer.byteLength(line) + 1;
          }
          return { rows, bytes };
        },
        close: async () => {
          database.close();
        },
      },
      (log) => new Kysely<Tables>({ dialect: new SqliteDialect({ database }), log }),
    );
  }

  static postgres(url: string): Probe {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    // Dropping the database at the end terminates idle clients; that must not crash the report.
    pool.on('error', () => undefined);
    return new Probe(
      'postgres',
      {
        all: async (sql, params) => (await pool.query(sql, [...params])).rows as Record<string, unknown>[],
        // The same COPY as Gatehouse's export (src/db/dialects/postgres.ts), in one statement without a timeout.
        drain: async (sql, params) => {
          const client = await pool.connect();
          try {
            await client.query('set statement_timeout = 0');
            const copy = client.query(copyStreams.to(copyTextStatement(sql, params, pg.escapeLiteral)));
            let rows = 0;
            let bytes = 0;
            for await (const chunk of copy as AsyncIterable<Buffer>) {
              bytes += chunk.length;
              for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
            }
            return { rows, bytes };
          } finally {
            client.release(true);
          }
        },
        // Kysely's destroy() already ends the pool it was given; a second end() throws ("Called end on pool more than once").
        close: async () => {
          if (!pool.ending && !pool.ended) await pool.end();
        },
      },
      (log) => new Kysely<Tables>({ dialect: new PostgresDialect({ pool }), log }),
    );
  }

  /** `?` placeholders, numbered `$n` on PostgreSQL. */
  async all(sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    let n = 0;
    return this.raw.all(this.dialect === 'postgres' ? sql.replace(/\?/g, () => `$${++n}`) : sql, params);
  }

  async one(sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown> | undefined> {
    return (await this.all(sql, params))[0];
  }

  /**
   * The export's baseline: the database writes the same NDJSON lines for `seq >= fromSeq` (the export's SQL
   * expression) and this process reads them as fast as it can, with no Gatehouse, batching or HTTP between.
   */
  async lineBaseline(
    fromSeq: number,
  ): Promise<{ rows: number; bytes: number; seconds: number; rowsPerSecond: number }> {
    const q = this.db
      .selectFrom('audit_events')
      .select(exportLineSql(helpersOf(this.dialect)).as('line'))
      .where('seq', '>=', fromSeq)
      .orderBy('seq')
      .compile();
    const t0 = performance.now();
    const { rows, bytes } = await this.raw.drain(q.sql, q.parameters);
    const seconds = (performance.now() - t0) / 1000;
    return {
      rows,
      bytes,
      seconds: Math.round(seconds * 100) / 100,
      rowsPerSecond: Math.round(rows / seconds),
    };
  }

  /** Bytes on disk: the SQLite file, or the PostgreSQL table with its indexes (and TOAST). */
  async sizes(): Promise<Record<string, number>> {
    if (this.dialect === 'sqlite') {
      const pages = await this.one(
        'select page_count * page_size as bytes from pragma_page_count(), pragma_page_size()',
      );
      const out: Record<string, number> = { database: Number(pages?.bytes) };
      try {
        for (const r of await this.all(
          "select name, sum(pgsize) as bytes from dbstat where name like '%audit_events%' group by name",
        ))
          out[String(r.name)] = Number(r.bytes);
      } catch {
        // dbstat is not compiled in
      }
      return out;
    }
    const row = await this.one(
      "select pg_database_size(current_database()) as database, pg_total_relation_size('audit_events') as total, pg_relation_size('audit_events') as heap, pg_indexes_size('audit_events') as indexes",
    );
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(row ?? {})) out[k] = Number(v);
    for (const r of await this.all(
      "select indexrelname as name, pg_relation_size(indexrelid) as bytes from pg_stat_user_indexes where relname = 'audit_events'",
    )) {
      out[String(r.name)] = Number(r.bytes);
    }
    return out;
  }

  /**
   * Runs `GET /api/audit?<query>` through Gatehouse's own audit service (no HTTP, no audit write) `runs`
   * times for an in-process latency, and returns the plan of every SQL statement one call runs.
   */
  async explain(path: string, runs = 30): Promise<PlanReport> {
    const service = createAuditService({
      db: this.db,
      store: createAuditStore(helpersOf(this.dialect)),
      change: () => Promise.reject(new Error('read only')),
      record: async () => {},
      clock: { now: () => Date.now() },
      settings: () => DEFAULT_CONFIG,
      keys: deriveAuditKeys(randomBytes(32)),
    });
    const query = toAuditQuery(path);
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await service.list(systemCtx(), query);
      ms.push(performance.now() - t);
    }
    this.captured.length = 0;
    this.capturing = true;
    await service.list(systemCtx(), query);
    this.capturing = false;
    const queries = [];
    for (const q of this.captured) {
      const prefix = this.dialect === 'sqlite' ? 'explain query plan ' : 'explain (analyze, buffers) ';
      const rows = await this.raw.all(prefix + q.sql, q.params);
      const plan = this.dialect === 'sqlite' ? sqliteTree(rows) : rows.map((r) => String(r['QUERY PLAN']));
      queries.push({ sql: q.sql, params: q.params, plan });
    }
    return { path, inProcess: stats(ms), queries };
  }

  async close(): Promise<void> {
    await this.db.destroy();
    await this.raw.close();
  }
}

function sqliteTree(rows: Record<string, unknown>[]): string[] {
  const depth = new Map<number, number>();
  return rows.map((r) => {
    const d = (depth.get(Number(r.parent)) ?? -1) + 1;
    depth.set(Number(r.id), d);
    return `${'  '.repeat(d)}${String(r.detail)}`;
  });
}

/** The query string of a `/api/audit?…` path as the validated AuditQuery the route hands the service. */
export function toAuditQuery(path: string): AuditQuery {
  const params = new URL(path, 'http://x').searchParams;
  const q: Record<string, unknown> = {};
  for (const [k, v] of params) q[k] = k === 'limit' || k === 'after' ? Number(v) : v;
  return q;
}
