import { createRequire } from 'node:module';
import type pg from 'pg';
import type copyStreams from 'pg-copy-streams';
import { PostgresDialect, sql, type Dialect } from 'kysely';
import type { Logger } from 'pino';
import { copyTextStatement } from '../inline-parameters.js';
import { claimQueries, retentionQueries } from './claims.js';
import { commitWith, ridingCommits } from './postgres-commit.js';
import type { CopyText, DialectHelpers, ErrorClass } from './helpers.js';

/** Cuts off any statement that runs longer; a pathological query answers 503 instead of hanging. */
export const PG_STATEMENT_TIMEOUT_MS = 10_000;

let loaded: typeof pg | undefined;
/** `pg` is loaded only when PostgreSQL is used: a SQLite server does not carry it (~16 MiB of RSS). */
function loadPg(): typeof pg {
  if (loaded) return loaded;
  const lib = createRequire(import.meta.url)('pg') as typeof pg;
  // int8 (bigint: epoch-ms timestamps, sequence numbers) to number. Our values stay far below 2^53.
  lib.types.setTypeParser(lib.types.builtins.INT8, (value) => Number(value));
  // json/jsonb stay text, as on SQLite: readers decode with `fromJson`, and the audit export splices the
  // stored text into its lines without a parse and a stringify per row.
  lib.types.setTypeParser(lib.types.builtins.JSONB, (value) => value);
  lib.types.setTypeParser(lib.types.builtins.JSON, (value) => value);
  return (loaded = lib);
}

/** A pool that survives a database restart: connection errors, idle or in use, are logged, never thrown. */
export function createPostgresDialect(
  url: string,
  logger?: Logger,
  max = 10,
): { dialect: Dialect; pool: pg.Pool } {
  const pool = new (loadPg().Pool)({
    connectionString: url,
    max,
    statement_timeout: PG_STATEMENT_TIMEOUT_MS,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', (err) =>
    logger?.warn({ err: err.message }, 'PostgreSQL connection lost; the pool will reconnect'),
  );
  // The pool listens for errors only on idle clients. A checked-out client whose server goes away between
  // two queries (inside a transaction, say) emits 'error' with no listener, which would crash the process
  // on a database restart; its next query fails (503) and the pool discards it on release.
  pool.on('connect', (client) => {
    client.on('error', (err) => logger?.debug({ err: err.message }, 'PostgreSQL connection in use was lost'));
  });
  return { dialect: ridingCommits(new PostgresDialect({ pool }), loadPg().escapeLiteral), pool };
}

/**
 * `COPY (query) TO STDOUT` (see `CopyText`): the rows arrive as the socket's own Buffers, so an export of
 * millions of rows makes almost no garbage on V8's heap. The row strings the query protocol made were promoted
 * while a batch crossed event-loop turns and piled up in old space: 273 MiB RSS for a 10M-event export
 * (bench/RESULTS.md, audit). COPY takes no parameters, so Kysely's are inlined as literals (`copyTextStatement`).
 * The whole output is read before the connection goes back to the pool: a slow client never holds one.
 */
export function createCopyText(pool: pg.Pool): CopyText {
  const { to } = createRequire(import.meta.url)('pg-copy-streams') as typeof copyStreams;
  return async ({ sql: text, parameters }) => {
    const copy = to(copyTextStatement(text, parameters, loadPg().escapeLiteral));
    const client = await pool.connect();
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of client.query(copy)) chunks.push(chunk as Buffer);
      client.release();
      return chunks;
    } catch (err) {
      // A connection that failed mid-copy is discarded rather than handed to the next query.
      client.release(err instanceof Error ? err : true);
      throw err;
    }
  };
}

/** The channel a commit with outbox events notifies, so workers in other processes wake at once. */
export const OUTBOX_CHANNEL = 'gatehouse_outbox';

/**
 * LISTENs for outbox commits on a connection of its own while anyone subscribes; reconnects after a lost
 * connection (and then calls the listeners once, for what committed meanwhile). The poll stays the backstop.
 */
export function createOutboxListener(
  url: string,
  logger?: Logger,
): { subscribe(listener: () => void): () => void; close(): Promise<void> } {
  const listeners = new Set<() => void>();
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;
  const notify = () => {
    for (const listener of listeners) listener();
  };
  const disconnect = () => {
    const c = client;
    client = undefined;
    c?.removeAllListeners('notification');
    return c?.end().catch(() => undefined);
  };
  const connect = () => {
    if (closed || client || listeners.size === 0) return;
    const c = new (loadPg().Client)({ connectionString: url });
    client = c;
    const lost = (err?: Error) => {
      if (client !== c) return;
      logger?.warn(
        { err: err?.message },
        'lost the PostgreSQL connection that listens for outbox commits; reconnecting (the worker polls meanwhile)',
      );
      void disconnect();
      retry = setTimeout(connect, 2000);
      retry.unref();
    };
    c.on('error', lost);
    c.on('end', () => lost());
    c.on('notification', notify);
    c.connect()
      .then(() => c.query(`listen ${OUTBOX_CHANNEL}`))
      .then(notify, lost);
  };
  return {
    subscribe(listener) {
      listeners.add(listener);
      connect();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) void disconnect();
      };
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await disconnect();
    },
  };
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

function classify(error: unknown): ErrorClass {
  const e = error as {
    code?: string;
    constraint?: string;
    table?: string;
    column?: string;
    message?: string;
  };
  const code = e?.code;
  if (typeof code !== 'string') {
    const msg = e?.message ?? '';
    if (
      /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
        msg,
      )
    ) {
      return { kind: 'unavailable' };
    }
    return { kind: 'other' };
  }
  if (CONNECTION_CODES.has(code)) return { kind: 'unavailable' };
  // Constraints are named <table>_<column>_key by our migrations; normalise to "<table>.<column>".
  const key = e.constraint
    ? constraintKey(e.constraint, e.table)
    : `${e.table ?? 'unknown'}.${e.column ?? 'unknown'}`;
  if (code === '23505') return { kind: 'unique', key };
  if (code === '23503') return { kind: 'foreign_key', key };
  if (code === '23502') return { kind: 'not_null', key: `${e.table ?? 'unknown'}.${e.column ?? 'unknown'}` };
  if (code === '57014') return { kind: 'timeout' };
  if (code === '22021' || code === '22P05' || code === '22P02') return { kind: 'invalid_input' };
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') {
    return { kind: 'unavailable' };
  }
  if (code === '40001' || code === '40P01' || code === '55P03') return { kind: 'busy' };
  return { kind: 'other' };
}

function constraintKey(constraint: string, table?: string): string {
  if (table && constraint.startsWith(`${table}_`)) {
    return `${table}.${constraint.slice(table.length + 1).replace(/_(key|pkey|fkey)$/, '')}`;
  }
  return constraint;
}

export const postgresHelpers: DialectHelpers = {
  dialect: 'postgres',
  ...claimQueries('for update skip locked'),
  ...retentionQueries('for update skip locked'),
  lockAuditHead: async (trx) => {
    const head = await trx
      .selectFrom('audit_head')
      .select(['seq', 'hash', 'ts'])
      .where('id', '=', 1)
      .forUpdate()
      .executeTakeFirstOrThrow();
    return { seq: Number(head.seq), hash: head.hash, ts: Number(head.ts) };
  },
  announceOutbox: async (trx) => {
    await sql`select pg_notify(${OUTBOX_CHANNEL}, '')`.execute(trx);
  },
  appendAuditInSql: async (trx, { row, now, pads, canonicalParts: [a, b, c, d] }, event) => {
    const columns = Object.keys(row) as Array<keyof typeof row>;
    const outbox = event
      ? sql`, evented as (insert into outbox (id, type, data, created_at, dispatched_at) values (${event.id}, ${event.type}, ${event.data}::jsonb, ${event.created_at}, ${event.dispatched_at}))`
      : sql``;
    const values = columns.map((c) => (c === 'changes' ? sql`${row[c]}::jsonb` : sql`${row[c]}`));
    // head: the lock; link: the chain fields; appended: the row, hashed here over the canonical JSON. The
    // statement rides with the COMMIT (postgres-commit.ts), so the head's lock never waits on this process.
    // The hash is HMAC-SHA256 built from sha256() and the key's pads (RFC 2104), so no pgcrypto is needed; the
    // pads travel as hex text because a riding statement's parameters are inlined as literals.
    const query = sql`
      with head as (select seq, hash, ts from audit_head where id = 1 for update),
      link as (select seq + 1 as seq, greatest(${now}::bigint, ts) as ts, hash as prev_hash from head),
      appended as (
        insert into audit_events (seq, ts, prev_hash, hash, ${sql.join(columns.map((c) => sql.ref(c)))})
        select link.seq, link.ts, link.prev_hash, encode(sha256(decode(${pads.outer}, 'hex') || sha256(decode(${pads.inner}, 'hex')
            || convert_to(${a}::text || link.prev_hash || ${b}::text || link.seq::text || ${c}::text || link.ts::text || ${d}::text, 'UTF8'))), 'hex'),
          ${sql.join(values)}
        from link
        returning seq, hash, ts
      )${outbox}
      update audit_head set seq = appended.seq, hash = appended.hash, ts = appended.ts from appended${event ? sql`, (select pg_notify(${OUTBOX_CHANNEL}, '')) as notified` : sql``} where audit_head.id = 1`.compile(
      trx,
    );
    await commitWith(trx, query);
  },
  // to_json escapes a text like JSON.stringify (test/audit/chain-export-retention.test.ts); it is NULL for NULL.
  jsonText: (column) => sql<string>`coalesce(to_json(${sql.ref(column)})::text, 'null')`,
  isoText: (column) =>
    sql<string>`(to_char(to_timestamp(${sql.ref(column)} / 1000) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '.' || lpad((${sql.ref(column)} % 1000)::text, 3, '0') || 'Z')`,
  classify,
};
