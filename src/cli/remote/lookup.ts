import { unwrap, type Role, type User } from '@gatehouse/client';
import type { Remote } from './context.js';
import { CliError } from './output.js';

type Page<T> = { data: T[]; next_cursor?: string | null };

/**
 * Every item of a list, following `next_cursor` (`all`), or the first page only. `limit` is the page size
 * (1 to 500) and, without `all`, how many to show.
 */
export async function collect<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  all: boolean,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    items.push(...page.data);
    cursor = all ? (page.next_cursor ?? undefined) : undefined;
  } while (cursor);
  return items;
}

/** A user given by id (`user_…`) or by username. */
export async function findUser(remote: Remote, ref: string): Promise<User> {
  if (ref.startsWith('user_'))
    return unwrap(remote.api.GET('/api/users/{id}', { params: { path: { id: ref } } }));
  const page = await unwrap(remote.api.GET('/api/users', { params: { query: { q: ref, limit: 500 } } }));
  const user = page.data.find((u) => u.username.toLowerCase() === ref.toLowerCase());
  if (!user) throw new CliError(`No user named "${ref}".`);
  return user;
}

/** A role given by id (`role_…`) or by name. */
export async function findRole(remote: Remote, ref: string): Promise<Role> {
  if (ref.startsWith('role_'))
    return unwrap(remote.api.GET('/api/roles/{id}', { params: { path: { id: ref } } }));
  const roles = await collect(
    (cursor) =>
      unwrap(
        remote.api.GET('/api/roles', { params: { query: { limit: 500, ...(cursor ? { cursor } : {}) } } }),
      ),
    true,
  );
  const role = roles.find((r) => r.name === ref);
  if (!role) throw new CliError(`No role named "${ref}".`);
  return role;
}

/** `--limit` as a page size. */
export function limitOption(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500)
    throw new CliError('--limit must be a whole number from 1 to 500');
  return n;
}
