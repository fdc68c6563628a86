import { runPrepared, type Prepared } from '../../change.js';
import type { Trx } from '../../db/tables.js';
import { AppError } from '../../errors.js';
import { BUILTIN_ROLES } from '../../lib/permissions.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import type { PrincipalRule } from './principal-rule.js';
import type { Role } from './schemas.js';
import { assertHolds, checkUser, type RolesServiceDeps } from './service.js';

/** Giving roles to users and taking them away (the principal rule and the last-admin check apply). */
export function roleAssignments(
  { db, change, store, clock, onAccessChange }: RolesServiceDeps,
  shared: {
    rule: PrincipalRule;
    get: (id: string) => Promise<Role>;
    assertAnotherAdmin: (trx: Trx, userId: string) => Promise<void>;
  },
) {
  const { rule, get, assertAnotherAdmin } = shared;

  /** An assignment made ready: the role, the user and the rules are judged inside the change. */
  function prepareAssign(ctx: RequestCtx, uid: string, id: string, roleName: string): Prepared<unknown> {
    const userId = checkUser(uid);
    const after = { user_id: userId, role_id: id, role: roleName };
    return {
      spec: { action: 'role.assign', target: { type: 'user', id: userId }, input: after },
      write: async (trx) => {
        const role = await store.findById(trx, id);
        if (!role) throw new AppError('not_found', 'The role does not exist.');
        assertHolds(ctx, role.permissions, `Assigning the ${role.name} role`);
        if (!(await store.userExists(trx, userId)))
          throw new AppError('not_found', 'The user does not exist.');
        await rule.assertMayActOn(ctx, trx, { userId, what: `Assigning a role to this user` });
        await store.assign(trx, userId, id, clock.now());
        return { before: null, after };
      },
      after: onAccessChange,
    };
  }

  /** An unassignment made ready: the rules (and the last admin) are judged inside the change. */
  function prepareUnassign(ctx: RequestCtx, uid: string, id: string, roleName: string): Prepared<null> {
    const userId = checkUser(uid);
    return {
      spec: { action: 'role.unassign', target: { type: 'user', id: userId } },
      write: async (trx) => {
        await rule.assertMayActOn(ctx, trx, { userId, what: `Taking a role from this user` });
        if (id === BUILTIN_ROLES.admin) await assertAnotherAdmin(trx, userId);
        await store.unassign(trx, userId, id);
        return { before: { user_id: userId, role_id: id, role: roleName }, after: null };
      },
      after: onAccessChange,
    };
  }

  return {
    prepareAssign,
    prepareUnassign,
    /**
     * Gives a user a role; idempotent (an existing assignment changes nothing and writes nothing). The
     * caller must hold every permission of the role and of the user (the principal rule). Throws
     * `not_found`, `forbidden`.
     */
    async assign(ctx: RequestCtx, uid: string, id: string): Promise<void> {
      const userId = checkUser(uid);
      const role = await get(id);
      assertHolds(ctx, role.permissions, `Assigning the ${role.name} role`);
      if (!(await store.userExists(db, userId))) throw new AppError('not_found', 'The user does not exist.');
      if (await store.isAssigned(db, userId, id)) return;
      await runPrepared(change, ctx, prepareAssign(ctx, userId, id, role.name));
    },

    /**
     * Takes a role from a user; idempotent. The caller must hold every permission of the user (the principal
     * rule). Throws `not_found`, `forbidden`, `user.last_admin`.
     */
    async unassign(ctx: RequestCtx, uid: string, id: string): Promise<void> {
      const userId = checkUser(uid);
      const role = await get(id);
      if (!(await store.userExists(db, userId))) throw new AppError('not_found', 'The user does not exist.');
      if (!(await store.isAssigned(db, userId, id))) return;
      await runPrepared(change, ctx, prepareUnassign(ctx, userId, id, role.name));
    },
  };
}
