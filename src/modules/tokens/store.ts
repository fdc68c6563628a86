import { fromJson, toIso, toIsoOrNull } from '../../db/codecs.js';
import { compiledRead } from '../../db/compiled.js';
import type { Queryable, TokensTable } from '../../db/tables.js';
import type { Token, TokenRecord } from './schemas.js';

const PUBLIC_COLUMNS = [
  'id',
  'name',
  'user_id',
  'prefix',
  'scopes',
  'created_at',
  'expires_at',
  'last_used_at',
  'revoked_at',
  'prev_valid_until',
] as const;
type PublicRow = Pick<TokensTable, (typeof PUBLIC_COLUMNS)[number]>;

/** A token with its owner's names, from one join. */
type ViewRow = PublicRow & { owner_username: string; owner_display_name: string | null };

/** What a token list keeps: its owner, and whether it is live, revoked or expired at `now`. */
export type TokenFilters = { userId?: string; status?: 'active' | 'revoked' | 'expired'; now: number };

function toToken(row: PublicRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    user_id: row.user_id,
    prefix: row.prefix,
    scopes: fromJson<string[]>(row.scopes),
    created_at: toIso(Number(row.created_at)),
    expires_at: toIsoOrNull(row.expires_at),
    last_used_at: toIsoOrNull(row.last_used_at),
    revoked_at: toIsoOrNull(row.revoked_at),
    previous_secret_expires_at: toIsoOrNull(row.prev_valid_until),
  };
}

function toView(row: ViewRow): Token {
  return {
    ...toToken(row),
    owner: { id: row.user_id, username: row.owner_username, display_name: row.owner_display_name },
  };
}

/** Tokens joined to their owners (one join: no query per row), narrowed by the filters. */
function selectViews(q: Queryable, f: TokenFilters) {
  let query = q
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .select([
      ...PUBLIC_COLUMNS.map((c) => `tokens.${c}` as const),
      'users.username as owner_username',
      'users.display_name as owner_display_name',
    ]);
  if (f.userId !== undefined) query = query.where('tokens.user_id', '=', f.userId);
  if (f.status === 'revoked') query = query.where('tokens.revoked_at', 'is not', null);
  if (f.status === 'active')
    query = query
      .where('tokens.revoked_at', 'is', null)
      .where((eb) => eb.or([eb('tokens.expires_at', 'is', null), eb('tokens.expires_at', '>', f.now)]));
  if (f.status === 'expired')
    query = query.where('tokens.revoked_at', 'is', null).where('tokens.expires_at', '<=', f.now);
  return query;
}

/** A token that authenticates right now, with its owner's role permissions (one list per role). */
export type LiveToken = {
  tokenId: string;
  userId: string;
  username: string;
  scopes: string[];
  expiresAt: number | null;
  lastUsedAt: number | null;
  rolePermissions: string[][];
  roleIds: string[];
  /** Set when the secret is a rotated-out one: it works until then. */
  graceUntil: number | null;
};

const byId = compiledRead((q, id: string) =>
  q.selectFrom('tokens').select(PUBLIC_COLUMNS).where('id', '=', id),
);

/**
 * The authentication lookup, compiled once: the token with this secret hash (current, or previous within its
 * grace), unrevoked, unexpired, its owner enabled, one row per role of the owner.
 */
const liveByHash = compiledRead((q, secretHash: string, now: number) =>
  q
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .leftJoin('user_roles', 'user_roles.user_id', 'users.id')
    .leftJoin('roles', 'roles.id', 'user_roles.role_id')
    .select([
      'tokens.id as tokenId',
      'tokens.user_id as userId',
      'users.username',
      'tokens.scopes',
      'tokens.expires_at as expiresAt',
      'tokens.last_used_at as lastUsedAt',
      'roles.permissions as rolePermissions',
      'roles.id as roleId',
      'tokens.secret_hash as currentHash',
      'tokens.prev_valid_until as prevValidUntil',
    ])
    .where((eb) =>
      eb.or([
        eb('tokens.secret_hash', '=', secretHash),
        eb.and([eb('tokens.prev_secret_hash', '=', secretHash), eb('tokens.prev_valid_until', '>', now)]),
      ]),
    )
    .where('tokens.revoked_at', 'is', null)
    .where('users.disabled', '=', false)
    .where((eb) => eb.or([eb('tokens.expires_at', 'is', null), eb('tokens.expires_at', '>', now)])),
);

/** Issuing a token and reading tokens back for the API. */
function tokenRecords() {
  return {
    async insert(q: Queryable, row: TokensTable): Promise<TokenRecord> {
      return toToken(
        await q.insertInto('tokens').values(row).returning(PUBLIC_COLUMNS).executeTakeFirstOrThrow(),
      );
    },

    async findById(q: Queryable, id: string): Promise<TokenRecord | undefined> {
      const [row] = await byId(q, id);
      return row && toToken(row);
    },

    /** How many tokens match the filters. */
    async count(q: Queryable, f: TokenFilters): Promise<number> {
      const row = await selectViews(q, f)
        .clearSelect()
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /** A page by id, each token with its owner. Fetches `limit + 1`. */
    async list(q: Queryable, f: TokenFilters, afterId: string | null, limit: number): Promise<Token[]> {
      let query = selectViews(q, f)
        .orderBy('tokens.id')
        .limit(limit + 1);
      if (afterId !== null) query = query.where('tokens.id', '>', afterId);
      return (await query.execute()).map(toView);
    },

    /** One token with its owner. */
    async findViewById(q: Queryable, id: string): Promise<Token | undefined> {
      const row = await selectViews(q, { now: 0 }).where('tokens.id', '=', id).executeTakeFirst();
      return row && toView(row);
    },

    /** A user by name, as a token's owner. */
    async ownerOf(q: Queryable, userId: string): Promise<Token['owner']> {
      const row = await q
        .selectFrom('users')
        .select(['id', 'username', 'display_name'])
        .where('id', '=', userId)
        .executeTakeFirst();
      return row ?? null;
    },
  };
}

/** Ending a token's secret: revocation and rotation. */
function tokenRevocation() {
  return {
    async revoke(q: Queryable, id: string, now: number): Promise<TokenRecord | undefined> {
      const row = await q
        .updateTable('tokens')
        .set({ revoked_at: now, prev_secret_hash: null, prev_valid_until: null })
        .where('id', '=', id)
        .returning(PUBLIC_COLUMNS)
        .executeTakeFirst();
      return row && toToken(row);
    },

    /** Revokes every unrevoked token of a user (disabling it); the count revoked. */
    async revokeAllOfUser(q: Queryable, userId: string, now: number): Promise<number> {
      const res = await q
        .updateTable('tokens')
        .set({ revoked_at: now, prev_secret_hash: null, prev_valid_until: null })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows);
    },

    /** Swaps in a new secret; the old one stays valid until `prevValidUntil` (or not at all when null). */
    async rotate(
      q: Queryable,
      id: string,
      next: { secretHash: string; prefix: string; prevValidUntil: number | null },
    ): Promise<TokenRecord | undefined> {
      const row = await q
        .updateTable('tokens')
        .set((eb) => ({
          prev_secret_hash: next.prevValidUntil === null ? null : eb.ref('secret_hash'),
          prev_valid_until: next.prevValidUntil,
          secret_hash: next.secretHash,
          prefix: next.prefix,
        }))
        .where('id', '=', id)
        .returning(PUBLIC_COLUMNS)
        .executeTakeFirst();
      return row && toToken(row);
    },
  };
}

/** Authentication: the live-token lookup and its `last_used_at` bookkeeping. */
function tokenAuthentication() {
  return {
    /**
     * The live token with this secret hash (current, or previous within its grace): not revoked, not
     * expired, owner present and enabled; with the owner's role permissions, in one round trip.
     */
    async findLiveByHash(q: Queryable, secretHash: string, now: number): Promise<LiveToken | undefined> {
      const rows = await liveByHash(q, secretHash, now);
      const first = rows[0];
      if (!first) return undefined;
      return {
        tokenId: first.tokenId,
        userId: first.userId,
        username: first.username,
        scopes: fromJson<string[]>(first.scopes),
        expiresAt: first.expiresAt === null ? null : Number(first.expiresAt),
        lastUsedAt: first.lastUsedAt === null ? null : Number(first.lastUsedAt),
        graceUntil:
          first.currentHash === secretHash || first.prevValidUntil === null
            ? null
            : Number(first.prevValidUntil),
        rolePermissions: rows.flatMap((r) =>
          r.rolePermissions === null ? [] : [fromJson<string[]>(r.rolePermissions)],
        ),
        roleIds: rows.flatMap((r) => (r.roleId === null ? [] : [r.roleId])),
      };
    },

    /** Bookkeeping, not a change: `last_used_at` is written at most once a minute per token. */
    async touch(q: Queryable, id: string, now: number): Promise<void> {
      await q.updateTable('tokens').set({ last_used_at: now }).where('id', '=', id).execute();
    },
  };
}

export function createTokensStore() {
  return { ...tokenRecords(), ...tokenRevocation(), ...tokenAuthentication() };
}
export type TokensStore = ReturnType<typeof createTokensStore>;
