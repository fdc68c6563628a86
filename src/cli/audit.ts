import { SingleBar, Presets } from 'cli-progress';
import type { Env } from '../env/schema.js';
import { openServices } from './open.js';
import { systemCtx } from '../lib/request-ctx.js';
import type { ExportQuery } from '../modules/audit/schemas.js';
import { readCheckpoint, reportVerify } from './audit-report.js';

/** The audit service over the configured database (openServices). */
async function open(env: Env) {
  const { services, close } = await openServices(env);
  return { audit: services.audit, close };
}

function bar(label: string): SingleBar {
  return new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} events | {eta_formatted} left`,
      stream: process.stderr,
      hideCursor: true,
      noTTYOutput: false,
    },
    Presets.shades_classic,
  );
}

/**
 * `gatehouse audit verify [--checkpoint FILE]`: walks the chain with a progress bar, then holds it against
 * the checkpoint; exit 0 when intact, 3 when broken.
 */
export async function auditVerify(env: Env, options: { checkpoint?: string } = {}): Promise<number> {
  const checkpoint = options.checkpoint === undefined ? undefined : await readCheckpoint(options.checkpoint);
  const { audit, close } = await open(env);
  const progress = bar('verifying');
  let started = false;
  try {
    const onProgress = (checked: number, total: number) => {
      if (!started) progress.start(total, 0);
      started = true;
      progress.update(checked);
    };
    const result = await audit.verify(systemCtx('cli'), {
      onProgress,
      ...(checkpoint ? { checkpoint } : {}),
    });
    if (started) progress.stop();
    return reportVerify(result);
  } finally {
    await close();
  }
}

/** `gatehouse audit checkpoint > file`: a signed checkpoint of the head as JSON, to keep off the database host. */
export async function auditCheckpoint(env: Env): Promise<number> {
  const { audit, close } = await open(env);
  try {
    process.stdout.write(`${JSON.stringify(await audit.checkpoint(systemCtx('cli')), null, 2)}\n`);
    return 0;
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
      if (!process.stdout.write(chunk as string | Buffer))
        await new Promise((r) => process.stdout.once('drain', r));
    }
    progress.stop();
    process.stderr.write(`exported ${done} events\n`);
    return 0;
  } finally {
    await close();
  }
}
