import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  base62,
  generateToken,
  hashToken,
  randomBase62,
  tokenChecksum,
  verifyTokenChecksum,
} from '../../src/lib/secret-token.js';

describe('secret tokens', () => {
  it('have the DESIGN.md shape: gth_ + 32 base62 + 6-character base62 CRC32', () => {
    for (let i = 0; i < 200; i++) {
      const token = generateToken('gth');
      expect(token).toMatch(/^gth_[0-9A-Za-z]{38}$/);
      const random = token.slice(4, 36);
      const sum = crc32(random);
      // Decode the checksum independently of the encoder under test.
      let decoded = 0;
      for (let j = 36; j < 42; j++)
        decoded =
          decoded * 62 +
          '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.indexOf(token.charAt(j));
      expect(decoded).toBe(sum);
      expect(verifyTokenChecksum(token)).toBe(true);
    }
  });

  it('left-pads the checksum with 0 and encodes known values', () => {
    expect(base62(0, 6)).toBe('000000');
    expect(base62(61, 6)).toBe('00000z');
    expect(base62(62, 6)).toBe('000010');
    expect(base62(4294967295, 6)).toBe('4gfFC3');
    expect(tokenChecksum('a'.repeat(32))).toHaveLength(6);
  });

  it('fails the checksum for any single-character typo', () => {
    const token = generateToken('gth');
    for (let i = 4; i < token.length; i++) {
      const ch = token[i] === 'x' ? 'y' : 'x';
      expect(verifyTokenChecksum(token.slice(0, i) + ch + token.slice(i + 1))).toBe(false);
    }
  });

  it('refuses wrong prefixes, lengths and alphabets, and separates kinds', () => {
    const token = generateToken('gth');
    expect(verifyTokenChecksum(`gts_${token.slice(4)}`, 'gth')).toBe(false);
    expect(verifyTokenChecksum(token.slice(0, -1))).toBe(false);
    expect(verifyTokenChecksum(`${token}a`)).toBe(false);
    expect(verifyTokenChecksum(token.replace(/^gth_./, 'gth_-'))).toBe(false);
    expect(verifyTokenChecksum(generateToken('gts'), 'gts')).toBe(true);
  });

  it('draws characters evenly (rejection sampling, no modulo bias)', () => {
    const counts = new Map<string, number>();
    const sample = randomBase62(62 * 2000);
    for (const ch of sample) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    for (const n of counts.values()) expect(n).toBeGreaterThan(1500); // expectation 2000; bias toward 0-7 would be ~+25%
    for (const n of counts.values()) expect(n).toBeLessThan(2500);
  });

  it('stores only a SHA-256 hex digest', () => {
    expect(hashToken('gth_x')).toMatch(/^[0-9a-f]{64}$/);
  });
});
