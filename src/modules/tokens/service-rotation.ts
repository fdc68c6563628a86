import type { Queryable } from '../../db/tables.js';
import { isId } from '../../lib/ids.js';
import { AppError, assertFound } from '../../errors.js';
import { missing } from '../../lib/permissions.js';
import { hasScope, type RequestCtx } from '../../lib/request-ctx.js';
import { displayPrefix, generateToken, hashToken } from '../../lib/secret-token.js';
import { assertHolds } from '../roles/service.js';
import type { Token, TokenRecord, TokenWithSecret } from './schemas.js';
import type { TokensServiceDeps } from './service.js';

/**
 * Whether the caller may see a token's owner by name: its own token, or with `users:read` (names are what that
 * scope guards; `tokens:read` alone shows only `user_id`).
 */
export function mayNameOwner(ctx: RequestCtx, userId: string): boolean {
  if (ctx.system === true || ctx.principal?.userId === userId) return true;
  return ctx.principal ? hasScope(ctx.principal.scopes, 'users:read') : false;
}

/** A token with its owner, or `owner: null` where the caller may not see it (`mayNameOwner`). */
export function shown(ctx: RequestCtx, token: Token): Token {
  return mayNameOwner(ctx, token.user_id) ? token : { ...token, owner: null };
}

/** A token record as answered to this caller: its owner looked up (one query) where it may be shown. */
export async function answerOf(
  { store }: Pick<TokensServiceDeps, 'store'>,
  q: Queryable,
  ctx: RequestCtx,
  record: TokenRecord,
): Promise<Token> {
  return {
    ...record,
    owner: mayNameOwner(ctx, record.user_id) ? await store.ownerOf(q, record.user_id) : null,
  };
}

/** A path id that is not a token TypeID names no token: 404 without a query. */
export function tokenId(id: string): string {
  if (!isId('tok', id)) throw new AppError('not_found', 'No token has this id.');
  return id;
}

/**
 * A token's owner must hold its scopes; acting on another user's tokens needs every permission that user
 * holds (the principal rule; one's own tokens are one's own). Throws `forbidden`, `unprocessable`.
 */
export async function checkOwner(
  { permissionsOf, rule }: TokensServiceDeps,
  ctx: RequestCtx,
  q: Queryable,
  ownerId: string,
  scopes: readonly string[],
  what: string,
): Promise<void> {
  const ownerPerms = await permissionsOf(q, ownerId);
  rule.judge(ctx, { userId: ownerId, what: `${what} for this user`, self: true }, ownerPerms);
  const beyond = missing(ownerPerms, scopes);
  if (beyond.length > 0) {
    throw new AppError(
      'unprocessable',
      `The owner does not hold ${beyond.join(', ')}; a token cannot exceed its owner.`,
    );
  }
}

/** Rotating a token's secret, with a grace period for the old one. */
export function tokenRotation(deps: TokensServiceDeps) {
  const { db, change, store, clock, rule } = deps;
  return {
    /**
     * A new secret now; the old one keeps working for `graceSeconds`. The caller must hold the token's
     * scopes (and, for another user's token, that user's permissions). Throws `not_found`, `forbidden`,
     * `conflict` (revoked or expired).
     */
    async rotate(ctx: RequestCtx, id: string, graceSeconds: number): Promise<TokenWithSecret> {
      const current = assertFound(await store.findById(db, tokenId(id)), 'The token');
      await checkOwner(deps, ctx, db, current.user_id, current.scopes, 'Rotating a token');
      assertHolds(ctx, current.scopes, 'Rotating this token');
      const secret = generateToken('gth');
      const now = clock.now();
      const token = await change(
        ctx,
        { action: 'token.rotate', target: { type: 'token', id } },
        async (trx) => {
          const before = assertFound(await store.findById(trx, id), 'The token');
          await rule.assertMayActOn(ctx, trx, {
            userId: before.user_id,
            what: 'Rotating a token for this user',
            self: true,
          });
          if (before.revoked_at !== null)
            throw new AppError('conflict', 'The token is revoked; create a new one.');
          if (before.expires_at !== null && Date.parse(before.expires_at) <= now)
            throw new AppError('conflict', 'The token has expired; create a new one.');
          const after = await store.rotate(trx, id, {
            secretHash: hashToken(secret),
            prefix: displayPrefix(secret),
            prevValidUntil: graceSeconds > 0 ? now + graceSeconds * 1000 : null,
          });
          return { before, after: assertFound(after, 'The token') };
        },
      );
      deps.onAccessChange();
      return { ...(await answerOf(deps, db, ctx, token)), secret };
    },
  };
}
