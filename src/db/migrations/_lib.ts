/**
 * Helpers for migrations, append-only: migrations are frozen in time and import only `kysely` and this
 * file. Dialect differences branch here, once.
 */
import {
  SqliteAdapter,
  sql,
  type ColumnDefinitionBuilder,
  type CreateTableBuilder,
  type Kysely,
} from 'kysely';

export type Db = Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function isSqlite(db: Db): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}

/** A JSON column: `jsonb` on PostgreSQL, `text` on SQLite (a `jsonb` name would get NUMERIC affinity). */
export function jsonType(db: Db) {
  return isSqlite(db) ? sql`text` : sql`jsonb`;
}

/** A boolean column: `boolean` on PostgreSQL, `integer` 0/1 on SQLite. */
export function boolType(db: Db) {
  return isSqlite(db) ? sql`integer` : sql`boolean`;
}

/** An enum: text with a CHECK on both dialects. */
export function enumCheck(column: string, values: readonly string[]) {
  return (c: ColumnDefinitionBuilder) =>
    c.notNull().check(sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`);
}

export type TableBuilder = CreateTableBuilder<string, string>;

/**
 * Text compared by code point on both dialects (PostgreSQL's "C" collation; SQLite's default BINARY), so a
 * prefix search can be an index range scan whatever the server's locale.
 */
export function codePointText(db: Db) {
  return (c: ColumnDefinitionBuilder) => (isSqlite(db) ? c : c.modifyFront(sql`collate "C"`));
}

/** A boolean value as the column stores it: 0/1 on SQLite. */
export function boolValue(db: Db, value: boolean): boolean | number {
  return isSqlite(db) ? (value ? 1 : 0) : value;
}
