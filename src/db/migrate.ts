import { Migrator, type MigrationResultSet } from 'kysely/migration';
import type { Kysely } from 'kysely';

type AnyDb = Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
import { migrations } from './migrations/index.js';

/** Runs every pending migration; throws with the failing migration's name. Locked on PostgreSQL. */
export async function migrateToLatest(db: AnyDb): Promise<string[]> {
  const result = await migrator(db).migrateToLatest();
  return check(result);
}

/** Reverts the latest migration (used by the up/down/up test). */
export async function migrateDown(db: AnyDb): Promise<string[]> {
  return check(await migrator(db).migrateDown());
}

function migrator(db: AnyDb): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

function check({ error, results }: MigrationResultSet): string[] {
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(
      `Migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      { cause: error },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
