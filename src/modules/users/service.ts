import type { Kysely } from 'kysely';
import type { Change } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import { AppError, assertFound, fieldError } from '../../errors.js';
import { decodeCursor, DEFAULT_LIMIT, toPage } from '../../http/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { isId, type Ids } from '../../lib/ids.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { USERNAME_PATTERN, type CreateUserBody, type ListUsersQuery, type UpdateUserBody, type User } from './schemas.js';
import type { UsersStore } from './store.js';

type UsersServiceDeps = { db: Kysely<Tables>; change: Change; store: UsersStore; ids: Ids; clock: Clock };

/**
 * The stored form of a username: NFKC folds width and compatibility forms (`ａｌｉｃｅ` → `alice`), then
 * lower-case, so uniqueness holds regardless of case and width. Throws `validation_failed`.
 */
export function normalizeUsername(input: string): string {
  const username = input.normalize('NFKC').toLowerCase();
  if (!USERNAME_PATTERN.test(username)) {
    throw fieldError('body', '/username', 'must be 1–64 characters of a-z 0-9 . _ - @ (after lower-casing)');
  }
  return username;
}

function normalizeEmail(email: string | null | undefined): string | null | undefined {
  return typeof email === 'string' ? email.normalize('NFKC').toLowerCase() : email;
}

/** A path id that is not a user TypeID names no user: 404 without a query. */
function checkId(id: string): string {
  if (!isId('user', id)) throw new AppError('not_found', 'No user has this id.');
  return id;
}

export function createUsersService({ db, change, store, ids, clock }: UsersServiceDeps) {
  return {
    /** Creates a user. Throws `validation_failed`, `user.username_taken`. */
    async create(ctx: RequestCtx, input: CreateUserBody): Promise<User> {
      const username = normalizeUsername(input.username);
      const target = { type: 'user', id: ids.next('user') };
      const now = clock.now();
      return change(ctx, { action: 'user.create', target }, async (trx) => ({
        before: null,
        after: await store.insert(trx, {
          id: target.id, username, email: normalizeEmail(input.email) ?? null, display_name: input.display_name ?? null,
          kind: input.kind ?? 'human', disabled: input.disabled ?? false, created_at: now, updated_at: now,
        }),
      }));
    },

    /** Throws `not_found`. */
    async get(id: string): Promise<User> {
      return assertFound(await store.findById(db, checkId(id)), 'The user');
    },

    /** A page of users in creation order. Throws `validation_failed` for a bad cursor. */
    async list(query: ListUsersQuery): Promise<{ data: User[]; next_cursor: string | null }> {
      const limit = query.limit ?? DEFAULT_LIMIT;
      const filters = { q: query.q?.normalize('NFKC').toLowerCase(), kind: query.kind, disabled: query.disabled };
      const after = query.cursor ? String(decodeCursor(query.cursor, filters)[0]) : null;
      const rows = await store.list(db, filters, after, limit);
      return toPage(rows, limit, (u) => u, (u) => [u.id], filters);
    },

    /** Updates the fields present. Throws `not_found`, `validation_failed`, `user.username_taken`. */
    async update(ctx: RequestCtx, id: string, input: UpdateUserBody): Promise<User> {
      checkId(id);
      const patch = {
        ...input,
        ...(input.username !== undefined ? { username: normalizeUsername(input.username) } : {}),
        ...(input.email !== undefined ? { email: normalizeEmail(input.email) } : {}),
        updated_at: clock.now(),
      };
      return change(ctx, { action: 'user.update', target: { type: 'user', id } }, async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The user');
        return { before, after: assertFound(await store.update(trx, id, patch), 'The user') };
      });
    },

    /** Deletes a user; its tokens go with it. Throws `not_found`. */
    async remove(ctx: RequestCtx, id: string): Promise<void> {
      checkId(id);
      await change(ctx, { action: 'user.delete', target: { type: 'user', id } }, async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The user');
        await store.delete(trx, id);
        return { before, after: null };
      });
    },

    /** True when no user exists yet (first start). */
    async isEmpty(): Promise<boolean> {
      return (await store.count(db)) === 0;
    },
  };
}
export type UsersService = ReturnType<typeof createUsersService>;
