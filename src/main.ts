#!/usr/bin/env node
import { Command } from 'commander';
import type { Env } from './env/schema.js';
import { systemClock } from './lib/clock.js';
import { createIds } from './lib/ids.js';
import { generateToken } from './lib/secret-token.js';
import { VERSION } from './version.js';
import type { ExportQuery } from './modules/audit/schemas.js';
import { registerAudit } from './cli/remote/audit-commands.js';
import { registerRemote, remoteHelp } from './cli/remote/commands.js';

/**
 * The server's code, loaded only by the commands that run it (serve, worker, migrate), so that the API
 * commands start without it.
 */
async function runtime() {
  const [bootstrap, core, db, migrate, logger, audit] = await Promise.all([
    import('./bootstrap.js'),
    import('./core.js'),
    import('./db/create-db.js'),
    import('./db/migrate.js'),
    import('./lib/logger.js'),
    import('./modules/audit/module.js'),
  ]);
  return { ...bootstrap, ...core, ...db, ...migrate, ...logger, startRetention: audit.startRetention };
}

/** The server settings (loaded on use: the API commands need neither them nor TypeBox). */
async function envOrExit(): Promise<Env> {
  const { EnvError, loadEnv } = await import('./env/load.js');
  try {
    return loadEnv();
  } catch (err) {
    if (err instanceof EnvError) {
      process.stderr.write(
        `${err.message}\nFix the variables above and start again (see README.md, Settings).\n`,
      );
      process.exit(2);
    }
    throw err;
  }
}

async function serve(): Promise<void> {
  const env = await envOrExit();
  const { createLogger, createDb, databaseUrl, migrateToLatest, bootstrapAdmin, startRetention } =
    await runtime();
  const logger = createLogger(env.LOG_LEVEL);
  const database = createDb(databaseUrl(env), logger);
  const applied = await migrateToLatest(database.db);
  if (applied.length) logger.info({ migrations: applied }, 'database migrated');
  // Loaded here, not at the top: `gatehouse worker` never loads the HTTP server.
  const { buildApp } = await import('./app.js');
  const { app, services, startRelays, idempotency, lifecycle } = await buildApp({
    env,
    database,
    logger,
    clock: systemClock,
    ids: createIds(),
  });

  const boot = await bootstrapAdmin(services, env.GATEHOUSE_BOOTSTRAP_TOKEN);
  if (boot && !env.GATEHOUSE_BOOTSTRAP_TOKEN) {
    // Printed once to the terminal, never to the log: it is the only copy of the secret.
    process.stdout.write(
      `\n  Gatehouse created the user "admin" and this admin token. It is shown once; store it now:\n\n` +
        `    ${boot.secret}\n\n  export GATEHOUSE_TOKEN=${boot.secret}\n\n`,
    );
  } else if (boot) {
    logger.info(
      { token_id: boot.tokenId },
      'created user admin with the token from GATEHOUSE_BOOTSTRAP_TOKEN',
    );
  }

  const purgeDeliveries = async () => {
    const purged = await services.webhooks.purge();
    if (purged.deliveries + purged.events > 0)
      logger.info(purged, 'webhook retention purged old deliveries and events');
  };
  const stopRetention = startRetention(services.audit, logger, [idempotency.purge, purgeDeliveries]);
  const stopRelays = startRelays();
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'draining in-flight requests, then exiting');
    // /readyz answers 503 from now on, so load balancers stop sending while the worker's sends finish.
    lifecycle.draining = true;
    stopRetention();
    // Stop taking new work first; then let requests and sends in flight finish, and give back leases.
    stopRelays()
      .then(() => app.close())
      .then(() => database.close())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  const address = await app.listen({ port: env.PORT, host: env.HOST });
  logger.info(
    { address, database: database.description, version: VERSION },
    `Gatehouse listening on ${address}`,
  );
}

/**
 * `gatehouse worker`: the relays alone (webhook deliveries and plugin after-hooks), for running them apart from
 * the API instances: the services they need, no HTTP server.
 */
async function workerOnly(): Promise<void> {
  const env = await envOrExit();
  const { createLogger, createDb, databaseUrl, migrateToLatest, buildCore } = await runtime();
  const logger = createLogger(env.LOG_LEVEL);
  const database = createDb(databaseUrl(env), logger);
  await migrateToLatest(database.db);
  const core = await buildCore({ env, database, logger, clock: systemClock, ids: createIds() });
  const stopRelays = core.startRelays();
  logger.info(
    { database: database.description },
    'Gatehouse webhook worker running (webhook deliveries, audit streams and plugin after-hooks; no HTTP listener)',
  );
  const shutdown = () => {
    stopRelays()
      .then(() => core.close())
      .then(() => database.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

async function migrate(): Promise<void> {
  const env = await envOrExit();
  const { createLogger, createDb, databaseUrl, migrateToLatest } = await runtime();
  const logger = createLogger(env.LOG_LEVEL);
  const database = createDb(databaseUrl(env), logger);
  try {
    const applied = await migrateToLatest(database.db);
    process.stdout.write(
      applied.length ? `Applied: ${applied.join(', ')}\n` : 'The database is up to date.\n',
    );
  } finally {
    await database.close();
  }
}

/** The export filters, checked by the same schema as the API's query string. */
async function parseExportOptions(opts: Record<string, string | undefined>): Promise<ExportQuery> {
  const [{ Value }, { ExportQuery }] = await Promise.all([
    import('typebox/value'),
    import('./modules/audit/schemas.js'),
  ]);
  const query = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
  const errors = [...Value.Errors(ExportQuery, query)];
  if (errors.length > 0) {
    process.stderr.write(
      errors.map((e) => `--${e.instancePath.slice(1) || 'options'}: ${e.message}`).join('\n') + '\n',
    );
    process.exit(2);
  }
  return query;
}

/** The settings for `--help`, from the env schema: loaded only when help is asked for, as TypeBox is slow to load. */
async function settingsHelp(argv: string[]): Promise<string> {
  if (!argv.some((a) => a === '-h' || a === '--help' || a === 'help')) return '';
  const { EnvSchema } = await import('./env/schema.js');
  const lines = Object.entries(EnvSchema.properties).map(
    ([key, s]) => `  ${key.padEnd(26)}${(s as { description?: string }).description ?? ''}`,
  );
  return `\nSettings (environment variables):\n${lines.join('\n')}\n`;
}

/** Exits with the code a command returns, after its output is flushed. */
function exitWith(run: () => Promise<number>) {
  return async () => {
    process.exitCode = await run();
  };
}

const program = new Command()
  .name('gatehouse')
  .version(VERSION)
  .description('Gatehouse: a self-hosted admin control plane.')
  .option('--url <url>', 'server for the API commands (default: GATEHOUSE_URL, else the profile)')
  .option('--token <token>', 'API token (default: GATEHOUSE_TOKEN, else the profile)')
  .option('--profile <name>', 'profile saved by `gatehouse login` (default: "default")')
  .option('--output <format>', 'table or json, for the API commands', 'table')
  .addHelpText('after', `${await settingsHelp(process.argv.slice(2))}${remoteHelp}`);

program
  .command('serve', { isDefault: true })
  .description('migrate the database, then serve the API and console')
  .action(serve);
program
  .command('worker')
  .description('deliver webhooks and audit streams and run plugin after-hooks only (no HTTP listener)')
  .action(workerOnly);
program.command('migrate').description('apply pending database migrations and exit').action(migrate);
program
  .command('token')
  .description('token utilities')
  .command('generate')
  .description('print a new well-formed token, e.g. for GATEHOUSE_BOOTSTRAP_TOKEN')
  .action(() => {
    process.stdout.write(`${generateToken('gth')}\n`);
  });

registerAudit(program, {
  // The local audit CLI (and its progress bar) is loaded when one of its commands runs, not by `serve`.
  verify: async (opts) => (await import('./cli/audit.js')).auditVerify(await envOrExit(), opts),
  checkpoint: async () => (await import('./cli/audit.js')).auditCheckpoint(await envOrExit()),
  export: async (opts) =>
    (await import('./cli/audit.js')).auditExport(await envOrExit(), await parseExportOptions(opts)),
});
registerRemote(program);

program
  .command('admin')
  .description(
    'break-glass administration from the database host (needs the database and the audit key, not the API)',
  )
  .command('recover')
  .argument('<username>', 'the user to give access back to')
  .option('--enable', 'enable the user first if it is disabled')
  .description(
    'print a one-time admin API token for USERNAME, valid for 1 hour (gives the admin role if missing); audited as system with your OS user',
  )
  .action((username: string, opts: { enable?: boolean }) =>
    exitWith(async () => (await import('./cli/admin.js')).adminRecover(await envOrExit(), username, opts))(),
  );

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`gatehouse: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
