import { AppError, fieldError } from '../../errors.js';
import { isId } from '../../lib/ids.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { newRecoveryCodes, newTotp, toFactor, totpStep } from './factors.js';
import type { ConfirmTotpBody, EnrolTotpBody, MfaOverview, RecoveryCodes, TotpEnrolment } from './schemas.js';
import { passkeyEnrolment } from './service-passkeys.js';
import {
  MAX_FACTORS,
  codesOnFirstFactor,
  confirmDetail,
  sessionOf,
  type MfaServiceDeps,
} from './service-shared.js';

export type { MfaServiceDeps } from './service-shared.js';

export function createMfaService(deps: MfaServiceDeps) {
  return { ...ownFactors(deps), ...totpEnrolment(deps), ...passkeyEnrolment(deps), ...factorRemoval(deps) };
}
export type MfaService = ReturnType<typeof createMfaService>;

/** Reading one's own factors, and replacing one's recovery codes. */
function ownFactors({ db, store, change, clock }: MfaServiceDeps) {
  return {
    /** The caller's factors (never a seed or key) and how many recovery codes are left. Throws `forbidden`. */
    async list(ctx: RequestCtx): Promise<MfaOverview> {
      const { userId } = sessionOf(ctx);
      const rows = await store.listFactors(db, userId);
      return { factors: rows.map(toFactor), recovery_codes_left: await store.countUnusedCodes(db, userId) };
    },

    /**
     * Ten new recovery codes replacing the old ones, shown once. Needs the session and an active factor
     * (a session of such an account was itself opened with a second factor). Throws `forbidden`, `conflict`.
     */
    async regenerateCodes(ctx: RequestCtx): Promise<RecoveryCodes> {
      const { userId } = sessionOf(ctx);
      const { codes, hashes } = newRecoveryCodes();
      await change(
        ctx,
        { action: 'auth.mfa.recovery_codes', target: { type: 'user', id: userId } },
        async (trx) => {
          const active = (await store.listFactors(trx, userId)).some((f) => f.status === 'active');
          if (!active)
            throw new AppError('conflict', 'Recovery codes come with a second factor: enrol one first.');
          await store.replaceCodes(trx, userId, hashes, clock.now());
          return {
            before: null,
            after: { recovery_codes_left: codes.length },
            detail: 'recovery codes replaced',
          };
        },
      );
      return { recovery_codes: codes };
    },
  };
}

/** Enrolling an authenticator app: the seed is shown once, the factor is active once a code confirms it. */
function totpEnrolment({ db, store, change, ids, clock, secrets, onFactorsChange }: MfaServiceDeps) {
  return {
    /** A pending TOTP factor; its seed is only in this answer's URI and QR code. Throws `forbidden`, `conflict`. */
    async enrolTotp(ctx: RequestCtx, body: EnrolTotpBody): Promise<TotpEnrolment> {
      const { userId, username } = sessionOf(ctx);
      const id = ids.next('mfa');
      const { sealed, uri, qr } = await newTotp(secrets, id, username);
      const now = clock.now();
      const row = {
        ...{ id, user_id: userId, kind: 'totp' as const, name: body.name ?? 'Authenticator app' },
        ...{ status: 'pending' as const, secret: sealed, last_step: null, credential_id: null },
        ...{ public_key: null, counter: null, transports: null, created_at: now },
        ...{ confirmed_at: null, last_used_at: null },
      };
      await change(
        ctx,
        { action: 'auth.mfa.enrol', target: { type: 'mfa_factor', id }, input: { kind: 'totp' } },
        async (trx) => {
          if ((await store.listFactors(trx, userId)).length >= MAX_FACTORS)
            throw new AppError('conflict', `At most ${MAX_FACTORS} factors; remove one first.`);
          await store.insertFactor(trx, row);
          return { before: null, after: toFactor(row) };
        },
      );
      return { id, otpauth_uri: uri, qr_svg: qr };
    },

    /**
     * Activates a pending TOTP factor with a first code. The answer holds ten recovery codes when it is the
     * account's first active factor, else none. Throws `not_found`, `conflict`, `validation_failed`.
     */
    async confirmTotp(ctx: RequestCtx, id: string, { code }: ConfirmTotpBody): Promise<RecoveryCodes> {
      const { userId } = sessionOf(ctx);
      const row = isId('mfa', id) ? await store.findFactor(db, userId, id) : undefined;
      if (!row || row.kind !== 'totp') throw new AppError('not_found', 'You have no such TOTP factor.');
      if (row.status === 'active') throw new AppError('conflict', 'This factor is confirmed already.');
      const now = clock.now();
      const step = totpStep(secrets, row, code, now);
      if (step === null)
        throw fieldError('body', '/code', 'This code is wrong: check the app and the clock.');
      // The codes leave this function in the answer only: never in the change's before/after (the audit row).
      let fresh: string[] = [];
      await change(ctx, { action: 'auth.mfa.confirm', target: { type: 'mfa_factor', id } }, async (trx) => {
        await store.lockFactorsOf(trx, userId);
        if (!(await store.activate(trx, id, step, now)))
          throw new AppError('conflict', 'This factor is confirmed already.');
        fresh = await codesOnFirstFactor(store, trx, userId, id, now);
        const after = toFactor({ ...row, status: 'active', confirmed_at: now });
        return { before: toFactor(row), after, detail: confirmDetail(fresh) };
      });
      onFactorsChange();
      return { recovery_codes: fresh };
    },
  };
}

/** Removing factors: one's own, one at a time; or all of another user's, by an admin. */
function factorRemoval({ store, change, users, rule, onFactorsChange }: MfaServiceDeps) {
  return {
    /** Removes one of the caller's factors; with no active factor left, its recovery codes go too. Throws `not_found`. */
    async remove(ctx: RequestCtx, id: string): Promise<void> {
      const { userId } = sessionOf(ctx);
      if (!isId('mfa', id)) throw new AppError('not_found', 'You have no such factor.');
      await change(ctx, { action: 'auth.mfa.remove', target: { type: 'mfa_factor', id } }, async (trx) => {
        const row = await store.findFactor(trx, userId, id);
        if (!row) throw new AppError('not_found', 'You have no such factor.');
        await store.deleteFactor(trx, userId, id);
        const left = (await store.listFactors(trx, userId)).some((f) => f.status === 'active');
        if (!left) await store.deleteCodes(trx, userId);
        return {
          before: toFactor(row),
          after: null,
          detail: left ? undefined : 'last active factor: recovery codes removed',
        };
      });
      onFactorsChange();
    },

    /**
     * Removes every factor and recovery code of another user (who then signs in with the password alone).
     * Needs users:write and every permission the target holds; refused for one's own account.
     * Throws `not_found`, `forbidden`.
     */
    async reset(ctx: RequestCtx, userId: string): Promise<void> {
      if (!isId('user', userId)) throw new AppError('not_found', 'The user does not exist.');
      await users.get(userId);
      await change(ctx, { action: 'auth.mfa.reset', target: { type: 'user', id: userId } }, async (trx) => {
        if (ctx.principal?.userId === userId)
          throw new AppError(
            'forbidden',
            'You cannot reset your own factors: remove them one by one at /api/me/mfa/{id}.',
            {
              required_permission: 'users:write',
              rule: 'not_self',
            },
          );
        await rule.assertMayActOn(ctx, trx, {
          userId,
          what: "Resetting a user's second factors",
          self: false,
        });
        const n = await store.deleteAllOf(trx, userId);
        return {
          before: { factors: n },
          after: null,
          detail: `${n} factor(s) and the recovery codes removed`,
        };
      });
      onFactorsChange();
    },
  };
}
