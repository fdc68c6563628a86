import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CompiledQuery,
  sql,
  SqliteAdapter,
  SqliteDialect,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type QueryResult,
  type SqliteDatabase,
} from 'kysely';
import { claimQueries, retentionQueries } from './claims.js';
import type { DialectHelpers, ErrorClass } from './helpers.js';

/**
 * How long a write (a transaction's BEGIN, or a statement outside a transaction) waits, in all, for another
 * connection's write lock before it fails with SQLITE_BUSY, answered as `unavailable` (503 with Retry-After).
 */
export const SQLITE_LOCK_WAIT_MS = 5000;

/**
 * SQLite's own `busy_timeout` once the file is open: 0, so an attempt that finds the lock taken fails at once
 * instead of sleeping inside better-sqlite3, which is synchronous and would freeze the event loop for as long.
 * The waiting is done here, on timers, between attempts (`SharedConnection.attempt`).
 */
const SQLITE_BUSY_SLICE_MS = 0;

/**
 * Waits between attempts: doubling from 1 ms to at most 8 ms. Only one write of the process tries at a time
 * (the others queue behind it), so a short wait costs next to nothing and takes the lock soon after it is let
 * go; a longer one loses it, again and again, to other processes' writers.
 */
const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 8;

/** Prepared statements kept per connection. */
const STATEMENT_CACHE_SIZE = 500;

type Statement = ReturnType<SqliteDatabase['prepare']> & { readonly: boolean };
type Statements = { prepare(text: string): Statement };

/** A FIFO lock. */
class Mutex {
  #locked = false;
  readonly #waiters: Array<{ grant: () => void; fail: (error: unknown) => void; deadline: number }> = [];

  /** Resolves once the lock is the caller's. `deadline` (performance.now()) is for `expire`. */
  lock(deadline = Infinity): Promise<void> {
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve();
    }
    return new Promise((grant, fail) => this.#waiters.push({ grant, fail, deadline }));
  }

  /** Hands the lock to the next waiter, if any. */
  unlock(): void {
    const next = this.#waiters.shift();
    if (next) next.grant();
    else this.#locked = false;
  }

  /** Fails, with `error`, every waiter whose deadline has passed. */
  expire(now: number, error: unknown): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i];
      if (!waiter || waiter.deadline > now) continue;
      this.#waiters.splice(i, 1);
      waiter.fail(error);
    }
  }
}

/** Another connection holds the lock (SQLITE_BUSY and its extended codes): worth waiting for. */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

function resultOf(statement: Statement, parameters: ReadonlyArray<unknown>): QueryResult<unknown> {
  if (statement.reader) return { rows: statement.all(parameters) };
  const { changes, lastInsertRowid } = statement.run(parameters);
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}

/**
 * The one better-sqlite3 connection, shared by every query and transaction of the process. `connection` says
 * who uses it now: a transaction from its BEGIN to its COMMIT or ROLLBACK, a statement outside a transaction for
 * that statement only, and nobody while waiting for another connection's write lock, so reads (which WAL never
 * makes wait) go on meanwhile. `writeTurn` says which of the process's writes tries to take the write lock:
 * one at a time, in order of arrival, so a write that has waited long is not overtaken by newer ones.
 */
class SharedConnection {
  readonly connection = new Mutex();
  readonly writeTurn = new Mutex();
  constructor(
    readonly database: Database.Database,
    readonly statements: Statements,
  ) {}

  /**
   * Runs `attempt` holding the connection, again on timers while it fails with SQLITE_BUSY, until
   * `SQLITE_LOCK_WAIT_MS` after the call; then throws SQLITE_BUSY. Only for work that changed nothing when it
   * failed: a BEGIN, or one statement outside a transaction (SQLite undoes all of a failed statement); a
   * statement inside a transaction is never retried, as half the transaction may be done. `write`: takes the
   * process's write turn first. `keep`: the connection stays held after a success (a BEGIN's transaction).
   */
  async attempt<T>(attempt: () => T, opts: { write: boolean; keep: boolean }): Promise<T> {
    const deadline = performance.now() + SQLITE_LOCK_WAIT_MS;
    // A write that gives up in the queue (`expire`) never had the turn: it throws here, before the `try`.
    if (opts.write) await this.writeTurn.lock(deadline);
    try {
      let delay = FIRST_RETRY_MS;
      for (;;) {
        await this.connection.lock();
        try {
          const result = attempt();
          if (!opts.keep) this.connection.unlock();
          return result;
        } catch (error) {
          const retriable = isBusy(error) && !this.database.inTransaction;
          this.connection.unlock();
          if (!retriable) throw error;
          const now = performance.now();
          // The writes queued behind this one find the same lock taken: those past their time give up too.
          if (opts.write) this.writeTurn.expire(now, error);
          if (now >= deadline) throw error;
          await sleep(Math.min(delay, deadline - now));
          delay = Math.min(delay * 2, MAX_RETRY_MS);
        }
      }
    } finally {
      if (opts.write) this.writeTurn.unlock();
    }
  }
}

/**
 * One acquisition of the shared connection (Kysely acquires one per query outside a transaction and one per
 * transaction). It holds the connection only inside a transaction, between a successful BEGIN and the release.
 */
class SqliteLockConnection implements DatabaseConnection {
  /** This acquisition's transaction is open: its statements run at once, with no waiting and no retry. */
  holds = false;
  constructor(readonly shared: SharedConnection) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.holds)
      return Promise.resolve(
        resultOf(this.shared.statements.prepare(query.sql), query.parameters) as QueryResult<R>,
      );
    const statement = this.shared.statements.prepare(query.sql);
    return this.shared.attempt(() => resultOf(statement, query.parameters) as QueryResult<R>, {
      write: !statement.readonly,
      keep: false,
    });
  }

  // Nothing here streams (the statement cache relies on it); a stream is answered from the whole result.
  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const { rows } = await this.executeQuery<R>(query);
    for (const row of rows) yield { rows: [row] };
  }
}

/** Kysely hands the driver back the connections it acquired from it. */
function own(connection: DatabaseConnection): SqliteLockConnection {
  if (!(connection instanceof SqliteLockConnection))
    throw new Error('not a connection of this SQLite driver');
  return connection;
}

/**
 * Kysely's driver for one better-sqlite3 connection, whose waits for the write lock never block the event loop
 * (issue #16). Every transaction starts with `BEGIN IMMEDIATE`, which takes the write lock at the start, where
 * waiting and retrying are safe, rather than midway through, where they are not (a deferred transaction that
 * reads and then writes can also fail with SQLITE_BUSY without waiting when another process wrote in between).
 * A BEGIN, or a statement outside a transaction, that finds the lock taken lets the connection go and tries
 * again on a timer (`SharedConnection.attempt`); after `SQLITE_LOCK_WAIT_MS` it fails with SQLITE_BUSY, which
 * `translate-error.ts` answers as 503 with Retry-After. A statement inside a transaction never waits: the
 * transaction holds the write lock already.
 */
class SqliteLockDriver implements Driver {
  #shared: SharedConnection | undefined;
  constructor(readonly open: () => { database: Database.Database; statements: Statements }) {}

  async init(): Promise<void> {
    const { database, statements } = this.open();
    this.#shared = new SharedConnection(database, statements);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (!this.#shared) throw new Error('the SQLite driver is not initialised');
    return new SqliteLockConnection(this.#shared);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const c = own(connection);
    const begin = c.shared.statements.prepare('begin immediate');
    await c.shared.attempt(() => begin.run([]), { write: true, keep: true });
    c.holds = true;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = own(connection);
    if (!c.holds) return;
    c.holds = false;
    // Kysely ends every transaction before the release; should a ROLLBACK have failed, the next user must
    // still not find itself inside this transaction.
    if (c.shared.database.inTransaction) {
      try {
        c.shared.database.exec('rollback');
      } catch {
        // Nothing more to do: SQLite has already ended it.
      }
    }
    c.shared.connection.unlock();
  }

  async destroy(): Promise<void> {
    this.#shared?.database.close();
  }
}

/** Kysely's SQLite dialect (query compiler, adapter, introspector) over `SqliteLockDriver`. */
class SqliteLockDialect extends SqliteDialect {
  constructor(readonly open: () => { database: Database.Database; statements: Statements }) {
    super({ database: () => Promise.reject(new Error('unused: SqliteLockDriver opens the database')) });
  }
  override createDriver(): Driver {
    return new SqliteLockDriver(this.open);
  }
  /**
   * Kysely (0.29) queues every connection request behind one mutex for an adapter without multiple
   * connections, so a read would wait behind a write that waits for another process's lock. The driver
   * serialises writes itself and lets reads through, so it says so.
   */
  override createAdapter(): DialectAdapter {
    return new ConcurrentReadsSqliteAdapter();
  }
}

class ConcurrentReadsSqliteAdapter extends SqliteAdapter {
  override get supportsMultipleConnections(): boolean {
    return true;
  }
}

/**
 * better-sqlite3 with its prepared statements kept by SQL text: Kysely prepares every query afresh, which was
 * 12–15 % of a request's CPU (bench/RESULTS.md). One connection runs one statement at a time (`all`/`run`
 * are synchronous and nothing here streams with `iterate`), so reusing a statement is safe. Oldest first
 * out when full (queries with `in (…)` lists of varying length make new texts).
 */
function withStatementCache(database: Database.Database): Statements {
  const cache = new Map<string, Statement>();
  return {
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
function bindingBooleans(statement: Database.Statement): Statement {
  const bind = (parameters: ReadonlyArray<unknown>): unknown[] =>
    parameters.some((p) => typeof p === 'boolean')
      ? parameters.map((p) => (typeof p === 'boolean' ? Number(p) : p))
      : (parameters as unknown[]);
  return {
    reader: statement.reader,
    readonly: statement.readonly,
    all: (parameters) => statement.all(bind(parameters)),
    run: (parameters) => statement.run(bind(parameters)),
    iterate: (parameters) => statement.iterate(bind(parameters)),
  };
}

/**
 * Opens the database file with WAL and foreign keys. Opening may wait synchronously for the lock (switching
 * to WAL takes it), as nothing is served yet; from then on SQLite itself never waits (`SQLITE_BUSY_SLICE_MS`).
 */
export function createSqliteDialect(file: string): { dialect: SqliteDialect; close: () => void } {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const database = new Database(file);
  database.pragma(`busy_timeout = ${SQLITE_LOCK_WAIT_MS}`);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma(`busy_timeout = ${SQLITE_BUSY_SLICE_MS}`);
  const statements = withStatementCache(database);
  return { dialect: new SqliteLockDialect(() => ({ database, statements })), close: () => database.close() };
}

function classify(error: unknown): ErrorClass {
  const e = error as { code?: string; message?: string };
  if (typeof e?.code !== 'string' || !e.code.startsWith('SQLITE_')) return { kind: 'other' };
  // SQLite names the columns ("UNIQUE constraint failed: users.username"), not a constraint.
  const key = /failed: ([\w.]+)/.exec(e.message ?? '')?.[1] ?? 'unknown';
  if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
    return { kind: 'unique', key };
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
  lockAuditHead: async (trx) => {
    const head = await trx
      .selectFrom('audit_head')
      .select(['seq', 'hash', 'ts'])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return { seq: Number(head.seq), hash: head.hash, ts: Number(head.ts) };
  },
  // json_quote escapes like JSON.stringify (test/audit/chain-export-retention.test.ts) and gives `null` for NULL.
  jsonText: (column) => sql<string>`json_quote(${sql.ref(column)})`,
  // Integer division and modulo: no floating point on the way, so the milliseconds are exact.
  isoText: (column) =>
    sql<string>`(strftime('%Y-%m-%dT%H:%M:%S', ${sql.ref(column)} / 1000, 'unixepoch') || '.' || printf('%03d', ${sql.ref(column)} % 1000) || 'Z')`,
  classify,
};
