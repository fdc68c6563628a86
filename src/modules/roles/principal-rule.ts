import type { Queryable } from '../../db/tables.js';
import { AppError } from '../../errors.js';
import { missing } from '../../lib/permissions.js';
import type { RequestCtx } from '../../lib/request-ctx.js';

/** The name a refusal carries in its problem (`rule`), so a caller can tell it from a missing route scope. */
export const PRINCIPAL_RULE = 'act_on_principal';

/**
 * What the rule needs to know of the caller's request: what is being done (for the problem's detail) and
 * whether acting on oneself is allowed here without holding every own permission (own profile, own tokens
 * within own scopes). Acting on oneself is never a way around the rule for `disabled`, `kind`, roles or
 * another's password: those pass `self: false`.
 */
export type ActOn = { userId: string; what: string; self?: boolean };

/**
 * The one rule for acting on a principal (DESIGN.md, "Acting on a principal"): to change a user, what it can
 * do, or its credentials, the caller must hold every permission the target holds. Every path that changes a
 * user, its roles or its tokens calls `assertMayActOn` in its service, on the target, inside the change's
 * transaction so it judges current state.
 *
 * "Every permission the target holds" is the union of its roles' permissions (`permissionsOf`). A token's
 * stored scopes are not added: a token only ever acts with its scopes intersected with its owner's current
 * permissions, so nothing it holds lies outside its owner's roles; and scopes a token keeps beyond a role
 * its owner lost come back only if that role is assigned again, which this rule judges then.
 */
export function createPrincipalRule(deps: {
  permissionsOf: (q: Queryable, userId: string) => Promise<string[]>;
}) {
  /**
   * Throws `forbidden` (with `required_permission`, the first permission the caller lacks, and
   * `rule: "act_on_principal"`) unless the caller holds every permission in `held` (the target's), acts as
   * the server itself, or acts on itself where `self` allows it. For a caller that has read `held` already.
   */
  function judge(ctx: RequestCtx, target: ActOn, held: readonly string[]): void {
    if (ctx.system) return;
    const caller = ctx.principal;
    if (!caller) throw new AppError('unauthenticated');
    if (target.self === true && caller.userId === target.userId) return;
    const lacking = missing(caller.scopes, held);
    if (lacking.length === 0) return;
    throw new AppError(
      'forbidden',
      `${target.what} needs every permission that user holds, and you lack ${lacking.join(', ')}. Ask someone who holds them.`,
      { required_permission: lacking[0], rule: PRINCIPAL_RULE },
    );
  }

  return {
    judge,
    /** `judge` against the target's current permissions, read with `q` (inside the change, on its state). */
    async assertMayActOn(ctx: RequestCtx, q: Queryable, target: ActOn): Promise<void> {
      if (ctx.system || (target.self === true && ctx.principal?.userId === target.userId)) return;
      judge(ctx, target, await deps.permissionsOf(q, target.userId));
    },
  };
}
export type PrincipalRule = ReturnType<typeof createPrincipalRule>;
