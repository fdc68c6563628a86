import { readFile } from 'node:fs/promises';
import { Value } from 'typebox/value';
import { AuditCheckpoint, type VerifyResult } from '../modules/audit/schemas.js';

/** A checkpoint file as `GET /api/audit/checkpoint` or `gatehouse audit checkpoint` wrote it; exits 2 when it is not one. */
export async function readCheckpoint(file: string): Promise<AuditCheckpoint> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    process.stderr.write(`--checkpoint ${file}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const errors = [...Value.Errors(AuditCheckpoint, parsed)];
  if (errors.length > 0) {
    process.stderr.write(
      `--checkpoint ${file} is not an audit checkpoint: ${errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}\n`,
    );
    process.exit(2);
  }
  return parsed as AuditCheckpoint;
}

/** Prints a verification's result (the same locally and over the API): exit 0 when intact, 3 when broken. */
export function reportVerify(result: VerifyResult): number {
  if (result.status === 'ok') {
    process.stdout.write(
      `ok: ${result.checked} events, seq ${result.first_seq ?? '-'} to ${result.last_seq ?? '-'}, chain intact\n`,
    );
    if (result.checkpoint)
      process.stdout.write(
        `checkpoint at seq ${result.checkpoint.seq}: ${result.checkpoint.status}: ${result.checkpoint.detail}\n`,
      );
    return 0;
  }
  const b = result.broken;
  process.stdout.write(
    `BROKEN at seq ${b?.seq ?? '?'} (${b?.id ?? 'no event'}): ${b?.reason ?? ''}: ${b?.detail ?? ''}\n` +
      `${result.checked} events before it verified. Restore the audit_events table from a backup, or investigate who wrote to it.\n`,
  );
  return 3;
}
