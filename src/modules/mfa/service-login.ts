import {
  generateAuthenticationOptions,
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import type { RecordAudit } from '../../change.js';
import type { Tables, Trx } from '../../db/tables.js';
import { AppError, fieldError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import type { SecretBox } from '../../lib/secret-box.js';
import { hashToken, randomBase62 } from '../../lib/secret-token.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { Session } from '../sessions/schemas.js';
import type { UsersService } from '../users/service.js';
import { recoveryCodeHash, relyingParty, totpStep } from './factors.js';
import type { LoginMfaBody, LoginMfaOptionsBody } from './schemas.js';
import { passkeysOf } from './service-passkeys.js';
import { CHALLENGE_TTL_MS } from './service-shared.js';
import type { FactorRow, MfaStore } from './store.js';

/** Opens a session for a user whose sign-in is complete, running `within` in the session's transaction. */
export type SignIn = (
  ctx: RequestCtx,
  userId: string,
  opts: { detail: string; within: (trx: Trx) => Promise<void> },
) => Promise<Session>;

export type MfaLoginDeps = {
  db: Kysely<Tables>;
  record: RecordAudit;
  store: MfaStore;
  clock: Clock;
  secrets: SecretBox;
  settings: () => ConfigDocument;
  signIn: SignIn;
  users: Pick<UsersService, 'get'>;
};

/** Wrong answers allowed per mfa_token; past them the token is spent and the person signs in again. */
export const ATTEMPTS_PER_TOKEN = 5;
/** Wrong answers allowed per account within `ACCOUNT_WINDOW_MS`, over all its mfa_tokens; then 429. */
export const ATTEMPTS_PER_ACCOUNT = 10;
const ACCOUNT_WINDOW_MS = 15 * 60_000;

type Method = 'totp' | 'webauthn' | 'recovery';
/** What a verified answer changes in the session's transaction: the TOTP step, the spent code, the counter. */
type Proof = { method: Method; apply: (trx: Trx, now: number) => Promise<boolean> };

const invalidToken = () =>
  new AppError(
    'mfa.invalid_token',
    'This sign-in step expired, was used, or had too many wrong answers: sign in again.',
  );
const invalidCode = (method: Method) =>
  new AppError(
    'mfa.invalid_code',
    `The ${method === 'recovery' ? 'recovery code' : method === 'totp' ? 'code' : 'passkey'} was not accepted.`,
  );

export function createMfaLogin(deps: MfaLoginDeps) {
  return { ...passwordStep(deps), ...passkeyStep(deps), ...secondStep(deps) };
}
export type MfaLogin = ReturnType<typeof createMfaLogin>;

/** After the password: whether a second factor is needed, and the challenge for it. */
function passwordStep({ db, record, store, clock }: MfaLoginDeps) {
  return {
    /**
     * Called by the password sign-in once the password is right. Returns when the account has no active
     * factor; otherwise audits the step and throws `mfa_required` with a single-use `mfa_token` (5 minutes,
     * stored hashed) and the `methods` the account can answer with.
     */
    async afterPassword(ctx: RequestCtx, userId: string): Promise<void> {
      const active = (await store.listFactors(db, userId)).filter((f) => f.status === 'active');
      if (active.length === 0) return;
      const methods: Method[] = [];
      if (active.some((f) => f.kind === 'totp')) methods.push('totp');
      if (active.some((f) => f.kind === 'webauthn')) methods.push('webauthn');
      if ((await store.countUnusedCodes(db, userId)) > 0) methods.push('recovery');
      const token = `gtm_${randomBase62(40)}`;
      const now = clock.now();
      await store.purgeChallenges(db, now - 3600_000);
      await store.insertChallenge(db, {
        ...{ token_hash: hashToken(token), user_id: userId, kind: 'login', challenge: null },
        ...{ attempts: 0, created_at: now, expires_at: now + CHALLENGE_TTL_MS, used_at: null },
      });
      await record(ctx, {
        action: 'auth.login',
        target: { type: 'user', id: userId },
        outcome: 'denied',
        detail: `password accepted; second factor required (${methods.join(', ')})`,
      });
      throw new AppError(
        'mfa_required',
        'Send a second factor with this mfa_token to POST /api/auth/login/mfa.',
        {
          mfa_token: token,
          methods,
          expires_at: new Date(now + CHALLENGE_TTL_MS).toISOString(),
        },
      );
    },
  };
}

/** The live login challenge of a token, refused when spent, expired or out of attempts. */
async function liveLogin({ db, store, clock }: MfaLoginDeps, token: string) {
  const hash = hashToken(token);
  const ch = await store.findLiveChallenge(db, hash, 'login', clock.now());
  if (!ch || ch.attempts >= ATTEMPTS_PER_TOKEN) throw invalidToken();
  return { ...ch, hash };
}

/** 429 when the account had too many wrong answers lately, whichever mfa_token they came with. */
async function assertAccountLimit({ db, store, clock }: MfaLoginDeps, userId: string): Promise<void> {
  const now = clock.now();
  const { failures, oldest } = await store.recentFailures(db, userId, now - ACCOUNT_WINDOW_MS);
  if (failures < ATTEMPTS_PER_ACCOUNT) return;
  const retry = Math.max(1, Math.ceil(((oldest ?? now) + ACCOUNT_WINDOW_MS - now) / 1000));
  throw new AppError(
    'rate_limited',
    'Too many wrong second factors for this account; wait, then sign in again.',
    {
      retry_after_s: retry,
    },
  );
}

/** An audit row for a refused sign-in step (never with the code, the token or the assertion). */
function deny(deps: MfaLoginDeps, ctx: RequestCtx, userId: string | null, detail: string): Promise<void> {
  return deps.record(ctx, {
    action: 'auth.login',
    target: userId === null ? null : { type: 'user', id: userId },
    outcome: 'denied',
    detail,
  });
}

/** The login challenge of a token that may still be answered, each refusal audited. */
async function answerable(deps: MfaLoginDeps, ctx: RequestCtx, token: string) {
  const ch = await liveLogin(deps, token).catch(async (err: unknown) => {
    await deny(deps, ctx, null, 'mfa_token unknown, spent or expired');
    throw err;
  });
  await assertAccountLimit(deps, ch.user_id).catch(async (err: unknown) => {
    await deny(deps, ctx, ch.user_id, 'second factor: too many wrong answers');
    throw err;
  });
  // Disabled between the two steps: the password step would refuse it now, so this one does too.
  if ((await deps.users.get(ch.user_id)).disabled) {
    await deny(deps, ctx, ch.user_id, 'user disabled since the password step');
    throw invalidToken();
  }
  // Password sign-in turned off between the two steps: the first step would refuse now, so this one does too.
  if (deps.settings().auth.sso_only) {
    await deny(deps, ctx, ch.user_id, 'password sign-in turned off (auth.sso_only) since the password step');
    throw new AppError('auth.sso_only', 'Sign in through single sign-on; password sign-in is turned off.');
  }
  return ch;
}

/** The passkey challenge of a sign-in step. */
function passkeyStep(deps: MfaLoginDeps) {
  const { db, record, store, settings } = deps;
  return {
    /** Options for `navigator.credentials.get()` for this sign-in step. Throws `mfa.invalid_token`, `validation_failed`. */
    async passkeyOptions(
      ctx: RequestCtx,
      requestOrigin: string,
      { mfa_token }: LoginMfaOptionsBody,
    ): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const ch = await liveLogin(deps, mfa_token);
      const passkeys = passkeysOf(
        (await store.listFactors(db, ch.user_id)).filter((f) => f.status === 'active'),
      );
      if (passkeys.length === 0) throw fieldError('body', '/mfa_token', 'This account has no passkey.');
      const { rpID } = relyingParty(settings().auth.public_url, requestOrigin);
      const options = await generateAuthenticationOptions({
        ...{ rpID, allowCredentials: passkeys, userVerification: 'preferred', timeout: CHALLENGE_TTL_MS },
      });
      await store.setChallenge(db, ch.hash, options.challenge);
      await record(ctx, {
        action: 'auth.mfa.challenge',
        target: { type: 'user', id: ch.user_id },
        outcome: 'success',
      });
      return options;
    },
  };
}

/** The second step: checking the answer and opening the session. */
function secondStep(deps: MfaLoginDeps) {
  const { db, store, clock } = deps;
  return {
    /**
     * Completes a sign-in with the mfa_token and one of a TOTP code, a recovery code or a passkey assertion;
     * answers as the password sign-in does. Each wrong answer counts against the token and the account.
     * Throws `validation_failed`, `mfa.invalid_token`, `mfa.invalid_code`, `rate_limited`.
     */
    async complete(ctx: RequestCtx, requestOrigin: string, body: LoginMfaBody): Promise<Session> {
      const given = [body.code, body.recovery_code, body.webauthn].filter((v) => v !== undefined).length;
      if (given !== 1) throw fieldError('body', '', 'Send exactly one of code, recovery_code or webauthn.');
      const ch = await answerable(deps, ctx, body.mfa_token);
      const proof = await proofOf(deps, ch, requestOrigin, body);
      if (!proof.ok) {
        await store.addAttempt(db, ch.hash);
        await deny(deps, ctx, ch.user_id, `second factor refused (${proof.method})`);
        throw invalidCode(proof.method);
      }
      return deps
        .signIn(ctx, ch.user_id, {
          detail: `second factor: ${proof.method}`,
          within: async (trx) => {
            const now = clock.now();
            if (!(await store.consumeChallenge(trx, ch.hash, now))) throw invalidToken();
            if (!(await proof.apply(trx, now))) throw invalidCode(proof.method);
          },
        })
        .catch(async (err: unknown) => {
          // A code used already (a replay) counts as a wrong answer; the refusal itself was audited by the change.
          if (err instanceof AppError && err.code === 'mfa.invalid_code') await store.addAttempt(db, ch.hash);
          throw err;
        });
    },
  };
}

type Challenge = { user_id: string; hash: string; challenge: string | null };

/** Checks the answer against the account's factors; `apply` records its use inside the session's transaction. */
async function proofOf(
  deps: MfaLoginDeps,
  ch: Challenge,
  requestOrigin: string,
  body: LoginMfaBody,
): Promise<(Proof & { ok: true }) | { ok: false; method: Method }> {
  const { store, db, secrets, clock } = deps;
  const active = (await store.listFactors(db, ch.user_id)).filter((f) => f.status === 'active');
  if (body.code !== undefined) {
    const now = clock.now();
    for (const f of active) {
      const step = totpStep(secrets, f, body.code, now);
      if (step !== null)
        return { ok: true, method: 'totp', apply: (trx, at) => store.advanceStep(trx, f.id, step, at) };
    }
    return { ok: false, method: 'totp' };
  }
  if (body.recovery_code !== undefined) {
    const hash = recoveryCodeHash(body.recovery_code);
    return { ok: true, method: 'recovery', apply: (trx, at) => store.useCode(trx, ch.user_id, hash, at) };
  }
  if (body.webauthn === undefined) return { ok: false, method: 'webauthn' };
  return passkeyProof(deps, ch, requestOrigin, body.webauthn, active);
}

async function passkeyProof(
  { settings, store }: MfaLoginDeps,
  ch: Challenge,
  requestOrigin: string,
  response: NonNullable<LoginMfaBody['webauthn']>,
  active: FactorRow[],
): Promise<(Proof & { ok: true }) | { ok: false; method: Method }> {
  const refused = { ok: false as const, method: 'webauthn' as const };
  const factor = active.find((f) => f.kind === 'webauthn' && f.credential_id === response.id);
  if (ch.challenge === null)
    throw fieldError(
      'body',
      '/webauthn',
      'Ask POST /api/auth/login/mfa/webauthn/options for a challenge first.',
    );
  if (!factor?.public_key || factor.credential_id === null) return refused;
  const { rpID, origin } = relyingParty(settings().auth.public_url, requestOrigin);
  try {
    const result = await verifyAuthenticationResponse({
      response: response as AuthenticationResponseJSON,
      ...{ expectedChallenge: ch.challenge, expectedOrigin: origin, expectedRPID: rpID },
      credential: {
        id: factor.credential_id,
        publicKey: new Uint8Array(Buffer.from(factor.public_key, 'base64url')),
        counter: Number(factor.counter ?? 0),
      },
      requireUserVerification: false,
    });
    if (!result.verified) return refused;
    const counter = result.authenticationInfo.newCounter;
    return {
      ok: true,
      method: 'webauthn',
      apply: async (trx, at) => (await store.updateCounter(trx, factor.id, counter, at), true),
    };
  } catch {
    // A malformed or forged assertion is a wrong answer like any other, counted as one.
    return refused;
  }
}
