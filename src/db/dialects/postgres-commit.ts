import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type Transaction,
  type TransactionSettings,
} from 'kysely';
import { inlineParameters } from '../inline-parameters.js';

/** Marks a compiled query as one to send with the COMMIT (`commitWith`); never part of the SQL text. */
const RIDES_WITH_COMMIT = Symbol('rides with commit');
type RidingQuery = CompiledQuery & { [RIDES_WITH_COMMIT]?: true };

/**
 * Sends `query` as the last statement of the transaction `trx`, with its COMMIT, as one simple-protocol query
 * (`<statement>; commit`, its parameters inlined as literals). The audit append takes the chain head's row
 * lock; sent on its own, the lock was held until this process's event loop got round to sending COMMIT, and
 * under load every other writer, in every instance, queued behind that turn (bench/RESULTS.md, load). Riding
 * with the COMMIT, the lock lives for one statement and one commit inside the database, and a change takes
 * one round trip less. Such a statement returns no rows; a statement run after it in the same transaction
 * sends it first (the order holds). Only for transactions of a connection from `ridingCommits`.
 */
export async function commitWith<DB>(trx: Transaction<DB> | Kysely<DB>, query: CompiledQuery): Promise<void> {
  const riding: RidingQuery = { ...query, [RIDES_WITH_COMMIT]: true };
  await trx.executeQuery(riding);
}

/**
 * A connection that holds back BEGIN until its transaction's first statement (a transaction of nothing but
 * a riding statement, like an audit row of a denied request, is then that statement alone: one round trip
 * instead of three) and holds a riding statement until the COMMIT.
 */
class RidingConnection implements DatabaseConnection {
  /** BEGIN not yet sent, with its settings. */
  pendingBegin: TransactionSettings | null = null;
  /** BEGIN was sent and no COMMIT or ROLLBACK yet. */
  open = false;
  /** The held riding statement, its parameters inlined. */
  riding: string | null = null;
  constructor(
    readonly inner: DatabaseConnection,
    private readonly driver: Driver,
    private readonly escape: (value: string) => string,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if ((query as RidingQuery)[RIDES_WITH_COMMIT] && this.inTransaction() && this.riding === null) {
      this.riding = inlineParameters(query.sql, query.parameters, this.escape);
      return { rows: [] };
    }
    await this.sendHeld();
    return this.inner.executeQuery<R>(query);
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize: number): AsyncIterableIterator<QueryResult<R>> {
    await this.sendHeld();
    yield* this.inner.streamQuery<R>(query, chunkSize);
  }

  inTransaction(): boolean {
    return this.pendingBegin !== null || this.open;
  }

  /** Sends a held BEGIN, then a held riding statement (another statement came after it: keep the order). */
  async sendHeld(): Promise<void> {
    if (this.pendingBegin) {
      const settings = this.pendingBegin;
      this.pendingBegin = null;
      await this.driver.beginTransaction(this.inner, settings);
      this.open = true;
    }
    const riding = this.riding;
    this.riding = null;
    if (riding !== null) await this.inner.executeQuery(CompiledQuery.raw(riding));
  }
}

/** Every connection this driver hands out is one of these; anything else is a bug, not a case to handle. */
function ridingOf(connection: DatabaseConnection): RidingConnection {
  if (!(connection instanceof RidingConnection)) throw new Error('a connection not from the riding driver');
  return connection;
}

class RidingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly escape: (value: string) => string,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new RidingConnection(await this.inner.acquireConnection(), this.inner, this.escape);
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    ridingOf(connection).pendingBegin = settings;
    return Promise.resolve();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = ridingOf(connection);
    const riding = c.riding;
    c.pendingBegin = null;
    c.riding = null;
    // Nothing sent yet: the riding statement alone is already atomic; an empty transaction needs nothing.
    if (!c.open) {
      if (riding !== null) await c.inner.executeQuery(CompiledQuery.raw(riding));
      return;
    }
    // `open` stays set until the COMMIT succeeds: after a failure Kysely rolls back, and must send ROLLBACK.
    if (riding === null) await this.inner.commitTransaction(c.inner);
    else await c.inner.executeQuery(CompiledQuery.raw(`${riding};\ncommit`));
    c.open = false;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = ridingOf(connection);
    const open = c.open;
    c.pendingBegin = null;
    c.riding = null;
    c.open = false;
    if (open) await this.inner.rollbackTransaction(c.inner);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(ridingOf(connection).inner);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** `dialect` with transactions whose BEGIN waits for a first statement and whose last may ride with the COMMIT. */
export function ridingCommits(dialect: Dialect, escape: (value: string) => string): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new RidingDriver(dialect.createDriver(), escape),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
