import { createHash, randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { fieldError } from '../../errors.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { MfaFactor } from './schemas.js';
import type { FactorRow } from './store.js';

/** RFC 6238 as authenticator apps expect it: SHA-1, six digits, 30-second steps. */
const PERIOD_S = 30;
export const ISSUER = 'Gatehouse';
/** A code of the step before or after the current one is accepted too (clock drift). */
const WINDOW = 1;
export const RECOVERY_CODE_COUNT = 10;

const sealContext = (id: string) => `mfa_factors.secret:${id}`;

/** A new TOTP seed for a person: the seed sealed for storage, and the otpauth:// URI and its QR code to show once. */
export async function newTotp(
  secrets: SecretBox,
  id: string,
  username: string,
): Promise<{ sealed: string; uri: string; qr: string }> {
  const secret = new Secret({ size: 20 });
  const totp = new TOTP({
    issuer: ISSUER,
    label: username,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD_S,
    secret,
  });
  const uri = totp.toString();
  const qr = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { sealed: secrets.seal(secret.base32, sealContext(id)), uri, qr };
}

/** The time step a code belongs to for this factor at `now`, or null when the code is wrong. */
export function totpStep(secrets: SecretBox, row: FactorRow, code: string, now: number): number | null {
  if (row.kind !== 'totp' || row.secret === null) return null;
  const secret = Secret.fromBase32(secrets.open(row.secret, sealContext(row.id)));
  const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: PERIOD_S, secret });
  const delta = totp.validate({ token: code, timestamp: now, window: WINDOW });
  return delta === null ? null : Math.floor(now / (PERIOD_S * 1000)) + delta;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Ten recovery codes of 80 random bits each (`xxxx-xxxx-xxxx-xxxx`, base32), and their hashes. */
export function newRecoveryCodes(): { codes: string[]; hashes: string[] } {
  const codes: string[] = [];
  for (let i = 0; i < RECOVERY_CODE_COUNT; i++) {
    const bytes = randomBytes(10);
    let bits = 0n;
    for (const b of bytes) bits = (bits << 8n) | BigInt(b);
    let text = '';
    for (let c = 15; c >= 0; c--) {
      text += BASE32.charAt(Number((bits >> BigInt(5 * c)) & 31n));
      if (c % 4 === 0 && c > 0) text += '-';
    }
    codes.push(text);
  }
  return { codes, hashes: codes.map(recoveryCodeHash) };
}

/** The stored form of a recovery code: SHA-256 of its letters, case and dashes ignored. */
export function recoveryCodeHash(code: string): string {
  const normal = code.toLowerCase().replace(/[\s-]/g, '');
  return createHash('sha256').update(`gatehouse-recovery:${normal}`).digest('hex');
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

/** The API view of a factor: never its seed, key or counter. */
export function toFactor(row: FactorRow): MfaFactor {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    status: row.status,
    created_at: new Date(Number(row.created_at)).toISOString(),
    confirmed_at: iso(row.confirmed_at),
    last_used_at: iso(row.last_used_at),
  };
}

/**
 * The relying party passkeys are bound to: setting `auth.public_url` when set, else the origin the request
 * came to (local setups only). `requestOrigin` is built by the route from the Host header.
 */
export function relyingParty(
  publicUrl: string | null,
  requestOrigin: string,
): { rpID: string; origin: string } {
  const origin = publicUrl ?? requestOrigin;
  if (!URL.canParse(origin))
    throw fieldError('headers', '/host', 'The Host header is not a host name; set auth.public_url.');
  return { rpID: new URL(origin).hostname, origin };
}
