import { toIso, toIsoOrNull, fromJson } from '../../db/codecs.js';
import type { Queryable, TokensTable } from '../../db/tables.js';
import type { Token } from './schemas.js';

const PUBLIC_COLUMNS = ['id', 'name', 'user_id', 'prefix', 'scopes', 'created_at', 'expires_at', 'last_used_at', 'revoked_at'] as const;

function toToken(row: Pick<TokensTable, (typeof PUBLIC_COLUMNS)[number]>): Token {
  return {
    id: row.id, name: row.name, user_id: row.user_id, prefix: row.prefix, scopes: fromJson<string[]>(row.scopes),
    created_at: toIso(Number(row.created_at)), expires_at: toIsoOrNull(row.expires_at),
    last_used_at: toIsoOrNull(row.last_used_at), revoked_at: toIsoOrNull(row.revoked_at),
  };
}

export type LiveToken = { tokenId: string; userId: string; username: string; scopes: string[]; expiresAt: number | null };

export function createTokensStore() {
  return {
    async insert(q: Queryable, row: TokensTable): Promise<Token> {
      const inserted = await q.insertInto('tokens').values(row).returning(PUBLIC_COLUMNS).executeTakeFirstOrThrow();
      return toToken(inserted);
    },

    /** The live token with this secret hash: not revoked, not expired, owner present and enabled. */
    async findLiveByHash(q: Queryable, secretHash: string, now: number): Promise<LiveToken | undefined> {
      const row = await q
        .selectFrom('tokens')
        .innerJoin('users', 'users.id', 'tokens.user_id')
        .select(['tokens.id as tokenId', 'tokens.user_id as userId', 'users.username', 'tokens.scopes', 'tokens.expires_at as expiresAt'])
        .where('tokens.secret_hash', '=', secretHash)
        .where('tokens.revoked_at', 'is', null)
        .where('users.disabled', '=', false)
        .where((eb) => eb.or([eb('tokens.expires_at', 'is', null), eb('tokens.expires_at', '>', now)]))
        .executeTakeFirst();
      if (!row) return undefined;
      return { ...row, scopes: fromJson<string[]>(row.scopes), expiresAt: row.expiresAt === null ? null : Number(row.expiresAt) };
    },
  };
}
export type TokensStore = ReturnType<typeof createTokensStore>;
