import { buildApp } from '../app.js';
import { createDb, databaseUrl } from '../db/create-db.js';
import { migrateToLatest } from '../db/migrate.js';
import { loadAuditSecret } from '../env/audit-key.js';
import type { Env } from '../env/schema.js';
import { systemClock } from '../lib/clock.js';
import { createIds } from '../lib/ids.js';
import { createLogger } from '../lib/logger.js';

/**
 * The app's services over the configured database, without a listener, for a command run on the database
 * host (`audit …`, `admin recover`). It takes the servers' audit key and never mints one: a key of its own
 * would seal a new database with it, or be refused by the chain's seal (loadAuditSecret explains).
 */
export async function openServices(env: Env) {
  const logger = createLogger(env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL, false);
  const database = createDb(databaseUrl(env), logger);
  await migrateToLatest(database.db);
  const auditKey = loadAuditSecret(env, { create: false });
  const built = await buildApp({ env, database, logger, clock: systemClock, ids: createIds(), auditKey });
  return {
    services: built.services,
    close: async () => {
      await built.app.close();
      await database.close();
    },
  };
}
export type CliServices = Awaited<ReturnType<typeof openServices>>['services'];
