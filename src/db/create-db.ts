import { resolve } from 'node:path';
import { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Env } from '../env/schema.js';
import type { Dialect, DialectHelpers } from './dialects/helpers.js';
import { createPostgresDialect, postgresHelpers } from './dialects/postgres.js';
import { createSqliteDialect, sqliteHelpers, SqliteBooleanPlugin } from './dialects/sqlite.js';
import type { Tables } from './tables.js';

export type Database = {
  db: Kysely<Tables>;
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

/** Opens Kysely over SQLite (`sqlite:///path`) or PostgreSQL (`postgres://…`). */
export function createDb(url: string, logger?: Logger): Database {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { dialect } = createPostgresDialect(url, logger);
    const db = new Kysely<Tables>({ dialect });
    const safe = new URL(url);
    safe.password = safe.password ? '***' : '';
    return {
      db,
      dialect: 'postgres',
      helpers: postgresHelpers,
      description: `PostgreSQL ${safe.host}${safe.pathname}`,
      // Kysely's destroy ends the pool.
      close: () => db.destroy(),
    };
  }
  const file = url.replace(/^sqlite:\/\//, '');
  const { dialect } = createSqliteDialect(file);
  const db = new Kysely<Tables>({ dialect, plugins: [new SqliteBooleanPlugin()] });
  return { db, dialect: 'sqlite', helpers: sqliteHelpers, description: `SQLite ${file}`, close: () => db.destroy() };
}
