import { toBool, toIso } from '../../db/codecs.js';
import { compiledRead } from '../../db/compiled.js';
import type { Queryable, UsersTable } from '../../db/tables.js';
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

/** Upper bound for a prefix range: every string starting with `prefix` sorts below it. */
function prefixEnd(prefix: string): string {
  return `${prefix}\u{10FFFF}`;
}

export type UserInsert = Omit<UsersTable, 'password_hash'> & { password_hash?: string | null };
export type UserPatch = Partial<
  Pick<UsersTable, 'username' | 'email' | 'display_name' | 'kind' | 'disabled' | 'password_hash'>
> & { updated_at: number };
export type UserFilters = { q?: string; kind?: User['kind']; disabled?: boolean };

const byId = compiledRead((q, id: string) => q.selectFrom('users').select(COLUMNS).where('id', '=', id));

/** The values of a list query, in this order, those of absent filters left out: the page size + 1 first. */
type ListArg = number | string | boolean;

/**
 * The list query for one combination of filters (`shape`: the letters of those present), compiled once
 * (`compiledRead`); its arguments are the values that vary.
 */
function listQueryOf(shape: string) {
  const has = (c: string) => shape.includes(c);
  return compiledRead((q, ...args: ListArg[]) => {
    let i = 1;
    let query = q
      .selectFrom('users')
      .select(COLUMNS)
      .orderBy('id')
      .limit(args[0] as number);
    if (has('a')) query = query.where('id', '>', args[i++] as string);
    if (has('k')) query = query.where('kind', '=', args[i++] as User['kind']);
    if (has('d')) query = query.where('disabled', '=', args[i++] as boolean);
    if (has('q')) {
      const [from, to] = [args[i++] as string, args[i++] as string];
      // Ranges rather than LIKE: no wildcard escaping, the same on both dialects, and index-friendly.
      query = query.where((eb) =>
        eb.or([
          eb.and([eb('username', '>=', from), eb('username', '<', to)]),
          eb.and([eb('email', '>=', from), eb('email', '<', to)]),
        ]),
      );
    }
    return query;
  });
}
const listQueries = new Map<string, ReturnType<typeof listQueryOf>>();

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

export function createUsersStore() {
  return {
    ...linkedLookups(),
    async insert(q: Queryable, row: UserInsert): Promise<User> {
      return toUser(await q.insertInto('users').values(row).returning(COLUMNS).executeTakeFirstOrThrow());
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
        .set(patch)
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

    /** One page in id order (ids are time-sortable), after the keyset `afterId`; fetches `limit + 1`. */
    async list(q: Queryable, filters: UserFilters, afterId: string | null, limit: number): Promise<User[]> {
      const args: ListArg[] = [limit + 1];
      let shape = '';
      const add = (letter: string, ...values: ListArg[]) => {
        shape += letter;
        args.push(...values);
      };
      if (afterId !== null) add('a', afterId);
      if (filters.kind !== undefined) add('k', filters.kind);
      if (filters.disabled !== undefined) add('d', filters.disabled);
      if (filters.q !== undefined) add('q', filters.q, prefixEnd(filters.q));
      let run = listQueries.get(shape);
      if (!run) listQueries.set(shape, (run = listQueryOf(shape)));
      return (await run(q, ...args)).map(toUser);
    },
  };
}
export type UsersStore = ReturnType<typeof createUsersStore>;
