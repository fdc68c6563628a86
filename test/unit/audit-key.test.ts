import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAuditSecret } from '../../src/env/audit-key.js';
import { EnvError, loadEnv } from '../../src/env/load.js';
import { deriveAuditKeys, keyedFromMac } from '../../src/modules/audit/keys.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-key-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('loadAuditSecret', () => {
  it('creates DATA_DIR/audit.key on first start, readable by its owner only, and reads the same key after', () => {
    const DATA_DIR = join(tempDir(), 'data');
    const first = loadAuditSecret({ DATA_DIR });
    expect(first.length).toBe(32);
    expect(statSync(join(DATA_DIR, 'audit.key')).mode & 0o777).toBe(0o600);
    expect(loadAuditSecret({ DATA_DIR }).equals(first)).toBe(true);
    expect(readFileSync(join(DATA_DIR, 'audit.key'), 'utf8').trim()).toBe(first.toString('base64'));
  });

  it('takes GATEHOUSE_AUDIT_KEY over the file, and writes no file then', () => {
    const DATA_DIR = tempDir();
    const key = randomBytes(32);
    expect(loadAuditSecret({ DATA_DIR, GATEHOUSE_AUDIT_KEY: key.toString('base64') }).equals(key)).toBe(true);
    expect(() => statSync(join(DATA_DIR, 'audit.key'))).toThrow();
  });

  it('refuses a key file that group or others can read, and one too short', () => {
    const DATA_DIR = tempDir();
    loadAuditSecret({ DATA_DIR });
    chmodSync(join(DATA_DIR, 'audit.key'), 0o644);
    expect(() => loadAuditSecret({ DATA_DIR })).toThrow(/chmod 600/);
    const short = tempDir();
    writeFileSync(join(short, 'audit.key'), randomBytes(16).toString('base64'), { mode: 0o600 });
    expect(() => loadAuditSecret({ DATA_DIR: short })).toThrow(/at least 32/);
  });

  it('loadEnv refuses a GATEHOUSE_AUDIT_KEY shorter than 32 bytes or not base64', () => {
    for (const bad of [randomBytes(16).toString('base64'), 'not a key!']) {
      expect(() => loadEnv({ GATEHOUSE_AUDIT_KEY: bad })).toThrow(EnvError);
    }
    const good = randomBytes(32).toString('base64url');
    expect(loadEnv({ GATEHOUSE_AUDIT_KEY: good }).GATEHOUSE_AUDIT_KEY).toBe(good);
  });
});

describe('deriveAuditKeys', () => {
  const keys = deriveAuditKeys(randomBytes(32));

  it('gives pads with which plain SHA-256 computes the chain HMAC, as PostgreSQL does', () => {
    for (const text of ['', '{"a":1}', 'é 😀'.repeat(100)]) {
      const inner = createHash('sha256').update(Buffer.from(keys.pads.inner, 'hex')).update(text).digest();
      const outer = createHash('sha256')
        .update(Buffer.from(keys.pads.outer, 'hex'))
        .update(inner)
        .digest('hex');
      expect(outer).toBe(createHmac('sha256', keys.chain).update(text).digest('hex'));
    }
  });

  it('derives the same keys from the same secret, and different ones from another', () => {
    const secret = randomBytes(32);
    const [a, b, c] = [deriveAuditKeys(secret), deriveAuditKeys(secret), deriveAuditKeys(randomBytes(32))];
    expect([a.publicKey, a.keyId, a.chain.toString('hex')]).toEqual([
      b.publicKey,
      b.keyId,
      b.chain.toString('hex'),
    ]);
    expect(c.publicKey).not.toBe(a.publicKey);
    expect(keyedFromMac(a, 1)).not.toBe(keyedFromMac(c, 1));
    expect(keyedFromMac(a, 1)).not.toBe(keyedFromMac(a, 2));
  });
});
