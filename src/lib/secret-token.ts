import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;

export type TokenKind = 'gth' | 'gts';
const SHAPE = /^(gth|gts)_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;

/** Encodes a non-negative integer in base62, left-padded with `0` to `width`. */
export function base62(value: number, width: number): string {
  let out = '';
  let n = value;
  do {
    out = ALPHABET.charAt(n % 62) + out;
    n = Math.floor(n / 62);
  } while (n > 0);
  return out.padStart(width, '0');
}

/** `length` base62 characters from `crypto`, by rejection sampling so every character is equally likely. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 * 62: bytes at or above it would bias the first characters of the alphabet.
      if (byte < 248) out += ALPHABET.charAt(byte % 62);
      if (out.length === length) break;
    }
  }
  return out;
}

/** The 6-character base62 CRC32 of a token's random part. */
export function tokenChecksum(random: string): string {
  return base62(crc32(random), CHECKSUM_LENGTH);
}

/** A new secret: `gth_` (API token) or `gts_` (session) + 32 random base62 + 6-character checksum. */
export function generateToken(kind: TokenKind = 'gth'): string {
  const random = randomBase62(RANDOM_LENGTH);
  return `${kind}_${random}${tokenChecksum(random)}`;
}

/**
 * True when the string has a token's shape and its checksum matches. Checked before any lookup, so a
 * typo or a forgery costs no database work.
 */
export function verifyTokenChecksum(token: string, kind?: TokenKind): boolean {
  const m = SHAPE.exec(token);
  if (!m) return false;
  if (kind && m[1] !== kind) return false;
  return m[2] !== undefined && tokenChecksum(m[2]) === m[3];
}

/** The only form in which a secret is stored: hex SHA-256. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A short, non-secret prefix shown in listings so a person can tell tokens apart. */
export function displayPrefix(token: string): string {
  return token.slice(0, 4 + 6);
}
