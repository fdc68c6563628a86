import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSecretBox, SecretBoxError } from '../../src/lib/secret-box.js';

describe('secret box (AES-256-GCM, key derived from the audit secret)', () => {
  const box = createSecretBox(randomBytes(32));

  it('opens what it sealed, at the same context, and never stores the plaintext', () => {
    const sealed = box.seal('client-secret-Ωmega', 'auth_providers.client_secret:idp_1');
    expect(sealed.startsWith('v1.')).toBe(true);
    expect(sealed).not.toContain('client-secret');
    expect(box.open(sealed, 'auth_providers.client_secret:idp_1')).toBe('client-secret-Ωmega');
    // A fresh IV each time: the same secret never seals to the same text.
    expect(box.seal('x', 'c')).not.toBe(box.seal('x', 'c'));
  });

  it('refuses a value moved to another context, altered, or sealed under another key', () => {
    const sealed = box.seal('seed', 'mfa_factors.secret:mfa_a');
    expect(() => box.open(sealed, 'mfa_factors.secret:mfa_b')).toThrow(SecretBoxError);
    const [v, iv, body, tag] = sealed.split('.') as [string, string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() =>
      box.open([v, iv, flipped.toString('base64url'), tag].join('.'), 'mfa_factors.secret:mfa_a'),
    ).toThrow(SecretBoxError);
    expect(() => createSecretBox(randomBytes(32)).open(sealed, 'mfa_factors.secret:mfa_a')).toThrow(
      SecretBoxError,
    );
    for (const junk of ['', 'v1', 'v2.a.b.c', 'v1.a.b.c.d', 'plain text'])
      expect(() => box.open(junk, 'x')).toThrow(SecretBoxError);
  });
});
