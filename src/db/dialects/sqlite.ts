import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  sql,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
} from 'kysely';
import { claimQueries, retentionQueries } from './claims.js';
import type { DialectHelpers, ErrorClass } from './helpers.js';

/** Busy timeout: how long a write waits for SQLite's single writer lock before answering 503. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/**
 * `BEGIN IMMEDIATE` takes the write lock at the start of a transaction. A deferred transaction that reads
 * and then writes can fail with SQLITE_BUSY without waiting when another process wrote in between.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: ConstructorParameters<typeof SqliteDialect>[0];
  constructor(config: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

/** Prepared statements kept per connection. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * better-sqlite3 with its prepared statements kept by SQL text: Kysely prepares every query afresh, which was
 * 12–15 % of a request's CPU (bench/RESULTS.md). One connection runs one statement at a time (`all`/`run`
 * are synchronous and nothing here streams with `iterate`), so reusing a statement is safe. Oldest first
 * out when full (queries with `in (…)` lists of varying length make new texts).
 */
function withStatementCache(database: Database.Database): SqliteDatabase {
  const cache = new Map<string, ReturnType<SqliteDatabase['prepare']>>();
  return {
    close: () => database.close(),
    prepare(text: string) {
      let statement = cache.get(text);
      if (!statement) {
        statement = bindingBooleans(database.prepare(text));
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
        cache.set(text, statement);
      }
      return statement;
    },
  };
}

/**
 * SQLite cannot bind booleans; stores write `true`/`false` on both dialects and this binds them as 1/0. A
 * look at the parameters, where a Kysely plugin rewrote every query's whole tree to find them.
 */
function bindingBooleans(statement: Database.Statement): ReturnType<SqliteDatabase['prepare']> {
  const bind = (parameters: ReadonlyArray<unknown>): unknown[] =>
    parameters.some((p) => typeof p === 'boolean') ? parameters.map((p) => (typeof p === 'boolean' ? Number(p) : p)) : (parameters as unknown[]);
  return {
    reader: statement.reader,
    all: (parameters) => statement.all(bind(parameters)),
    run: (parameters) => statement.run(bind(parameters)),
    iterate: (parameters) => statement.iterate(bind(parameters)),
  };
}

/** Opens the database file with WAL, foreign keys and a busy timeout. */
export function createSqliteDialect(file: string): { dialect: SqliteDialect; close: () => void } {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const database = new Database(file);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  return { dialect: new ImmediateSqliteDialect({ database: withStatementCache(database) }), close: () => database.close() };
}

function classify(error: unknown): ErrorClass {
  const e = error as { code?: string; message?: string };
  if (typeof e?.code !== 'string' || !e.code.startsWith('SQLITE_')) return { kind: 'other' };
  // SQLite names the columns ("UNIQUE constraint failed: users.username"), not a constraint.
  const key = /failed: ([\w.]+)/.exec(e.message ?? '')?.[1] ?? 'unknown';
  if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return { kind: 'unique', key };
  if (e.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return { kind: 'foreign_key', key };
  if (e.code === 'SQLITE_CONSTRAINT_NOTNULL') return { kind: 'not_null', key };
  if (e.code.startsWith('SQLITE_BUSY') || e.code.startsWith('SQLITE_LOCKED')) return { kind: 'busy' };
  if (e.code.startsWith('SQLITE_IOERR') || e.code === 'SQLITE_CANTOPEN' || e.code === 'SQLITE_FULL') {
    return { kind: 'unavailable' };
  }
  return { kind: 'other' };
}

export const sqliteHelpers: DialectHelpers = {
  dialect: 'sqlite',
  // BEGIN IMMEDIATE already gives the claiming transaction the only write lock.
  ...claimQueries(''),
  ...retentionQueries(''),
  // BEGIN IMMEDIATE made this the only writer: reading the head is taking its lock.
  appendAudit: async (trx, link, event) => {
    const head = await trx.selectFrom('audit_head').select(['seq', 'hash', 'ts']).where('id', '=', 1).executeTakeFirstOrThrow();
    const row = { ...link.row, seq: Number(head.seq) + 1, ts: Math.max(link.now, Number(head.ts)), prev_hash: head.hash };
    const hash = link.hash(row);
    if (event) await trx.insertInto('outbox').values(event).execute();
    await trx.insertInto('audit_events').values({ ...row, hash }).execute();
    await trx.updateTable('audit_head').set({ seq: row.seq, hash, ts: row.ts }).where('id', '=', 1).execute();
  },
  // json_quote escapes like JSON.stringify (test/audit/chain-export-retention.test.ts) and gives `null` for NULL.
  jsonText: (column) => sql<string>`json_quote(${sql.ref(column)})`,
  // Integer division and modulo: no floating point on the way, so the milliseconds are exact.
  isoText: (column) => sql<string>`(strftime('%Y-%m-%dT%H:%M:%S', ${sql.ref(column)} / 1000, 'unixepoch') || '.' || printf('%03d', ${sql.ref(column)} % 1000) || 'Z')`,
  classify,
};
