import type { Kysely } from 'kysely';
import { runPrepared, type Change, type ChangeSpec, type Prepared } from '../../change.js';
import type { Tables, Trx } from '../../db/tables.js';
import { AppError, assertFound, fieldError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import { isId, type Ids } from '../../lib/ids.js';
import type { Passwords } from '../../lib/passwords.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { textLength } from '../../lib/schema.js';
import { USERNAME_PATTERN, type CreateUserBody, type UpdateUserBody, type User } from './schemas.js';
import type { UsersStore } from './store.js';
import { linkedUsers } from './service-linked.js';
import { userListing } from './service-list.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { PrincipalRule } from '../roles/principal-rule.js';

/** Ending a user's credentials, from the tokens and sessions services, inside the change's transaction. */
export type Credentials = {
  /** Revokes every live token of the user; the count revoked. */
  revokeTokens(trx: Trx, userId: string, now: number): Promise<number>;
  /** Ends every live session of the user but `exceptSessionId`; the count ended. */
  endSessions(trx: Trx, userId: string, exceptSessionId: string | null, now: number): Promise<number>;
};

type UsersServiceDeps = {
  db: Kysely<Tables>;
  change: Change;
  store: UsersStore;
  ids: Ids;
  clock: Clock;
  passwords: Passwords;
  /** From the roles service: 409 unless another enabled admin remains once this user stops being one. */
  assertAnotherAdmin: (trx: Trx, userId: string) => Promise<void>;
  rule: PrincipalRule;
  credentials: Credentials;
  /** From the roles service: 409 when removing this user's password leaves no admin a way in. */
  assertAdminWayIn: (trx: Trx, userId: string, except: { password: true }, now: number) => Promise<void>;
  onAccessChange: () => void;
  settings: () => ConfigDocument;
};

/** Fields of one's own account that a person may change without holding every permission it has. */
const PROFILE_FIELDS = new Set(['username', 'email', 'display_name']);

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

/** Hashes a new password before any transaction (argon2 is slow). `null` removes it; undefined keeps it. */
async function passwordHash(
  { passwords, settings }: UsersServiceDeps,
  password: string | null | undefined,
  kind: User['kind'] | undefined,
): Promise<string | null | undefined> {
  if (password === undefined || password === null) return password;
  if (kind === 'service')
    throw new AppError(
      'unprocessable',
      'Service accounts sign in with tokens only; they cannot have a password.',
    );
  // The policy counts as the schema's minLength (its floor) and maxLength do: code points, one rule.
  const min = settings().passwords.min_length;
  if (textLength(password) < min) throw fieldError('body', '/password', `must be at least ${min} characters`);
  return passwords.hash(password);
}

/**
 * Whether this is a person changing its own password with its current one, checked before any transaction
 * (argon2 is slow). Throws `validation_failed`, `user.current_password_wrong`.
 */
async function checkCurrentPassword(
  { db, store, passwords }: UsersServiceDeps,
  self: boolean,
  id: string,
  password: string | null | undefined,
  current: string | undefined,
): Promise<boolean> {
  if (current === undefined) return false;
  if (!self) throw fieldError('body', '/current_password', 'only for changing your own password');
  if (password === undefined) throw fieldError('body', '/current_password', 'send it with password');
  const stored = await store.findPasswordHash(db, id);
  if (!stored || !(await passwords.verify(stored, current))) {
    throw new AppError('user.current_password_wrong', 'The current password is wrong; nothing was changed.');
  }
  return true;
}

/** The row patch of an update: normalized names, the new hash, no password for a service account. */
function patchOf(
  input: Omit<UpdateUserBody, 'password' | 'current_password'>,
  hash: string | null | undefined,
  now: number,
) {
  return {
    ...input,
    ...(input.username !== undefined ? { username: normalizeUsername(input.username) } : {}),
    ...(input.email !== undefined ? { email: normalizeEmail(input.email) } : {}),
    ...(hash !== undefined ? { password_hash: hash } : {}),
    ...(input.kind === 'service' ? { password_hash: null } : {}),
    updated_at: now,
  };
}

export function createUsersService(deps: UsersServiceDeps) {
  const reads = userReads(deps);
  return {
    ...userCreation(deps),
    ...reads,
    ...userUpdates(deps, (id) => reads.get(id)),
    ...userRemoval(deps),
    ...linkedUsers(deps),
    ...userListing(deps),
  };
}
export type UsersService = ReturnType<typeof createUsersService>;

/** Creating a user. */
function userCreation(deps: UsersServiceDeps) {
  const { change, store, ids, clock } = deps;
  /** A creation made ready: the password hashed (slow, so before any transaction), the id drawn. */
  async function prepareCreate({ password, ...input }: CreateUserBody): Promise<Prepared<User>> {
    const username = normalizeUsername(input.username);
    const hash = await passwordHash(deps, password, input.kind ?? 'human');
    const target = { type: 'user', id: ids.next('user') };
    const now = clock.now();
    return {
      spec: {
        action: 'user.create',
        target,
        input: { ...input, username },
        ...(hash ? { detail: 'password set' } : {}),
      },
      write: async (trx) => ({
        before: null,
        after: await store.insert(trx, {
          id: target.id,
          username,
          email: normalizeEmail(input.email) ?? null,
          display_name: input.display_name ?? null,
          kind: input.kind ?? 'human',
          disabled: input.disabled ?? false,
          password_hash: hash ?? null,
          created_at: now,
          updated_at: now,
        }),
      }),
    };
  }
  return {
    /** Creates a user. Throws `validation_failed`, `unprocessable`, `user.username_taken`. */
    create: async (ctx: RequestCtx, body: CreateUserBody): Promise<User> =>
      runPrepared(change, ctx, await prepareCreate(body)),
    prepareCreate,
  };
}

/** Reading users: one, a page, whether any exists. */
function userReads({ db, store }: UsersServiceDeps) {
  return {
    /** Throws `not_found`. */
    async get(id: string): Promise<User> {
      return assertFound(await store.findById(db, checkId(id)), 'The user');
    },

    /** The user with this username (compared as sign-in compares it: NFKC, lower case), or undefined. */
    async findByUsername(username: string): Promise<User | undefined> {
      return store.findByUsername(db, username.normalize('NFKC').toLowerCase());
    },

    /** True when no user exists yet (first start). */
    async isEmpty(): Promise<boolean> {
      return (await store.count(db)) === 0;
    },
  };
}

/** Changing a user: profile, kind, password, enabled (the principal rule and the last-admin checks apply). */
function userUpdates(deps: UsersServiceDeps, get: (id: string) => Promise<User>) {
  const { db, change, store, clock, assertAnotherAdmin, rule, credentials, onAccessChange } = deps;
  /** An update made ready: refused early when the rule says no, the password hashed; judged again inside. */
  async function prepareUpdate(
    ctx: RequestCtx,
    id: string,
    { password, current_password: currentPassword, ...input }: UpdateUserBody,
  ): Promise<Prepared<User>> {
    checkId(id);
    const self = ctx.principal?.userId === id;
    const ownPassword = await checkCurrentPassword(deps, self, id, password, currentPassword);
    const profileOnly =
      Object.keys(input).every((k) => PROFILE_FIELDS.has(k)) && (password === undefined || ownPassword);
    const actOn = { userId: id, what: 'Changing this user', self: profileOnly };
    // Refused before the password is hashed (slow), and judged again inside the change on current state.
    await rule.assertMayActOn(ctx, db, actOn);
    const kind = input.kind ?? (password ? (await get(id)).kind : undefined);
    const hash = await passwordHash(deps, password, kind);
    const now = clock.now();
    const patch = patchOf(input, hash, now);
    const notes: string[] =
      password === undefined ? [] : [password === null ? 'password removed' : 'password changed'];
    const spec: ChangeSpec = {
      action: 'user.update',
      target: { type: 'user', id },
      input: { ...input, ...(patch.username ? { username: patch.username } : {}) },
      ...(notes[0] ? { detail: notes[0] } : {}),
    };
    const write = async (trx: Trx) => {
      const before = assertFound(await store.findById(trx, id), 'The user');
      await rule.assertMayActOn(ctx, trx, actOn);
      if (input.disabled === true && !before.disabled) {
        await assertAnotherAdmin(trx, id);
        const tokens = await credentials.revokeTokens(trx, id, now);
        const sessions = await credentials.endSessions(trx, id, null, now);
        notes.push(`disabled: ${tokens} token(s) revoked, ${sessions} session(s) ended`);
      } else if ('password_hash' in patch) {
        if (patch.password_hash === null) await deps.assertAdminWayIn(trx, id, { password: true }, now);
        // A new (or no) password ends every other way in that the old one opened; the caller's own session stays.
        const keep = self && ctx.principal?.tokenKind === 'session' ? ctx.principal.tokenId : null;
        const sessions = await credentials.endSessions(trx, id, keep, now);
        if (sessions > 0) notes.push(`${sessions} other session(s) ended`);
      }
      const after = assertFound(await store.update(trx, id, patch), 'The user');
      return { before, after, ...(notes.length > 0 ? { detail: notes.join('; ') } : {}) };
    };
    return { spec, write, after: onAccessChange };
  }

  return {
    /**
     * Updates the fields present. Changing another user, or one's own `kind`, `disabled` or (without
     * `current_password`) password, needs every permission that user holds (the principal rule). Disabling
     * revokes the user's tokens and sessions; a password change ends its other sessions. Disabling the last
     * enabled admin is refused. Throws `not_found`, `forbidden`, `validation_failed`, `unprocessable`,
     * `user.current_password_wrong`, `user.username_taken`, `user.last_admin`.
     */
    update: async (ctx: RequestCtx, id: string, body: UpdateUserBody): Promise<User> =>
      runPrepared(change, ctx, await prepareUpdate(ctx, id, body)),
    prepareUpdate,
  };
}

/** Deleting a user (the principal rule and the last-admin check apply). */
function userRemoval({ change, store, assertAnotherAdmin, rule, onAccessChange }: UsersServiceDeps) {
  /** A deletion made ready; every check runs on the current row inside the change. */
  function prepareRemove(ctx: RequestCtx, id: string): Prepared<null> {
    checkId(id);
    return {
      spec: { action: 'user.delete', target: { type: 'user', id } },
      write: async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The user');
        await rule.assertMayActOn(ctx, trx, { userId: id, what: 'Deleting this user' });
        await assertAnotherAdmin(trx, id);
        await store.delete(trx, id);
        return { before, after: null };
      },
      after: onAccessChange,
    };
  }
  return {
    prepareRemove,
    /**
     * Deletes a user; its tokens and sessions go with it. Needs every permission that user holds. Throws
     * `not_found`, `forbidden`, `user.last_admin`.
     */
    async remove(ctx: RequestCtx, id: string): Promise<void> {
      await runPrepared(change, ctx, prepareRemove(ctx, id));
    },
  };
}
