/**
 * A what-if server for `bench/webhooks.ts --poll-ms <n>`: `gatehouse serve` as `src/main.ts` builds it, from
 * the same built modules (`dist/`), except that the webhook worker is started with `worker.start(POLL_MS)`
 * instead of the default 200 ms. Nothing in `src/` changes; it only shows how much of the latency and the
 * throughput is the poll interval. No audit retention timer, no signal-driven drain beyond stopping.
 *
 * Run: `POLL_MS=10 PORT=… HOST=… DATA_DIR=… node --import tsx bench/webhooks/serve-variant.ts`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type Worker = { start(intervalMs?: number): void; stop(): Promise<void> };
type Database = { db: unknown; close(): Promise<void> };
type App = { listen(o: { port: number; host: string }): Promise<string>; close(): Promise<void> };

const dist = (path: string) => import(pathToFileURL(resolve('dist/src', path)).href);

const { loadEnv } = (await dist('env/load.js')) as {
  loadEnv: () => {
    LOG_LEVEL: string;
    PORT: number;
    HOST: string;
    GATEHOUSE_BOOTSTRAP_TOKEN?: string;
  } & Record<string, unknown>;
};
const { createLogger } = (await dist('lib/logger.js')) as { createLogger: (level: string) => unknown };
const { createDb, databaseUrl } = (await dist('db/create-db.js')) as {
  createDb: (url: string, logger: unknown) => Database;
  databaseUrl: (env: unknown) => string;
};
const { migrateToLatest } = (await dist('db/migrate.js')) as {
  migrateToLatest: (db: unknown) => Promise<string[]>;
};
const { buildApp } = (await dist('app.js')) as {
  buildApp: (deps: unknown) => Promise<{ app: App; services: unknown; worker: Worker }>;
};
const { bootstrapAdmin } = (await dist('bootstrap.js')) as {
  bootstrapAdmin: (services: unknown, secret?: string) => Promise<unknown>;
};
const { systemClock } = (await dist('lib/clock.js')) as { systemClock: unknown };
const { createIds } = (await dist('lib/ids.js')) as { createIds: () => unknown };

const pollMs = Number(process.env.POLL_MS);
if (!Number.isFinite(pollMs) || pollMs < 1) throw new Error('POLL_MS must be a number of milliseconds ≥ 1');

const env = loadEnv();
const logger = createLogger(env.LOG_LEVEL);
const database = createDb(databaseUrl(env), logger);
await migrateToLatest(database.db);
const { app, services, worker } = await buildApp({
  env,
  database,
  logger,
  clock: systemClock,
  ids: createIds(),
});
await bootstrapAdmin(services, env.GATEHOUSE_BOOTSTRAP_TOKEN);
worker.start(pollMs);

let closing = false;
const shutdown = () => {
  if (closing) return;
  closing = true;
  worker
    .stop()
    .then(() => app.close())
    .then(() => database.close())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
await app.listen({ port: env.PORT, host: env.HOST });
