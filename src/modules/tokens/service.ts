import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Change } from '../../change.js';
import type { Tables, Queryable, Trx } from '../../db/tables.js';
import { AppError, assertFound, fieldError } from '../../errors.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, withTotal, type PageOf } from '../../lib/pagination.js';
import type { AuthCache } from '../../lib/auth-cache.js';
import type { Clock } from '../../lib/clock.js';
import { isId, type Ids } from '../../lib/ids.js';
import { intersect, union } from '../../lib/permissions.js';
import { hasScope, type Principal, type RequestCtx } from '../../lib/request-ctx.js';
import { displayPrefix, generateToken, hashToken, verifyTokenChecksum } from '../../lib/secret-token.js';
import { assertHolds } from '../roles/service.js';
import type { CreateTokenBody, ListTokensQuery, Token, TokenWithSecret } from './schemas.js';
import type { LiveToken, TokensStore } from './store.js';
import type { ConfigDocument } from '../config/schemas.js';
import { answerOf, checkOwner, shown, tokenId, tokenRotation } from './service-rotation.js';
import type { PrincipalRule } from '../roles/principal-rule.js';

const DAY_MS = 24 * 3600 * 1000;
/** The bootstrap admin token's lifetime: the default maximum. */
export const MAX_TOKEN_TTL_MS = 366 * DAY_MS;
const TOUCH_EVERY_MS = 60_000;

/** What the tokens service works with. */
export type TokensServiceDeps = {
  db: Kysely<Tables>;
  change: Change;
  store: TokensStore;
  ids: Ids;
  clock: Clock;
  logger: Logger;
  cache: AuthCache<LiveToken | null>;
  permissionsOf: (q: Queryable, userId: string) => Promise<string[]>;
  rule: PrincipalRule;
  /** From the roles service: 409 when revoking this token leaves no admin a way in. */
  assertAdminWayIn: (trx: Trx, userId: string, except: { tokenId: string }, now: number) => Promise<void>;
  onAccessChange: () => void;
  settings: () => ConfigDocument;
};
type Page<T> = PageOf<T>;

/** The lifetime asked for, checked against the default and the maximum. Throws `validation_failed`. */
function expiryOf(deps: TokensServiceDeps, input: CreateTokenBody, now: number): number {
  if (input.expires_at !== undefined && input.ttl_seconds !== undefined) {
    throw fieldError('body', '/ttl_seconds', 'send expires_at or ttl_seconds, not both');
  }
  const { default_ttl_days: defaultDays, max_ttl_days: maxDays } = deps.settings().tokens;
  const at =
    input.expires_at !== undefined
      ? Date.parse(input.expires_at)
      : now + (input.ttl_seconds ?? defaultDays * 86_400) * 1000;
  const pointer = input.expires_at !== undefined ? '/expires_at' : '/ttl_seconds';
  if (at <= now) throw fieldError('body', pointer, 'must be in the future');
  if (at > now + maxDays * DAY_MS)
    throw fieldError('body', pointer, `must be at most ${maxDays} days ahead (tokens.max_ttl_days)`);
  return at;
}

export function createTokensService(deps: TokensServiceDeps) {
  return {
    ...tokenAuthentication(deps),
    ...tokenIssuing(deps),
    ...tokenReads(deps),
    ...tokenRevocation(deps),
    ...tokenRotation(deps),
  };
}
export type TokensService = ReturnType<typeof createTokensService>;

/** Authenticating a bearer token, with its scopes worked out once per cached lookup. */
function tokenAuthentication(deps: TokensServiceDeps) {
  const { db, store, clock, cache } = deps;
  const touched = new Map<string, number>();

  /**
   * A token's effective scopes depend only on its cached lookup: worked out once per lookup (every request
   * shares it until the cache entry goes), not per request. Nothing mutates a principal's scope lists.
   */
  const derived = new WeakMap<LiveToken, { owner: string[]; scopes: string[] }>();
  function scopesOf(live: LiveToken): { owner: string[]; scopes: string[] } {
    let d = derived.get(live);
    if (!d) {
      const owner = union(live.rolePermissions);
      d = { owner, scopes: intersect(live.scopes, owner) };
      derived.set(live, d);
    }
    return d;
  }

  /** Keeps `last_used_at` roughly current without a write per request. */
  function touch(live: LiveToken, now: number): void {
    const last = Math.max(live.lastUsedAt ?? 0, touched.get(live.tokenId) ?? 0);
    if (now - last < TOUCH_EVERY_MS) return;
    touched.set(live.tokenId, now);
    if (touched.size > 100_000) touched.clear();
    store
      .touch(db, live.tokenId, now)
      .catch((err: unknown) => deps.logger.warn({ err }, 'could not record token use'));
  }

  return {
    /**
     * The principal for a bearer secret, or `null`. The checksum is checked first, so a typo or a forgery
     * costs no database work; then one cached lookup by the secret's SHA-256. Effective scopes are the
     * token's intersected with its owner's current permissions.
     */
    async authenticate(secret: string): Promise<Principal | null> {
      if (!verifyTokenChecksum(secret, 'gth')) return null;
      const hash = hashToken(secret);
      const now = clock.now();
      const live = await cache.getOrLoad(
        hash,
        async () => (await store.findLiveByHash(db, hash, now)) ?? null,
      );
      if (
        !live ||
        (live.expiresAt !== null && live.expiresAt <= now) ||
        (live.graceUntil !== null && live.graceUntil <= now)
      )
        return null;
      touch(live, now);
      const { owner, scopes } = scopesOf(live);
      return {
        userId: live.userId,
        username: live.username,
        tokenId: live.tokenId,
        tokenKind: 'token',
        scopes,
        ownerScopes: owner,
        roleIds: live.roleIds,
        expiresAt: live.expiresAt,
      };
    },
  };
}

/** Minting tokens: internally (bootstrap) and for a caller (no escalation, the owner holds the scopes). */
function tokenIssuing(deps: TokensServiceDeps) {
  const { db, change, store, ids, clock } = deps;
  return {
    /** Creates a token (and its secret) without authorization checks: for bootstrap and internal use. */
    async issue(
      ctx: RequestCtx,
      input: { userId: string; name: string; scopes: string[]; expiresAt: number; secret?: string },
    ): Promise<TokenWithSecret> {
      const secret = input.secret ?? generateToken('gth');
      const id = ids.next('tok');
      const token = await change(
        ctx,
        { action: 'token.create', target: { type: 'token', id } },
        async (trx) => ({
          before: null,
          after: await store.insert(trx, {
            id,
            user_id: input.userId,
            name: input.name,
            prefix: displayPrefix(secret),
            secret_hash: hashToken(secret),
            scopes: JSON.stringify(input.scopes),
            created_at: clock.now(),
            expires_at: input.expiresAt,
            last_used_at: null,
            revoked_at: null,
            prev_secret_hash: null,
            prev_valid_until: null,
          }),
        }),
      );
      return { ...(await answerOf(deps, db, ctx, token)), secret };
    },

    /**
     * Mints a token for the caller or, with `user_id`, for another user. Throws `validation_failed`,
     * `forbidden` (escalation), `not_found`, `unprocessable`.
     */
    async create(ctx: RequestCtx, input: CreateTokenBody): Promise<TokenWithSecret> {
      const now = clock.now();
      const expiresAt = expiryOf(deps, input, now);
      const ownerId = input.user_id ?? ctx.principal?.userId;
      if (!ownerId || !isId('user', ownerId))
        throw fieldError('body', '/user_id', 'must be the id of a user');
      assertHolds(ctx, input.scopes, 'Minting this token');
      const owner = await db
        .selectFrom('users')
        .select(['id', 'disabled'])
        .where('id', '=', ownerId)
        .executeTakeFirst();
      if (!owner) throw fieldError('body', '/user_id', 'no user has this id');
      await checkOwner(deps, ctx, db, ownerId, input.scopes, 'Minting a token');
      return this.issue(ctx, { userId: ownerId, name: input.name, scopes: input.scopes, expiresAt });
    },
  };
}

/** Reading tokens: one's own, or anyone's with `tokens:read`. */
function tokenReads({ db, store, clock }: TokensServiceDeps) {
  return {
    /** Without `tokens:read` a caller sees only its own tokens. Throws `forbidden`, `validation_failed`. */
    async list(ctx: RequestCtx, query: ListTokensQuery): Promise<Page<Token>> {
      const own = ctx.principal?.userId;
      const mayReadAll = ctx.principal ? hasScope(ctx.principal.scopes, 'tokens:read') : false;
      if (!mayReadAll && query.user_id !== undefined && query.user_id !== own) {
        throw new AppError('forbidden', "Listing other users' tokens needs tokens:read.", {
          required_permission: 'tokens:read',
        });
      }
      const userId = mayReadAll ? query.user_id : own;
      const limit = query.limit ?? DEFAULT_LIMIT;
      // status undefined leaves the digest of an unfiltered list's cursor as it was.
      const scope = { userId: userId ?? null, status: query.status };
      const after = query.cursor ? String(decodeCursor(query.cursor, scope)[0]) : null;
      const filters = { userId, status: query.status, now: clock.now() };
      const found = toPage(
        await store.list(db, filters, after, limit),
        limit,
        (t) => shown(ctx, t),
        (t) => [t.id],
        scope,
      );
      // Counted over exactly what the caller may list: its own tokens unless it holds tokens:read.
      return withTotal(found, query.include ? await store.count(db, filters) : undefined);
    },

    /** One token; another user's only with `tokens:read` (else 404, so ids do not leak). */
    async get(ctx: RequestCtx, id: string): Promise<Token> {
      const token = assertFound(await store.findViewById(db, tokenId(id)), 'The token');
      const mayReadAll = ctx.principal ? hasScope(ctx.principal.scopes, 'tokens:read') : false;
      if (!mayReadAll && token.user_id !== ctx.principal?.userId)
        throw new AppError('not_found', 'The token does not exist.');
      return shown(ctx, token);
    },
  };
}

/** Revoking tokens (the principal rule and the last-admin credential check apply). */
function tokenRevocation(deps: TokensServiceDeps) {
  const { change, store, clock, rule } = deps;
  return {
    /**
     * Revokes a token; it stops working at once in this process. Idempotent. Another user's token needs every
     * permission its owner holds (the principal rule). Throws `not_found`, `forbidden`,
     * `token.last_admin_credential` (no admin would have a way in).
     */
    async revoke(ctx: RequestCtx, id: string): Promise<void> {
      tokenId(id);
      await change(ctx, { action: 'token.revoke', target: { type: 'token', id } }, async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The token');
        await rule.assertMayActOn(ctx, trx, { userId: before.user_id, what: 'Revoking a token', self: true });
        if (before.revoked_at) return { before, after: before };
        const now = clock.now();
        await deps.assertAdminWayIn(trx, before.user_id, { tokenId: id }, now);
        const after = assertFound(await store.revoke(trx, id, now), 'The token');
        return { before, after };
      });
      deps.onAccessChange();
    },

    /** Revokes every live token of a user, inside the caller's transaction (disabling it). The count revoked. */
    async revokeAllOf(trx: Trx, userId: string, now: number): Promise<number> {
      return store.revokeAllOfUser(trx, userId, now);
    },
  };
}
