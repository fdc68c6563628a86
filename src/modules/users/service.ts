import type { Kysely } from 'kysely';
import type { Change } from '../../change.js';
import type { Tables, Trx } from '../../db/tables.js';
import { AppError, assertFound, fieldError } from '../../errors.js';
import { decodeCursor, DEFAULT_LIMIT, toPage } from '../../http/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { isId, type Ids } from '../../lib/ids.js';
import type { Passwords } from '../../lib/passwords.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { USERNAME_PATTERN, type CreateUserBody, type ListUsersQuery, type UpdateUserBody, type User } from './schemas.js';
import type { UsersStore } from './store.js';
import type { ConfigDocument } from '../config/schemas.js';

type UsersServiceDeps = {
  db: Kysely<Tables>; change: Change; store: UsersStore; ids: Ids; clock: Clock; passwords: Passwords;
  /** From the roles service: 409 unless another enabled admin remains once this user stops being one. */
  assertAnotherAdmin: (trx: Trx, userId: string) => Promise<void>;
  onAccessChange: () => void;
  settings: () => ConfigDocument;
};

const PASSWORD_MAX_BYTES = 1024;

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

export function createUsersService({ db, change, store, ids, clock, passwords, assertAnotherAdmin, onAccessChange, settings }: UsersServiceDeps) {
  /** Hashes a new password before any transaction (argon2 is slow). `null` removes it; undefined keeps it. */
  async function passwordHash(password: string | null | undefined, kind: User['kind'] | undefined): Promise<string | null | undefined> {
    if (password === undefined || password === null) return password;
    if (kind === 'service') throw new AppError('unprocessable', 'Service accounts sign in with tokens only; they cannot have a password.');
    const min = settings().passwords.min_length;
    if (password.length < min) throw fieldError('body', '/password', `must be at least ${min} characters`);
    if (Buffer.byteLength(password, 'utf8') > PASSWORD_MAX_BYTES) throw fieldError('body', '/password', `must be at most ${PASSWORD_MAX_BYTES} bytes`);
    return passwords.hash(password);
  }

  return {
    /** Creates a user. Throws `validation_failed`, `unprocessable`, `user.username_taken`. */
    async create(ctx: RequestCtx, { password, ...input }: CreateUserBody): Promise<User> {
      const username = normalizeUsername(input.username);
      const hash = await passwordHash(password, input.kind ?? 'human');
      const target = { type: 'user', id: ids.next('user') };
      const now = clock.now();
      return change(ctx, { action: 'user.create', target, input: { ...input, username }, ...(hash ? { detail: 'password set' } : {}) }, async (trx) => ({
        before: null,
        after: await store.insert(trx, {
          id: target.id, username, email: normalizeEmail(input.email) ?? null, display_name: input.display_name ?? null,
          kind: input.kind ?? 'human', disabled: input.disabled ?? false, password_hash: hash ?? null, created_at: now, updated_at: now,
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

    /**
     * Updates the fields present; disabling the last enabled admin is refused. Throws `not_found`,
     * `validation_failed`, `unprocessable`, `user.username_taken`, `user.last_admin`.
     */
    async update(ctx: RequestCtx, id: string, { password, ...input }: UpdateUserBody): Promise<User> {
      checkId(id);
      const kind = input.kind ?? (password ? (await this.get(id)).kind : undefined);
      const hash = await passwordHash(password, kind);
      const patch = {
        ...input,
        ...(input.username !== undefined ? { username: normalizeUsername(input.username) } : {}),
        ...(input.email !== undefined ? { email: normalizeEmail(input.email) } : {}),
        ...(hash !== undefined ? { password_hash: hash } : {}),
        ...(input.kind === 'service' ? { password_hash: null } : {}),
        updated_at: clock.now(),
      };
      const detail = password === undefined ? undefined : password === null ? 'password removed' : 'password changed';
      const user = await change(ctx, { action: 'user.update', target: { type: 'user', id }, input: { ...input, ...(patch.username ? { username: patch.username } : {}) }, ...(detail ? { detail } : {}) }, async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The user');
        if (input.disabled === true && !before.disabled) await assertAnotherAdmin(trx, id);
        return { before, after: assertFound(await store.update(trx, id, patch), 'The user') };
      });
      onAccessChange();
      return user;
    },

    /** Deletes a user; its tokens and sessions go with it. Throws `not_found`, `user.last_admin`. */
    async remove(ctx: RequestCtx, id: string): Promise<void> {
      checkId(id);
      await change(ctx, { action: 'user.delete', target: { type: 'user', id } }, async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The user');
        await assertAnotherAdmin(trx, id);
        await store.delete(trx, id);
        return { before, after: null };
      });
      onAccessChange();
    },

    /** True when no user exists yet (first start). */
    async isEmpty(): Promise<boolean> {
      return (await store.count(db)) === 0;
    },
  };
}
export type UsersService = ReturnType<typeof createUsersService>;
