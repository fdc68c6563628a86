import { fromJson, toBool, toIso } from '../../db/codecs.js';
import { compiledRead } from '../../db/compiled.js';
import type { Queryable, RolesTable } from '../../db/tables.js';
import type { Member, Role } from './schemas.js';

const COLUMNS = ['id', 'name', 'description', 'permissions', 'builtin', 'created_at', 'updated_at'] as const;

function toRole(row: Pick<RolesTable, (typeof COLUMNS)[number]>): Role {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    permissions: fromJson<string[]>(row.permissions),
    builtin: toBool(row.builtin),
    created_at: toIso(Number(row.created_at)),
    updated_at: toIso(Number(row.updated_at)),
  };
}

// Reads on the request path (a role by id, a user's permissions, membership checks), compiled once.
const byId = compiledRead((q, id: string) => q.selectFrom('roles').select(COLUMNS).where('id', '=', id));
const permissionListsOf = compiledRead((q, userId: string) =>
  q
    .selectFrom('user_roles')
    .innerJoin('roles', 'roles.id', 'user_roles.role_id')
    .select('roles.permissions')
    .where('user_roles.user_id', '=', userId),
);
const userById = compiledRead((q, userId: string) =>
  q.selectFrom('users').select('id').where('id', '=', userId),
);
const assignment = compiledRead((q, userId: string, roleId: string) =>
  q.selectFrom('user_roles').select('role_id').where('user_id', '=', userId).where('role_id', '=', roleId),
);

export type RolePatch = { name?: string; description?: string; permissions?: string; updated_at: number };

/** Role rows: insert, read one, update, delete. */
function roleRecords() {
  return {
    async insert(q: Queryable, row: RolesTable): Promise<Role> {
      return toRole(await q.insertInto('roles').values(row).returning(COLUMNS).executeTakeFirstOrThrow());
    },

    async findById(q: Queryable, id: string): Promise<Role | undefined> {
      const [row] = await byId(q, id);
      return row && toRole(row);
    },

    async findByNames(q: Queryable, names: readonly string[]): Promise<Role[]> {
      if (names.length === 0) return [];
      return (await q.selectFrom('roles').select(COLUMNS).where('name', 'in', names).execute()).map(toRole);
    },

    async update(q: Queryable, id: string, patch: RolePatch): Promise<Role | undefined> {
      const row = await q
        .updateTable('roles')
        .set(patch)
        .where('id', '=', id)
        .returning(COLUMNS)
        .executeTakeFirst();
      return row && toRole(row);
    },

    async delete(q: Queryable, id: string): Promise<void> {
      await q.deleteFrom('roles').where('id', '=', id).execute();
    },
  };
}

/** Pages of roles: all, a user's, and a role's members. */
function roleListings() {
  return {
    /** How many rows a listing has: every role, a user's roles (`userId`), or a role's members (`roleId`). */
    async countListing(q: Queryable, of: { userId?: string; roleId?: string }): Promise<number> {
      const row =
        of.userId === undefined && of.roleId === undefined
          ? await q
              .selectFrom('roles')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          : await q
              .selectFrom('user_roles')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where(of.userId !== undefined ? 'user_id' : 'role_id', '=', of.userId ?? of.roleId ?? '')
              .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    async list(q: Queryable, afterId: string | null, limit: number): Promise<Role[]> {
      let query = q
        .selectFrom('roles')
        .select(COLUMNS)
        .orderBy('id')
        .limit(limit + 1);
      if (afterId !== null) query = query.where('id', '>', afterId);
      return (await query.execute()).map(toRole);
    },

    /** The roles of a user, by role id, after the keyset `afterId`; fetches `limit + 1`. */
    async listOfUser(q: Queryable, userId: string, afterId: string | null, limit: number): Promise<Role[]> {
      let query = q
        .selectFrom('user_roles')
        .innerJoin('roles', 'roles.id', 'user_roles.role_id')
        .select(COLUMNS.map((c) => `roles.${c}` as const))
        .where('user_roles.user_id', '=', userId)
        .orderBy('roles.id')
        .limit(limit + 1);
      if (afterId !== null) query = query.where('roles.id', '>', afterId);
      return (await query.execute()).map(toRole);
    },

    /** The members of a role, by user id, after the keyset `afterId`; fetches `limit + 1`. */
    async members(q: Queryable, roleId: string, afterId: string | null, limit: number): Promise<Member[]> {
      let query = q
        .selectFrom('user_roles')
        .innerJoin('users', 'users.id', 'user_roles.user_id')
        .select(['users.id', 'users.username', 'users.kind', 'users.disabled', 'user_roles.created_at'])
        .where('user_roles.role_id', '=', roleId)
        .orderBy('users.id')
        .limit(limit + 1);
      if (afterId !== null) query = query.where('users.id', '>', afterId);
      return (await query.execute()).map((r) => ({
        id: r.id,
        username: r.username,
        kind: r.kind,
        disabled: toBool(r.disabled),
        assigned_at: toIso(Number(r.created_at)),
      }));
    },
  };
}

/** The permissions users hold through their roles. */
function rolePermissions() {
  return {
    /** Every permission a user holds through its roles, as stored lists (one per role). */
    async permissionLists(q: Queryable, userId: string): Promise<string[][]> {
      const rows = await permissionListsOf(q, userId);
      return rows.map((r) => fromJson<string[]>(r.permissions));
    },

    /** The role permission lists of those of `userIds` that exist and are enabled (a user without roles has none). */
    async enabledUsersPermissionLists(
      q: Queryable,
      userIds: readonly string[],
    ): Promise<{ userId: string; permissions: string[] | null }[]> {
      if (userIds.length === 0) return [];
      const rows = await q
        .selectFrom('users')
        .leftJoin('user_roles', 'user_roles.user_id', 'users.id')
        .leftJoin('roles', 'roles.id', 'user_roles.role_id')
        .select(['users.id as userId', 'roles.permissions'])
        .where('users.id', 'in', [...userIds])
        .where('users.disabled', '=', false)
        .execute();
      return rows.map((r) => ({
        userId: r.userId,
        permissions: r.permissions === null ? null : fromJson<string[]>(r.permissions),
      }));
    },
  };
}

/** Assigning roles to users. */
function roleAssignments() {
  return {
    async userExists(q: Queryable, userId: string): Promise<boolean> {
      return (await userById(q, userId)).length > 0;
    },

    async isAssigned(q: Queryable, userId: string, roleId: string): Promise<boolean> {
      return (await assignment(q, userId, roleId)).length > 0;
    },

    /** Inserts the assignment unless it exists; true when it was new. */
    async assign(q: Queryable, userId: string, roleId: string, now: number): Promise<boolean> {
      const res = await q
        .insertInto('user_roles')
        .values({ user_id: userId, role_id: roleId, created_at: now })
        .onConflict((oc) => oc.columns(['user_id', 'role_id']).doNothing())
        .executeTakeFirst();
      return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
    },

    async unassign(q: Queryable, userId: string, roleId: string): Promise<boolean> {
      const res = await q
        .deleteFrom('user_roles')
        .where('user_id', '=', userId)
        .where('role_id', '=', roleId)
        .executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
  };
}

/** The admin guards: the role lock and the counts behind the last-admin checks. */
function adminGuards() {
  return {
    /**
     * Takes a write lock on a role row (an update to itself), so checks on its members (the last admin)
     * and changes to them serialise across transactions on PostgreSQL; SQLite already has one writer.
     */
    async lock(q: Queryable, roleId: string): Promise<void> {
      await q
        .updateTable('roles')
        .set((eb) => ({ id: eb.ref('id') }))
        .where('id', '=', roleId)
        .execute();
    },

    /**
     * Enabled holders of the role that can still get in once `except` is gone: a human with a password, or
     * anyone with a live token. Reads the users and tokens tables because "someone can still administer this
     * system" is a rule about the admin role.
     */
    async countWaysIn(
      q: Queryable,
      roleId: string,
      except: { tokenId?: string; passwordOf?: string },
      now: number,
    ): Promise<number> {
      const row = await q
        .selectFrom('user_roles')
        .innerJoin('users', 'users.id', 'user_roles.user_id')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_roles.role_id', '=', roleId)
        .where('users.disabled', '=', false)
        .where((eb) =>
          eb.or([
            eb.and([
              eb('users.kind', '=', 'human'),
              eb('users.password_hash', 'is not', null),
              eb('users.id', '!=', except.passwordOf ?? ''),
            ]),
            eb.exists(
              eb
                .selectFrom('tokens')
                .select('tokens.id')
                .whereRef('tokens.user_id', '=', 'users.id')
                .where('tokens.revoked_at', 'is', null)
                .where('tokens.id', '!=', except.tokenId ?? '')
                .where((t) => t.or([t('tokens.expires_at', 'is', null), t('tokens.expires_at', '>', now)])),
            ),
          ]),
        )
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /** Enabled users holding the role, other than `exceptUserId`. */
    async countActiveMembers(q: Queryable, roleId: string, exceptUserId: string | null): Promise<number> {
      let query = q
        .selectFrom('user_roles')
        .innerJoin('users', 'users.id', 'user_roles.user_id')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_roles.role_id', '=', roleId)
        .where('users.disabled', '=', false);
      if (exceptUserId !== null) query = query.where('users.id', '!=', exceptUserId);
      return Number((await query.executeTakeFirstOrThrow()).n);
    },
  };
}

export function createRolesStore() {
  return {
    ...roleRecords(),
    ...roleListings(),
    ...rolePermissions(),
    ...roleAssignments(),
    ...adminGuards(),
  };
}
export type RolesStore = ReturnType<typeof createRolesStore>;
