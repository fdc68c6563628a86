import { SingleBar, Presets } from 'cli-progress';
import { buildApp } from '../app.js';
import { createDb, databaseUrl } from '../db/create-db.js';
import { migrateToLatest } from '../db/migrate.js';
import type { Env } from '../env/schema.js';
import { systemClock } from '../lib/clock.js';
import { createIds } from '../lib/ids.js';
import { createLogger } from '../lib/logger.js';
import { systemCtx } from '../lib/request-ctx.js';
import type { ExportQuery } from '../modules/audit/schemas.js';

/** The app's services over the configured database, without a listener. */
async function open(env: Env) {
  const logger = createLogger(env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL, false);
  const database = createDb(databaseUrl(env), logger);
  await migrateToLatest(database.db);
  const built = await buildApp({ env, database, logger, clock: systemClock, ids: createIds() });
  return { audit: built.services.audit, close: async () => { await built.app.close(); await database.close(); } };
}

function bar(label: string): SingleBar {
  return new SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} events | {eta_formatted} left`, stream: process.stderr, hideCursor: true, noTTYOutput: false },
    Presets.shades_classic,
  );
}

/** `gatehouse audit verify`: walks the chain with a progress bar; exit 0 when intact, 3 when broken. */
export async function auditVerify(env: Env): Promise<number> {
  const { audit, close } = await open(env);
  const progress = bar('verifying');
  let started = false;
  try {
    const result = await audit.verify(systemCtx('cli'), (checked, total) => {
      if (!started) progress.start(total, 0);
      started = true;
      progress.update(checked);
    });
    if (started) progress.stop();
    if (result.status === 'ok') {
      process.stdout.write(`ok: ${result.checked} events, seq ${result.first_seq ?? '-'} to ${result.last_seq ?? '-'}, chain intact\n`);
      return 0;
    }
    const b = result.broken;
    process.stdout.write(`BROKEN at seq ${b?.seq ?? '?'} (${b?.id ?? 'no event'}): ${b?.reason ?? ''}: ${b?.detail ?? ''}\n` +
      `${result.checked} events before it verified. Restore the audit_events table from a backup, or investigate who wrote to it.\n`);
    return 3;
  } finally {
    await close();
  }
}

/** `gatehouse audit export [filters] > file`: NDJSON or CSV to stdout, a progress bar on stderr. */
export async function auditExport(env: Env, query: ExportQuery): Promise<number> {
  const { audit, close } = await open(env);
  const progress = bar('exporting');
  try {
    const total = await audit.count(query);
    progress.start(total, 0);
    let done = 0;
    const stream = await audit.export(systemCtx('cli'), query, (n) => progress.update((done += n)));
    for await (const chunk of stream) {
      if (!process.stdout.write(chunk as string | Buffer)) await new Promise((r) => process.stdout.once('drain', r));
    }
    progress.stop();
    process.stderr.write(`exported ${done} events\n`);
    return 0;
  } finally {
    await close();
  }
}
