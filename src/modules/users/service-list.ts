import type { Kysely } from 'kysely';
import type { Tables } from '../../db/tables.js';
import { fieldError } from '../../errors.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, withTotal } from '../../lib/pagination.js';
import type { ListUsersQuery, User } from './schemas.js';
import type { UserFilters, UserSort, UsersStore } from './store.js';

/** A page of users; `total` only when asked with `?include=total`. */
export type UserPage = { data: User[]; next_cursor: string | null; total?: number };

/** The filters of a list query, q folded as stored values are (NFKC, lower case). Throws `validation_failed`. */
function listFilters(query: ListUsersQuery): UserFilters {
  const byStatus = query.status === undefined ? undefined : query.status === 'disabled';
  if (byStatus !== undefined && query.disabled !== undefined && byStatus !== query.disabled)
    throw fieldError('query', '/status', `status=${query.status} contradicts disabled=${query.disabled}`);
  return {
    q: query.q?.normalize('NFKC').toLowerCase(),
    kind: query.kind,
    disabled: byStatus ?? query.disabled,
  };
}

function toSort(sort: NonNullable<ListUsersQuery['sort']>): UserSort {
  const desc = sort.startsWith('-');
  return { key: (desc ? sort.slice(1) : sort) as UserSort['key'], desc };
}

/** The sort key of a user as the store orders by it: folded display name, '' for no email. */
function sortValue(user: User, key: UserSort['key']): string | number {
  if (key === 'created_at') return Date.parse(user.created_at);
  if (key === 'display_name') return (user.display_name ?? '').normalize('NFKC').toLowerCase();
  if (key === 'email') return user.email ?? '';
  return user.username;
}

/** The keyset of a cursor: (sort key, id) under a sort, else the id. Throws `validation_failed`. */
function decodeKeyset(cursor: string, scope: unknown, sort: UserSort | null): (string | number)[] {
  const keys = decodeCursor(cursor, scope, sort ? 2 : 1);
  const [first, id] = sort ? keys : [undefined, keys[0]];
  const numeric = sort?.key === 'created_at';
  if (typeof id !== 'string' || (sort !== null && typeof first !== (numeric ? 'number' : 'string')))
    throw fieldError('query', '/cursor', 'The cursor is malformed; start again without one.');
  return keys;
}

/** Listing users: filtered, searched, sorted, keyset-paged, counted when asked. */
export function userListing({ db, store }: { db: Kysely<Tables>; store: UsersStore }) {
  return {
    /**
     * A page of users in creation order or `sort` order, with `total` when asked. Throws `validation_failed`
     * for a bad or mismatched cursor (another sort included), or `status` contradicting `disabled`.
     */
    async list(query: ListUsersQuery): Promise<UserPage> {
      const limit = query.limit ?? DEFAULT_LIMIT;
      const filters = listFilters(query);
      const sort = query.sort === undefined ? null : toSort(query.sort);
      // A cursor is bound to the sort too; an absent one leaves the digest of a default list as it was.
      const scope = { ...filters, sort: query.sort };
      const after = query.cursor ? decodeKeyset(query.cursor, scope, sort) : null;
      const rows = await store.list(db, filters, { sort, after, limit });
      const page = toPage(
        rows,
        limit,
        (u) => u,
        (u) => (sort ? [sortValue(u, sort.key), u.id] : [u.id]),
        scope,
      );
      return withTotal(page, query.include ? await store.countMatching(db, filters) : undefined);
    },
  };
}
