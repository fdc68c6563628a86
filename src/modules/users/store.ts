import { toBool, toIso } from '../../db/codecs.js';
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

export function createUsersStore() {
  return {
    async insert(q: Queryable, row: UserInsert): Promise<User> {
      return toUser(await q.insertInto('users').values(row).returning(COLUMNS).executeTakeFirstOrThrow());
    },

    async findById(q: Queryable, id: string): Promise<User | undefined> {
      const row = await q.selectFrom('users').select(COLUMNS).where('id', '=', id).executeTakeFirst();
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
      let query = q
        .selectFrom('users')
        .select(COLUMNS)
        .orderBy('id')
        .limit(limit + 1);
      if (afterId !== null) query = query.where('id', '>', afterId);
      if (filters.kind !== undefined) query = query.where('kind', '=', filters.kind);
      if (filters.disabled !== undefined) query = query.where('disabled', '=', filters.disabled);
      const prefix = filters.q;
      if (prefix !== undefined) {
        // Ranges rather than LIKE: no wildcard escaping, the same on both dialects, and index-friendly.
        query = query.where((eb) =>
          eb.or([
            eb.and([eb('username', '>=', prefix), eb('username', '<', prefixEnd(prefix))]),
            eb.and([eb('email', '>=', prefix), eb('email', '<', prefixEnd(prefix))]),
          ]),
        );
      }
      return (await query.execute()).map(toUser);
    },
  };
}
export type UsersStore = ReturnType<typeof createUsersStore>;
