import { resolve } from 'node:path';
import { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Env } from '../env/schema.js';
import type { CopyText, Dialect, DialectHelpers } from './dialects/helpers.js';
import {
  createCopyText,
  createOutboxListener,
  createPostgresDialect,
  postgresHelpers,
} from './dialects/postgres.js';
import { createSqliteDialect, sqliteHelpers } from './dialects/sqlite.js';
import type { Tables } from './tables.js';

export type Database = {
  db: Kysely<Tables>;
  /**
   * For background work (the webhook worker): on PostgreSQL a small pool of its own, so deliveries are
   * neither held up by a burst of API writes waiting for connections nor take connections from them. On
   * SQLite the same connection as `db` (one writer either way).
   */
  background: Kysely<Tables>;
  /**
   * Calls `listener` when a change with outbox events commits in any process (PostgreSQL LISTEN/NOTIFY), until
   * the returned function is called. On SQLite nothing: its writers and the worker share one process, whose
   * own commits the outbox announces (`Outbox.onCommitted`); a separate `gatehouse worker` polls.
   */
  onOutboxCommit(listener: () => void): () => void;
  /** Bulk reads of text rows as raw bytes (PostgreSQL COPY); null on SQLite, whose reads make no such garbage. */
  copyText: CopyText | null;
  dialect: Dialect;
  helpers: DialectHelpers;
  /** Where the data lives, with no password: for logs and `--help`. */
  description: string;
  close(): Promise<void>;
};

/** The dialect's helpers, for tools that open their own connection (the audit bench's probe). */
export function helpersOf(dialect: Dialect): DialectHelpers {
  return dialect === 'postgres' ? postgresHelpers : sqliteHelpers;
}

/** The database URL from the settings: `DATABASE_URL`, or SQLite at `DATA_DIR/gatehouse.db`. */
export function databaseUrl(env: Pick<Env, 'DATABASE_URL' | 'DATA_DIR'>): string {
  return env.DATABASE_URL ?? `sqlite://${resolve(env.DATA_DIR, 'gatehouse.db')}`;
}

/** Connections of the background pool: the worker runs at most a round, a flush, a renewal and an update at once. */
const BACKGROUND_POOL_SIZE = 4;

/** Opens Kysely over SQLite (`sqlite:///path`) or PostgreSQL (`postgres://…`). */
export function createDb(url: string, logger?: Logger): Database {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { dialect, pool } = createPostgresDialect(url, logger);
    const db = new Kysely<Tables>({ dialect });
    const background = new Kysely<Tables>({
      dialect: createPostgresDialect(url, logger, BACKGROUND_POOL_SIZE).dialect,
    });
    const outboxListener = createOutboxListener(url, logger);
    const safe = new URL(url);
    safe.password = safe.password ? '***' : '';
    return {
      db,
      background,
      copyText: createCopyText(pool),
      dialect: 'postgres',
      helpers: postgresHelpers,
      description: `PostgreSQL ${safe.host}${safe.pathname}`,
      onOutboxCommit: (listener) => outboxListener.subscribe(listener),
      // Kysely's destroy ends the pool.
      close: async () => {
        await outboxListener.close();
        await background.destroy();
        await db.destroy();
      },
    };
  }
  const file = url.replace(/^sqlite:\/\//, '');
  const { dialect } = createSqliteDialect(file);
  const db = new Kysely<Tables>({ dialect });
  return {
    db,
    background: db,
    copyText: null,
    onOutboxCommit: () => () => undefined,
    dialect: 'sqlite',
    helpers: sqliteHelpers,
    description: `SQLite ${file}`,
    close: () => db.destroy(),
  };
}
