import type { MfaChallengesTable, MfaFactorsTable, Queryable } from '../../db/tables.js';

export type FactorRow = MfaFactorsTable;

/** The only writer of `mfa_factors`, `mfa_recovery_codes` and `mfa_challenges`. */
export function createMfaStore() {
  return { ...factors(), ...factorUse(), ...recoveryCodes(), ...challenges(), ...challengeUse() };
}
export type MfaStore = ReturnType<typeof createMfaStore>;

function factors() {
  return {
    /**
     * Row-locks every factor of a user until the transaction ends (PostgreSQL; SQLite's write lock already holds
     * the whole database), so two confirmations of one person's factors run one after the other: only the
     * first one to commit sees no other active factor and issues recovery codes.
     */
    async lockFactorsOf(trx: Queryable, userId: string): Promise<void> {
      await trx
        .updateTable('mfa_factors')
        .set((eb) => ({ status: eb.ref('status') }))
        .where('user_id', '=', userId)
        .execute();
    },

    async listFactors(q: Queryable, userId: string): Promise<FactorRow[]> {
      return q
        .selectFrom('mfa_factors')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
    },

    async findFactor(q: Queryable, userId: string, id: string): Promise<FactorRow | undefined> {
      return q
        .selectFrom('mfa_factors')
        .selectAll()
        .where('user_id', '=', userId)
        .where('id', '=', id)
        .executeTakeFirst();
    },

    async insertFactor(q: Queryable, row: FactorRow): Promise<void> {
      await q.insertInto('mfa_factors').values(row).execute();
    },

    async deleteFactor(q: Queryable, userId: string, id: string): Promise<boolean> {
      const res = await q
        .deleteFrom('mfa_factors')
        .where('user_id', '=', userId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },

    /** Removes every factor, recovery code and open challenge of a user; the count of factors removed. */
    async deleteAllOf(q: Queryable, userId: string): Promise<number> {
      await q.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
      await q.deleteFrom('mfa_challenges').where('user_id', '=', userId).execute();
      const res = await q.deleteFrom('mfa_factors').where('user_id', '=', userId).executeTakeFirst();
      return Number(res.numDeletedRows);
    },
  };
}

function factorUse() {
  return {
    /** Turns a pending factor active; false when it was not pending (confirmed twice at once). */
    async activate(q: Queryable, id: string, lastStep: number | null, now: number): Promise<boolean> {
      const res = await q
        .updateTable('mfa_factors')
        .set({ status: 'active', confirmed_at: now, last_step: lastStep })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },

    /** Accepts a TOTP time step once: false when this step (or a later one) was accepted already. */
    async advanceStep(q: Queryable, id: string, step: number, now: number): Promise<boolean> {
      const res = await q
        .updateTable('mfa_factors')
        .set({ last_step: step, last_used_at: now })
        .where('id', '=', id)
        .where('status', '=', 'active')
        .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },

    async updateCounter(q: Queryable, id: string, counter: number, now: number): Promise<void> {
      await q.updateTable('mfa_factors').set({ counter, last_used_at: now }).where('id', '=', id).execute();
    },

    /** True when the user holds one of `roleNames` and has no active factor: it must enrol first. */
    async mustEnrol(q: Queryable, userId: string, roleNames: readonly string[]): Promise<boolean> {
      const row = await q
        .selectFrom('user_roles')
        .innerJoin('roles', 'roles.id', 'user_roles.role_id')
        .select('user_roles.user_id')
        .where('user_roles.user_id', '=', userId)
        .where('roles.name', 'in', [...roleNames])
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('mfa_factors')
                .select('mfa_factors.id')
                .where('mfa_factors.user_id', '=', userId)
                .where('mfa_factors.status', '=', 'active'),
            ),
          ),
        )
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}

function recoveryCodes() {
  return {
    /** Replaces all of a user's recovery codes with these hashes. */
    async replaceCodes(q: Queryable, userId: string, hashes: string[], now: number): Promise<void> {
      await q.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
      await q
        .insertInto('mfa_recovery_codes')
        .values(hashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now, used_at: null })))
        .execute();
    },

    async deleteCodes(q: Queryable, userId: string): Promise<void> {
      await q.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
    },

    async countUnusedCodes(q: Queryable, userId: string): Promise<number> {
      const row = await q
        .selectFrom('mfa_recovery_codes')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /** Spends a recovery code; false when it is unknown or was spent already. */
    async useCode(q: Queryable, userId: string, hash: string, now: number): Promise<boolean> {
      const res = await q
        .updateTable('mfa_recovery_codes')
        .set({ used_at: now })
        .where('user_id', '=', userId)
        .where('code_hash', '=', hash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
  };
}

function challenges() {
  return {
    async insertChallenge(q: Queryable, row: MfaChallengesTable): Promise<void> {
      await q.insertInto('mfa_challenges').values(row).execute();
    },

    /** A challenge that is unused and not expired, by its token's hash. */
    async findLiveChallenge(
      q: Queryable,
      tokenHash: string,
      kind: MfaChallengesTable['kind'],
      now: number,
    ): Promise<MfaChallengesTable | undefined> {
      return q
        .selectFrom('mfa_challenges')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .where('kind', '=', kind)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
    },

    async setChallenge(q: Queryable, tokenHash: string, challenge: string): Promise<void> {
      await q.updateTable('mfa_challenges').set({ challenge }).where('token_hash', '=', tokenHash).execute();
    },
  };
}

function challengeUse() {
  return {
    async addAttempt(q: Queryable, tokenHash: string): Promise<void> {
      await q
        .updateTable('mfa_challenges')
        .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
        .where('token_hash', '=', tokenHash)
        .execute();
    },

    /** Spends a challenge once; false when it was spent, or expired, meanwhile. */
    async consumeChallenge(q: Queryable, tokenHash: string, now: number): Promise<boolean> {
      const res = await q
        .updateTable('mfa_challenges')
        .set({ used_at: now })
        .where('token_hash', '=', tokenHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },

    /** Wrong answers to a user's sign-in challenges created since `since`, and when the oldest was created. */
    async recentFailures(
      q: Queryable,
      userId: string,
      since: number,
    ): Promise<{ failures: number; oldest: number | null }> {
      const row = await q
        .selectFrom('mfa_challenges')
        .select((eb) => [
          eb.fn.coalesce(eb.fn.sum<number>('attempts'), eb.lit(0)).as('failures'),
          eb.fn.min<number | null>('created_at').as('oldest'),
        ])
        .where('user_id', '=', userId)
        .where('kind', '=', 'login')
        .where('created_at', '>', since)
        .where('attempts', '>', 0)
        .executeTakeFirstOrThrow();
      return { failures: Number(row.failures), oldest: row.oldest === null ? null : Number(row.oldest) };
    },

    /** Forgets challenges that ended before `before`. */
    async purgeChallenges(q: Queryable, before: number): Promise<void> {
      await q.deleteFrom('mfa_challenges').where('expires_at', '<', before).execute();
    },
  };
}
