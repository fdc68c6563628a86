import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { fieldError } from '../errors.js';

/** `whsec_` + base64 of random bytes: the Standard Webhooks secret format. */
export function generateWebhookSecret(bytes = 32): string {
  return `whsec_${randomBytes(bytes).toString('base64')}`;
}

/** The key a caller's secret may carry, in bytes. */
export const SECRET_MIN_BYTES = 24;
export const SECRET_MAX_BYTES = 64;
/**
 * The shortest and longest a caller's secret can be, in characters (`whsec_` and padded base64 of the least and
 * the most bytes): the limits a schema states for it, as this check enforces them.
 */
export const SECRET_MIN_LENGTH = 'whsec_'.length + 4 * Math.ceil(SECRET_MIN_BYTES / 3);
export const SECRET_MAX_LENGTH = 'whsec_'.length + 4 * Math.ceil(SECRET_MAX_BYTES / 3);
export const SECRET_PATTERN = '^whsec_[A-Za-z0-9+/]+={0,2}$';

/** Why a caller's secret is not a Standard Webhooks one (`whsec_` and base64 of 24 to 64 bytes), if it is not. */
export function webhookSecretProblem(secret: string): string | undefined {
  if (!secret.startsWith('whsec_')) return 'must start with whsec_';
  const body = secret.slice('whsec_'.length);
  if (!new RegExp(SECRET_PATTERN).test(secret) || body.length % 4 !== 0)
    return 'must be whsec_ followed by base64';
  const bytes = Buffer.from(body, 'base64').length;
  if (bytes < SECRET_MIN_BYTES || bytes > SECRET_MAX_BYTES)
    return `must carry ${SECRET_MIN_BYTES} to ${SECRET_MAX_BYTES} bytes of key`;
  return undefined;
}

/**
 * The secret a new endpoint (a webhook, an audit stream) signs with: the caller's own (a declarative state
 * carries it), else a generated one. Throws `validation_failed` at `/secret`.
 */
export function givenOrNewSecret(secret: string | undefined): string {
  if (secret === undefined) return generateWebhookSecret();
  const problem = webhookSecretProblem(secret);
  if (problem) throw fieldError('body', '/secret', problem);
  return secret;
}

/** `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed with the secret's base64-decoded part. */
export function sign(secret: string, id: string, timestampS: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampS}.${body}`).digest('base64')}`;
}

/** The three headers of a delivery; `secrets` may hold two (after a rotation), space-separated signatures. */
export function webhookHeaders(
  secrets: string[],
  id: string,
  timestampS: number,
  body: string,
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampS),
    'webhook-signature': secrets.map((s) => sign(s, id, timestampS, body)).join(' '),
  };
}

/** Verifies a signature header against one secret, for plugins and tests of our own. */
export function verify(
  secret: string,
  id: string,
  timestampS: number,
  body: string,
  header: string,
): boolean {
  const expected = Buffer.from(sign(secret, id, timestampS, body));
  return header.split(' ').some((candidate) => {
    const got = Buffer.from(candidate);
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}
