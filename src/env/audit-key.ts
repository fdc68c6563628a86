import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from './schema.js';

/** The least secret the audit chain accepts: 256 bits. */
export const AUDIT_KEY_BYTES = 32;

/**
 * The audit secret: `GATEHOUSE_AUDIT_KEY`, else `DATA_DIR/audit.key` (base64), created with 32 random bytes
 * and mode 0600 on first start. Throws when the file is readable by group or others, or holds too short a
 * key: the key is what keeps a database writer from recomputing the chain.
 */
export function loadAuditSecret(
  env: Pick<Env, 'DATA_DIR' | 'GATEHOUSE_AUDIT_KEY'>,
  { create = true }: { create?: boolean } = {},
): Buffer {
  if (env.GATEHOUSE_AUDIT_KEY) return Buffer.from(env.GATEHOUSE_AUDIT_KEY, 'base64');
  const file = join(env.DATA_DIR, 'audit.key');
  if (create) createKeyFile(env.DATA_DIR, file);
  else if (!existsSync(file)) {
    // A tool (the CLI) must never mint a key of its own: it would seal a new database with it, and the
    // servers, holding the real key, would then refuse to start.
    throw new Error(
      `No audit key: set GATEHOUSE_AUDIT_KEY, or point DATA_DIR at the folder holding the servers' audit.key (${file} does not exist).`,
    );
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `${file} has mode ${mode.toString(8)}: the audit key must be readable by its owner only (chmod 600 ${file})`,
    );
  }
  const secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (secret.length < AUDIT_KEY_BYTES)
    throw new Error(
      `${file} holds ${secret.length} bytes; the audit key needs at least ${AUDIT_KEY_BYTES} (base64)`,
    );
  return secret;
}

/**
 * Creates the key file unless it exists. Written whole to a private temporary file, then linked into place,
 * which fails atomically when another process won: no process ever reads a half-written key.
 */
function createKeyFile(dir: string, file: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(file)) return;
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${randomBytes(AUDIT_KEY_BYTES).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
}
