import type { Kysely } from 'kysely';
import { runPrepared, type Change, type Prepared } from '../../change.js';
import type { Tables, Trx, Queryable } from '../../db/tables.js';
import { AppError, assertFound } from '../../errors.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, withTotal, type PageOf } from '../../lib/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { isId, type Ids } from '../../lib/ids.js';
import { BUILTIN_ROLES, missing, union } from '../../lib/permissions.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import type { CreateRoleBody, ListRolesQuery, Member, Role, UpdateRoleBody } from './schemas.js';
import type { RolesStore } from './store.js';
import { createPrincipalRule } from './principal-rule.js';
import { roleAssignments } from './service-assignments.js';

/** What the roles service works with. */
export type RolesServiceDeps = {
  db: Kysely<Tables>;
  change: Change;
  store: RolesStore;
  ids: Ids;
  clock: Clock;
  onAccessChange: () => void;
};
type Page<T> = PageOf<T>;

/**
 * No escalation: the caller must hold every permission it grants. Throws `forbidden` naming the first
 * scope it lacks.
 */
export function assertHolds(ctx: RequestCtx, wanted: readonly string[], what: string): void {
  const held = ctx.system ? ['*'] : (ctx.principal?.scopes ?? []);
  const lacking = missing(held, wanted);
  if (lacking.length > 0) {
    throw new AppError('forbidden', `${what} needs permissions you do not hold: ${lacking.join(', ')}.`, {
      required_permission: lacking[0],
    });
  }
}

function roleId(id: string): string {
  if (!isId('role', id)) throw new AppError('not_found', 'No role has this id.');
  return id;
}

/** A path id that is not a user TypeID names no user: 404 without a query. */
export function checkUser(id: string): string {
  if (!isId('user', id)) throw new AppError('not_found', 'No user has this id.');
  return id;
}

/** A page of a listing, keyed by id, its cursor bound to `scope`; with `total` when asked. */
async function page<T extends { id: string }>(
  query: ListRolesQuery,
  scope: unknown,
  fetch: (after: string | null, limit: number) => Promise<T[]>,
  count: () => Promise<number>,
): Promise<Page<T>> {
  const limit = query.limit ?? DEFAULT_LIMIT;
  const after = query.cursor ? String(decodeCursor(query.cursor, scope)[0]) : null;
  const found = toPage(
    await fetch(after, limit),
    limit,
    (r) => r,
    (r) => [r.id],
    scope,
  );
  return withTotal(found, query.include ? await count() : undefined);
}

/** The last-admin guards, for the users and tokens services and for unassigning. */
function adminGuards(store: RolesStore) {
  /** 409 unless another enabled user keeps the admin role once `userId` loses it. */
  async function assertAnotherAdmin(trx: Trx, userId: string): Promise<void> {
    await store.lock(trx, BUILTIN_ROLES.admin);
    if (!(await store.isAssigned(trx, userId, BUILTIN_ROLES.admin))) return;
    if ((await store.countActiveMembers(trx, BUILTIN_ROLES.admin, userId)) === 0) {
      throw new AppError('user.last_admin', 'This is the last enabled admin; make another user admin first.');
    }
  }

  /**
   * 409 unless some enabled admin can still get in (a password, or a live token) once `userId` loses the
   * token `except.tokenId` or its password: revoking the last admin's last token, or removing its password,
   * would lock everyone out. Nothing to check when `userId` is no admin.
   */
  async function assertAdminWayIn(
    trx: Trx,
    userId: string,
    except: { tokenId?: string; password?: true },
    now: number,
  ): Promise<void> {
    await store.lock(trx, BUILTIN_ROLES.admin);
    if (!(await store.isAssigned(trx, userId, BUILTIN_ROLES.admin))) return;
    const gone = {
      ...(except.tokenId ? { tokenId: except.tokenId } : {}),
      ...(except.password ? { passwordOf: userId } : {}),
    };
    if ((await store.countWaysIn(trx, BUILTIN_ROLES.admin, gone, now)) === 0) {
      throw new AppError(
        'token.last_admin_credential',
        'No enabled admin would have a password or a live token left, which would lock everyone out; give an admin another token or a password first.',
      );
    }
  }

  return { assertAnotherAdmin, assertAdminWayIn };
}

export function createRolesService(deps: RolesServiceDeps) {
  /** The union of a user's roles' permissions. */
  const permissionsOf = async (q: Queryable, userId: string): Promise<string[]> =>
    union(await deps.store.permissionLists(q, userId));
  const rule = createPrincipalRule({ permissionsOf });
  const guards = adminGuards(deps.store);
  const reads = roleReads(deps);
  return {
    ...guards,
    /** The one rule for acting on a principal, for every service that changes a user or its credentials. */
    rule,
    permissionsOf,
    ...currentPermissionsReads(deps),
    ...roleCreation(deps),
    ...roleEdits(deps),
    ...reads,
    ...roleAssignments(deps, {
      rule,
      get: (id: string) => reads.get(id),
      assertAnotherAdmin: guards.assertAnotherAdmin,
    }),
  };
}
export type RolesService = ReturnType<typeof createRolesService>;

/** Users' current permissions, in bulk. */
function currentPermissionsReads({ store }: RolesServiceDeps) {
  return {
    /**
     * The current permissions (union of their roles') of each enabled user among `userIds`, in one query; a
     * disabled or deleted user is absent from the map.
     */
    async currentPermissions(q: Queryable, userIds: readonly string[]): Promise<Map<string, string[]>> {
      const lists = new Map<string, string[][]>();
      for (const { userId, permissions } of await store.enabledUsersPermissionLists(q, [
        ...new Set(userIds),
      ])) {
        const held = lists.get(userId) ?? [];
        if (permissions) held.push(permissions);
        lists.set(userId, held);
      }
      return new Map([...lists].map(([id, l]) => [id, union(l)]));
    },
  };
}

/** Creating a role. */
function roleCreation({ change, store, ids, clock }: RolesServiceDeps) {
  /** A role's creation made ready: its id drawn, escalation refused. Throws `forbidden`. */
  function prepareCreate(ctx: RequestCtx, input: CreateRoleBody): Prepared<Role> {
    assertHolds(ctx, input.permissions, 'Creating this role');
    const id = ids.next('role');
    const now = clock.now();
    return {
      spec: { action: 'role.create', target: { type: 'role', id }, input: { ...input } },
      write: async (trx) => ({
        before: null,
        after: await store.insert(trx, {
          id,
          name: input.name,
          description: input.description ?? '',
          permissions: JSON.stringify(input.permissions),
          builtin: false,
          created_at: now,
          updated_at: now,
        }),
      }),
    };
  }
  return {
    prepareCreate,
    /** Creates a role. Throws `forbidden` (escalation), `role.name_taken`. */
    create: (ctx: RequestCtx, input: CreateRoleBody): Promise<Role> =>
      runPrepared(change, ctx, prepareCreate(ctx, input)),
  };
}

/** A built-in role keeps its name, `admin` keeps `*`, and none is emptied. Throws `role.builtin`. */
function assertBuiltinKept(before: Role, input: UpdateRoleBody): void {
  if (!before.builtin) return;
  if (input.name !== undefined && input.name !== before.name)
    throw new AppError('role.builtin', `The ${before.name} role cannot be renamed.`);
  if (input.permissions?.length === 0)
    throw new AppError('role.builtin', `The ${before.name} role cannot be emptied.`);
  if (before.id === BUILTIN_ROLES.admin && input.permissions && !input.permissions.includes('*'))
    throw new AppError('role.builtin', 'The admin role keeps every permission (*).');
}

/** Editing and deleting a role (no escalation, built-in roles kept). */
function roleEdits({ change, store, clock, onAccessChange }: RolesServiceDeps) {
  /** An update made ready; every check runs on the current row inside the change. */
  function prepareUpdate(ctx: RequestCtx, id: string, input: UpdateRoleBody): Prepared<Role> {
    roleId(id);
    return {
      spec: { action: 'role.update', target: { type: 'role', id } },
      write: async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The role');
        assertHolds(ctx, before.permissions, 'Editing this role');
        if (input.permissions) assertHolds(ctx, input.permissions, 'Granting these permissions');
        assertBuiltinKept(before, input);
        const after = await store.update(trx, id, {
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.permissions !== undefined ? { permissions: JSON.stringify(input.permissions) } : {}),
          updated_at: clock.now(),
        });
        return { before, after: assertFound(after, 'The role') };
      },
      after: onAccessChange,
    };
  }

  /** A deletion made ready; every check runs on the current row inside the change. */
  function prepareRemove(ctx: RequestCtx, id: string): Prepared<null> {
    roleId(id);
    return {
      spec: { action: 'role.delete', target: { type: 'role', id } },
      write: async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The role');
        if (before.builtin) throw new AppError('role.builtin', `The ${before.name} role cannot be deleted.`);
        assertHolds(ctx, before.permissions, `Deleting the ${before.name} role`);
        await store.delete(trx, id);
        return { before, after: null };
      },
      after: onAccessChange,
    };
  }

  return {
    prepareUpdate,
    prepareRemove,
    /**
     * Updates the fields present. The caller must hold the role's current and new permissions. Built-in
     * roles keep their name, `admin` keeps `*`, and no built-in role is emptied. Throws `not_found`,
     * `forbidden`, `role.builtin`, `role.name_taken`.
     */
    update: (ctx: RequestCtx, id: string, input: UpdateRoleBody): Promise<Role> =>
      runPrepared(change, ctx, prepareUpdate(ctx, id, input)),

    /**
     * Deletes a role; its members lose its permissions at once. The caller must hold every permission of the
     * role. Throws `not_found`, `forbidden`, `role.builtin`.
     */
    async remove(ctx: RequestCtx, id: string): Promise<void> {
      await runPrepared(change, ctx, prepareRemove(ctx, id));
    },
  };
}

/** Reading roles: one, all, a user's, a role's members. */
function roleReads({ db, store }: RolesServiceDeps) {
  return {
    /** The roles of these names (those that exist). */
    async findByNames(names: readonly string[]): Promise<Role[]> {
      return store.findByNames(db, names);
    },

    /** Throws `not_found`. */
    async get(id: string): Promise<Role> {
      return assertFound(await store.findById(db, roleId(id)), 'The role');
    },

    async list(query: ListRolesQuery): Promise<Page<Role>> {
      return page(
        query,
        null,
        (after, limit) => store.list(db, after, limit),
        () => store.countListing(db, {}),
      );
    },

    /** Throws `not_found`. */
    async listOfUser(uid: string, query: ListRolesQuery): Promise<Page<Role>> {
      const userId = checkUser(uid);
      if (!(await store.userExists(db, userId))) throw new AppError('not_found', 'The user does not exist.');
      return page(
        query,
        { userId },
        (after, limit) => store.listOfUser(db, userId, after, limit),
        () => store.countListing(db, { userId }),
      );
    },

    /** Throws `not_found`. */
    async members(id: string, query: ListRolesQuery): Promise<Page<Member>> {
      await this.get(id);
      return page(
        query,
        { roleId: id },
        (after, limit) => store.members(db, id, after, limit),
        () => store.countListing(db, { roleId: id }),
      );
    },
  };
}
