import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';

/** What the audit secret (GATEHOUSE_AUDIT_KEY or DATA_DIR/audit.key) gives: one secret, two derived keys. */
export type AuditKeys = {
  /** The HMAC-SHA256 key of the chain's links. */
  chain: Buffer;
  /**
   * The chain key in HMAC's inner and outer pads (RFC 2104: the key zero-filled to SHA-256's 64-byte block,
   * xor 0x36 and xor 0x5c), in hex, so a database with plain SHA-256 computes the exact HMAC:
   * sha256(outer || sha256(inner || message)).
   */
  pads: { inner: string; outer: string };
  /** The Ed25519 key that signs checkpoints. */
  signing: KeyObject;
  verifying: KeyObject;
  /** The raw Ed25519 public key, base64url: what a checkpoint names and an outside verifier pins. */
  publicKey: string;
  /** The first 16 hex digits of the public key's SHA-256: a short name for the key in messages and logs. */
  keyId: string;
};

/** The PKCS #8 DER prefix of an Ed25519 private key: the 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const BLOCK = 64;

/**
 * Derives the chain and signing keys from the audit secret with HKDF-SHA256, each under its own label, so
 * an operator keeps one secret and neither key can be computed from the other.
 */
export function deriveAuditKeys(secret: Buffer): AuditKeys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
  const chain = derive('gatehouse audit chain hmac-sha256 v1');
  const padded = Buffer.concat([chain, Buffer.alloc(BLOCK - chain.length)]);
  const pad = (byte: number) => Buffer.from(padded.map((b) => b ^ byte)).toString('hex');
  const signing = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, derive('gatehouse audit checkpoint ed25519 v1')]),
    format: 'der',
    type: 'pkcs8',
  });
  const verifying = createPublicKey(signing);
  const raw = verifying.export({ format: 'der', type: 'spki' }).subarray(-32);
  return {
    chain,
    pads: { inner: pad(0x36), outer: pad(0x5c) },
    signing,
    verifying,
    publicKey: raw.toString('base64url'),
    keyId: createHash('sha256').update(raw).digest('hex').slice(0, 16),
  };
}

/**
 * The MAC of the seq the chain is keyed from (events before it, written before the chain had a key, are
 * plain SHA-256 links). A chain link's MAC covers JSON text starting with `{`, so this text is never one.
 */
export function keyedFromMac(keys: Pick<AuditKeys, 'chain'>, keyedFrom: number): string {
  return createHmac('sha256', keys.chain)
    .update(`gatehouse audit chain keyed from seq ${keyedFrom}`)
    .digest('hex');
}

/** Constant-time comparison of two hex digests (false for different lengths). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
