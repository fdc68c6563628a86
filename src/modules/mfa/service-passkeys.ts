import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { AppError, fieldError } from '../../errors.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { hashToken } from '../../lib/secret-token.js';
import { relyingParty, toFactor } from './factors.js';
import type { MfaFactor, RegisterPasskeyBody } from './schemas.js';
import {
  CHALLENGE_TTL_MS,
  MAX_FACTORS,
  codesOnFirstFactor,
  confirmDetail,
  sessionOf,
  type MfaServiceDeps,
} from './service-shared.js';
import type { FactorRow } from './store.js';

/** The caller's passkeys, as `excludeCredentials` / `allowCredentials` name them. */
/**
 * Ed25519, ES256, RS256. @simplewebauthn/server also offers ML-DSA when the runtime's crypto has it (Node 24),
 * and browsers then pick it; a passkey made that way could not be verified after a move to Node 22, which
 * Gatehouse supports, so the offer is the set every supported runtime verifies.
 */
const PASSKEY_ALGORITHMS = [-8, -7, -257];

export function passkeysOf(rows: FactorRow[]) {
  return rows.flatMap((f) =>
    f.kind === 'webauthn' && f.credential_id !== null
      ? [
          {
            id: f.credential_id,
            transports: f.transports === null ? undefined : (JSON.parse(f.transports) as string[]),
          },
        ]
      : [],
  );
}

/** The challenge a WebAuthn response was made for, read from its clientDataJSON. Throws `validation_failed`. */
export function challengeOf(clientDataJSON: string, pointer: string): string {
  try {
    const data = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8')) as {
      challenge?: unknown;
    };
    if (typeof data.challenge === 'string' && data.challenge.length <= 512) return data.challenge;
  } catch {
    // answered below
  }
  throw fieldError('body', pointer, 'clientDataJSON is not the JSON a browser sends.');
}

/** Keeps a registration challenge for 5 minutes, keyed by its hash; audited as the start of an enrolment. */
async function keepChallenge(
  { store, change, clock }: MfaServiceDeps,
  ctx: RequestCtx,
  userId: string,
  challenge: string,
): Promise<void> {
  const now = clock.now();
  await change(
    ctx,
    { action: 'auth.mfa.enrol', target: { type: 'user', id: userId }, input: { kind: 'webauthn' } },
    async (trx) => {
      await store.purgeChallenges(trx, now - 3600_000);
      await store.insertChallenge(trx, {
        ...{ token_hash: hashToken(challenge), user_id: userId, kind: 'webauthn_register', challenge },
        ...{ attempts: 0, created_at: now, expires_at: now + CHALLENGE_TTL_MS, used_at: null },
      });
      return { before: null, after: { kind: 'webauthn', status: 'challenge issued' } };
    },
  );
}

/** Registering a passkey: options with a challenge kept for 5 minutes, then the authenticator's answer verified. */
export function passkeyEnrolment(deps: MfaServiceDeps) {
  const { db, store, clock, settings } = deps;
  return {
    /** Options for `navigator.credentials.create()`; the challenge is kept (hashed key) for 5 minutes. */
    async passkeyOptions(
      ctx: RequestCtx,
      requestOrigin: string,
    ): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const { userId, username } = sessionOf(ctx);
      const { rpID } = relyingParty(settings().auth.public_url, requestOrigin);
      const rows = await store.listFactors(db, userId);
      if (rows.length >= MAX_FACTORS)
        throw new AppError('conflict', `At most ${MAX_FACTORS} factors; remove one first.`);
      const options = await generateRegistrationOptions({
        ...{ rpName: 'Gatehouse', rpID, userName: username, userID: new TextEncoder().encode(userId) },
        ...{ attestationType: 'none', timeout: CHALLENGE_TTL_MS, excludeCredentials: passkeysOf(rows) },
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
        supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
      });
      await keepChallenge(deps, ctx, userId, options.challenge);
      return options;
    },

    /** Verifies a registration and stores the passkey, active. Throws `validation_failed`, `conflict`. */
    async registerPasskey(
      ctx: RequestCtx,
      requestOrigin: string,
      body: RegisterPasskeyBody,
    ): Promise<{ factor: MfaFactor; recovery_codes: string[] }> {
      const { userId } = sessionOf(ctx);
      const challenge = challengeOf(
        body.response.response.clientDataJSON,
        '/response/response/clientDataJSON',
      );
      const now = clock.now();
      const hash = hashToken(challenge);
      const open = await store.findLiveChallenge(db, hash, 'webauthn_register', now);
      if (!open || open.user_id !== userId)
        throw fieldError(
          'body',
          '/response',
          'No open passkey registration of yours has this challenge (5 minutes).',
        );
      const credential = await verifiedCredential(deps, requestOrigin, body, challenge);
      return storePasskey(deps, ctx, { userId, hash, credential, name: body.name ?? 'Passkey', now });
    },
  };
}

type Credential = { id: string; publicKey: Uint8Array; counter: number; transports?: string[] };

/** The credential a registration response proves, or `validation_failed` saying why not. */
async function verifiedCredential(
  { settings }: MfaServiceDeps,
  requestOrigin: string,
  body: RegisterPasskeyBody,
  challenge: string,
): Promise<Credential> {
  const { rpID, origin } = relyingParty(settings().auth.public_url, requestOrigin);
  try {
    const result = await verifyRegistrationResponse({
      response: body.response as RegistrationResponseJSON,
      ...{ expectedChallenge: challenge, expectedOrigin: origin, expectedRPID: rpID },
      requireUserVerification: false,
    });
    if (result.verified) return result.registrationInfo.credential;
  } catch (err) {
    throw fieldError('body', '/response', `The passkey registration was not accepted: ${messageOf(err)}`);
  }
  throw fieldError('body', '/response', 'The passkey registration was not accepted.');
}

/** A library's error message, bounded, for a problem's detail (never a secret: it describes the caller's input). */
export function messageOf(err: unknown): string {
  return (err instanceof Error ? err.message : 'invalid').slice(0, 200);
}

async function storePasskey(
  { store, change, ids, onFactorsChange }: MfaServiceDeps,
  ctx: RequestCtx,
  p: { userId: string; hash: string; credential: Credential; name: string; now: number },
): Promise<{ factor: MfaFactor; recovery_codes: string[] }> {
  const id = ids.next('mfa');
  const { credential: c, now } = p;
  const row = {
    ...{ id, user_id: p.userId, kind: 'webauthn' as const, name: p.name, status: 'active' as const },
    ...{
      secret: null,
      last_step: null,
      credential_id: c.id,
      public_key: Buffer.from(c.publicKey).toString('base64url'),
    },
    ...{ counter: c.counter, transports: c.transports ? JSON.stringify(c.transports) : null },
    ...{ created_at: now, confirmed_at: now, last_used_at: null },
  };
  let fresh: string[] = [];
  const factor = await change(
    ctx,
    { action: 'auth.mfa.confirm', target: { type: 'mfa_factor', id } },
    async (trx) => {
      await store.lockFactorsOf(trx, p.userId);
      if (!(await store.consumeChallenge(trx, p.hash, now)))
        throw fieldError('body', '/response', 'This registration was finished already or expired.');
      if ((await store.listFactors(trx, p.userId)).some((f) => f.credential_id === c.id))
        throw new AppError('conflict', 'This passkey is registered already.');
      await store.insertFactor(trx, row);
      fresh = await codesOnFirstFactor(store, trx, p.userId, id, now);
      return { before: null, after: toFactor(row), detail: confirmDetail(fresh) };
    },
  );
  onFactorsChange();
  return { factor, recovery_codes: fresh };
}
