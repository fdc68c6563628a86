import { toBool, toIso } from '../../db/codecs.js';
import { compiledRead } from '../../db/compiled.js';
import { sql, type ExpressionBuilder, type SelectQueryBuilder } from 'kysely';
import type { Queryable, Tables, UsersTable } from '../../db/tables.js';
import type { User } from './schemas.js';

const COLUMNS = [
  'id',
  'username',
  'email',
  'display_name',
  'kind',
  'disabled',
  'created_at',
  'updated_at',
  'external_id',
  'provider_id',
] as const;
type Row = Pick<UsersTable, (typeof COLUMNS)[number]>;

function toUser(row: Row): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    display_name: row.display_name,
    kind: row.kind,
    disabled: toBool(row.disabled),
    created_at: toIso(Number(row.created_at)),
    updated_at: toIso(Number(row.updated_at)),
    // Present only on a user linked to an identity provider.
    ...(row.external_id != null && row.provider_id != null
      ? { external_id: row.external_id, provider_id: row.provider_id }
      : {}),
  };
}

/** The stored search and sort key of a display name: NFKC, lower case, as usernames and emails are kept. */
export function displayNameKey(displayName: string | null): string {
  return displayName === null ? '' : displayName.normalize('NFKC').toLowerCase();
}

/** `q` as a LIKE pattern matching it anywhere, its own `%`, `_` and backslash taken literally. */
function containsPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export type UserInsert = Omit<UsersTable, 'password_hash' | 'display_name_key'> & {
  password_hash?: string | null;
};
export type UserPatch = Partial<
  Pick<UsersTable, 'username' | 'email' | 'display_name' | 'kind' | 'disabled' | 'password_hash'>
> & { updated_at: number };

/** The orders a list can have: a column (its key: text but `created_at`) and the id as the tiebreaker. */
export const USER_SORT_KEYS = ['username', 'email', 'display_name', 'created_at'] as const;
export type UserSortKey = (typeof USER_SORT_KEYS)[number];
export type UserSort = { key: UserSortKey; desc: boolean };
export type UserFilters = { q?: string; kind?: User['kind']; disabled?: boolean };

const byId = compiledRead((q, id: string) => q.selectFrom('users').select(COLUMNS).where('id', '=', id));

/** The values of a list query, in this order, those of absent filters left out: the page size + 1 first. */
type ListArg = number | string | boolean;

/** What each sort orders by: a null email sorts as '' (first ascending), the same on both dialects. */
function sortExpression(eb: ExpressionBuilder<Tables, 'users'>, key: UserSortKey) {
  if (key === 'email') return eb.fn.coalesce('email', sql.lit('')).$castTo<string>();
  if (key === 'display_name') return eb.ref('display_name_key').$castTo<string>();
  return eb.ref(key).$castTo<string | number>();
}

/** The filters of a list or count query, in `shape`'s letters; `next()` hands out their values in order. */
function withFilters<Q extends SelectQueryBuilder<Tables, 'users', object>>(
  query: Q,
  shape: string,
  next: () => ListArg,
): Q {
  let out = query;
  if (shape.includes('k')) out = out.where('kind', '=', next() as User['kind']) as Q;
  if (shape.includes('d')) out = out.where('disabled', '=', next() as boolean) as Q;
  if (shape.includes('q')) {
    const pattern = next() as string;
    // Every column searched is kept folded (NFKC, lower case) and so is q: the same match on both dialects.
    out = out.where((eb) =>
      eb.or(
        (['username', 'email', 'display_name_key'] as const).map(
          (c) => sql<boolean>`${eb.ref(c)} like ${pattern} escape '\\'`,
        ),
      ),
    ) as Q;
  }
  return out;
}

/**
 * The list query for one combination of filters (`shape`: the letters of those present) and one order,
 * compiled once (`compiledRead`); its arguments are the values that vary. The keyset is (sort key, id).
 */
function listQueryOf(shape: string, sort: UserSort | null) {
  return compiledRead((q, ...args: ListArg[]) => {
    let i = 1;
    const next = () => args[i++] as ListArg;
    let query = q
      .selectFrom('users')
      .select(COLUMNS)
      .limit(args[0] as number);
    const dir = sort?.desc ? 'desc' : 'asc';
    if (sort) query = query.orderBy((eb) => sortExpression(eb, sort.key), dir);
    query = query.orderBy('id', dir);
    if (shape.includes('a')) {
      const cmp = sort?.desc ? '<' : '>';
      if (sort) {
        const [key, id] = [next(), next() as string];
        query = query.where((eb) =>
          eb.or([
            eb(sortExpression(eb, sort.key), cmp, key as string),
            eb.and([eb(sortExpression(eb, sort.key), '=', key as string), eb('id', cmp, id)]),
          ]),
        );
      } else query = query.where('id', cmp, next() as string);
    }
    return withFilters(query, shape, next);
  });
}
const listQueries = new Map<string, ReturnType<typeof listQueryOf>>();

/** The count query for one combination of filters, compiled once. */
function countQueryOf(shape: string) {
  return compiledRead((q, ...args: ListArg[]) => {
    let i = 0;
    return withFilters(
      q.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')),
      shape,
      () => args[i++] as ListArg,
    );
  });
}
const countQueries = new Map<string, ReturnType<typeof countQueryOf>>();

/** The shape letters and values of the filters, in the order `withFilters` takes them. */
function filterArgs(filters: UserFilters): { shape: string; args: ListArg[] } {
  const present: [string, ListArg | undefined][] = [
    ['k', filters.kind],
    ['d', filters.disabled],
    ['q', filters.q === undefined ? undefined : containsPattern(filters.q)],
  ];
  const used = present.filter((p): p is [string, ListArg] => p[1] !== undefined);
  return { shape: used.map((p) => p[0]).join(''), args: used.map((p) => p[1]) };
}

/** Lookups for single sign-on: the user linked to a provider's subject, whether a username is free. */
function linkedLookups() {
  return {
    /** The user linked to a provider's subject. */
    async findByExternal(q: Queryable, providerId: string, externalId: string): Promise<User | undefined> {
      const row = await q
        .selectFrom('users')
        .select(COLUMNS)
        .where('provider_id', '=', providerId)
        .where('external_id', '=', externalId)
        .executeTakeFirst();
      return row && toUser(row);
    },

    /** Whether any user is linked to this provider. */
    async anyLinked(q: Queryable, providerId: string): Promise<boolean> {
      const row = await q
        .selectFrom('users')
        .select('id')
        .where('provider_id', '=', providerId)
        .executeTakeFirst();
      return row !== undefined;
    },

    async usernameExists(q: Queryable, username: string): Promise<boolean> {
      const row = await q
        .selectFrom('users')
        .select('id')
        .where('username', '=', username)
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}

/** Listing and counting users by filters, in an order. */
function listings() {
  return {
    /**
     * One page in `sort` order (null: by id, that is creation order, ids being time-sortable), after the keyset
     * `after` (the sort key and the id, or the id alone); fetches `limit + 1`.
     */
    async list(
      q: Queryable,
      filters: UserFilters,
      page: { sort: UserSort | null; after: ListArg[] | null; limit: number },
    ): Promise<User[]> {
      const { shape: filterShape, args: filterValues } = filterArgs(filters);
      const shape = (page.after ? 'a' : '') + filterShape;
      const name = `${shape}:${page.sort ? `${page.sort.desc ? '-' : ''}${page.sort.key}` : 'id'}`;
      let run = listQueries.get(name);
      if (!run) listQueries.set(name, (run = listQueryOf(shape, page.sort)));
      return (await run(q, page.limit + 1, ...(page.after ?? []), ...filterValues)).map(toUser);
    },

    /** How many users match the filters. */
    async countMatching(q: Queryable, filters: UserFilters): Promise<number> {
      const { shape, args } = filterArgs(filters);
      let run = countQueries.get(shape);
      if (!run) countQueries.set(shape, (run = countQueryOf(shape)));
      const [row] = await run(q, ...args);
      return Number(row?.n ?? 0);
    },
  };
}

export function createUsersStore() {
  return {
    ...linkedLookups(),
    ...listings(),
    async insert(q: Queryable, row: UserInsert): Promise<User> {
      const values = { ...row, display_name_key: displayNameKey(row.display_name) };
      return toUser(await q.insertInto('users').values(values).returning(COLUMNS).executeTakeFirstOrThrow());
    },

    async findById(q: Queryable, id: string): Promise<User | undefined> {
      const [row] = await byId(q, id);
      return row && toUser(row);
    },

    async findByUsername(q: Queryable, username: string): Promise<User | undefined> {
      const row = await q
        .selectFrom('users')
        .select(COLUMNS)
        .where('username', '=', username)
        .executeTakeFirst();
      return row && toUser(row);
    },

    async update(q: Queryable, id: string, patch: UserPatch): Promise<User | undefined> {
      const row = await q
        .updateTable('users')
        .set(
          patch.display_name !== undefined
            ? { ...patch, display_name_key: displayNameKey(patch.display_name) }
            : patch,
        )
        .where('id', '=', id)
        .returning(COLUMNS)
        .executeTakeFirst();
      return row && toUser(row);
    },

    async delete(q: Queryable, id: string): Promise<boolean> {
      const result = await q.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    /** The one way a user's password hash leaves the database here: for checking a change of one's own password. */
    async findPasswordHash(q: Queryable, id: string): Promise<string | null | undefined> {
      const row = await q.selectFrom('users').select('password_hash').where('id', '=', id).executeTakeFirst();
      return row?.password_hash;
    },

    async count(q: Queryable): Promise<number> {
      const row = await q
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
export type UsersStore = ReturnType<typeof createUsersStore>;
