import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { generateWebhookSecret, givenOrNewSecret } from '../../src/lib/standard-webhooks.js';

/** The field errors of what `run` throws, or a failure when it does not throw a `validation_failed`. */
function refusal(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('validation_failed');
    return (err as AppError).extensions.errors;
  }
  throw new Error('not refused');
}

describe('a webhook or audit stream secret given by the caller', () => {
  it('is kept when it is whsec_ and base64 of 24 to 64 bytes; without one a new one is drawn', () => {
    for (const bytes of [24, 32, 64]) {
      const given = `whsec_${randomBytes(bytes).toString('base64')}`;
      expect(givenOrNewSecret(given)).toBe(given);
    }
    const drawn = givenOrNewSecret(undefined);
    expect(drawn).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(drawn).not.toBe(givenOrNewSecret(undefined));
    expect(givenOrNewSecret(generateWebhookSecret())).toMatch(/^whsec_/);
  });

  it('is refused at /secret when it is not one', () => {
    const bad = [
      '',
      randomBytes(32).toString('base64'),
      'whsec_',
      'whsec_not base64!!',
      `whsec_${randomBytes(16).toString('base64')}`,
      `whsec_${randomBytes(65).toString('base64')}`,
    ];
    for (const secret of bad)
      expect(refusal(() => givenOrNewSecret(secret))).toEqual([
        { in: 'body', pointer: '/secret', message: expect.any(String) as string },
      ]);
  });
});
