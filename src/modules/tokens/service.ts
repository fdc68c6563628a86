import type { Kysely } from 'kysely';
import type { Change } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { Principal, RequestCtx } from '../../lib/request-ctx.js';
import { displayPrefix, generateToken, hashToken, verifyTokenChecksum } from '../../lib/secret-token.js';
import type { Token } from './schemas.js';
import type { TokensStore } from './store.js';

/** The longest a token may live (a setting once the config feature lands). */
export const MAX_TOKEN_TTL_MS = 366 * 24 * 3600 * 1000;

type TokensServiceDeps = { db: Kysely<Tables>; change: Change; store: TokensStore; ids: Ids; clock: Clock };

export function createTokensService({ db, change, store, ids, clock }: TokensServiceDeps) {
  return {
    /**
     * The principal for a bearer secret, or `null`. The checksum is checked first, so a typo or a forgery
     * costs no database work; only the SHA-256 of the secret is ever looked up.
     */
    async authenticate(secret: string): Promise<Principal | null> {
      if (!verifyTokenChecksum(secret, 'gth')) return null;
      const live = await store.findLiveByHash(db, hashToken(secret), clock.now());
      if (!live) return null;
      return {
        userId: live.userId, username: live.username, tokenId: live.tokenId, tokenKind: 'token',
        scopes: live.scopes, expiresAt: live.expiresAt,
      };
    },

    /**
     * Creates a token for a user and returns it with its secret, which exists nowhere else afterwards.
     * `secret` may be supplied (the bootstrap token from the environment). Audited as `token.create`.
     */
    async issue(
      ctx: RequestCtx,
      input: { userId: string; name: string; scopes: string[]; ttlMs: number; secret?: string },
    ): Promise<Token & { secret: string }> {
      const secret = input.secret ?? generateToken('gth');
      const id = ids.next('tok');
      const now = clock.now();
      const token = await change(ctx, { action: 'token.create', target: { type: 'token', id } }, async (trx) => ({
        before: null,
        after: await store.insert(trx, {
          id, user_id: input.userId, name: input.name, prefix: displayPrefix(secret), secret_hash: hashToken(secret),
          scopes: JSON.stringify(input.scopes), created_at: now, expires_at: now + Math.min(input.ttlMs, MAX_TOKEN_TTL_MS),
          last_used_at: null, revoked_at: null,
        }),
      }));
      return { ...token, secret };
    },
  };
}
export type TokensService = ReturnType<typeof createTokensService>;
