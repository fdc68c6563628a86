import { fromJson, toBool } from '../../db/codecs.js';
import { compiledRead } from '../../db/compiled.js';
import type { Queryable, SessionsTable } from '../../db/tables.js';

export type LiveSession = {
  sessionId: string;
  userId: string;
  username: string;
  expiresAt: number;
  rolePermissions: string[][];
  roleIds: string[];
};

/** The authentication lookup of a session, compiled once: live, its user enabled, one row per role. */
const liveByHash = compiledRead((q, secretHash: string, now: number) =>
  q
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .leftJoin('user_roles', 'user_roles.user_id', 'users.id')
    .leftJoin('roles', 'roles.id', 'user_roles.role_id')
    .select([
      'sessions.id as sessionId',
      'users.id as userId',
      'users.username',
      'sessions.expires_at as expiresAt',
      'roles.permissions',
      'roles.id as roleId',
    ])
    .where('sessions.secret_hash', '=', secretHash)
    .where('sessions.revoked_at', 'is', null)
    .where('sessions.expires_at', '>', now)
    .where('users.disabled', '=', false),
);

export function createSessionsStore() {
  return {
    async insert(q: Queryable, row: SessionsTable): Promise<{ id: string; expires_at: number }> {
      await q.insertInto('sessions').values(row).execute();
      return { id: row.id, expires_at: row.expires_at };
    },

    /** The one way a password hash leaves the database: for checking a sign-in. */
    async findCredentials(
      q: Queryable,
      username: string,
    ): Promise<{ id: string; passwordHash: string | null; disabled: boolean } | undefined> {
      const row = await q
        .selectFrom('users')
        .select(['id', 'password_hash', 'disabled'])
        .where('username', '=', username)
        .executeTakeFirst();
      return row && { id: row.id, passwordHash: row.password_hash, disabled: toBool(row.disabled) };
    },

    /** A live session by its secret's hash, with its user's role permissions, in one round trip. */
    async findLiveByHash(q: Queryable, secretHash: string, now: number): Promise<LiveSession | undefined> {
      const rows = await liveByHash(q, secretHash, now);
      const first = rows[0];
      if (!first) return undefined;
      return {
        sessionId: first.sessionId,
        userId: first.userId,
        username: first.username,
        expiresAt: Number(first.expiresAt),
        rolePermissions: rows.flatMap((r) =>
          r.permissions === null ? [] : [fromJson<string[]>(r.permissions)],
        ),
        roleIds: rows.flatMap((r) => (r.roleId === null ? [] : [r.roleId])),
      };
    },

    /** Ends every live session of a user but `exceptId`; the count ended. */
    async revokeAllOfUser(
      q: Queryable,
      userId: string,
      exceptId: string | null,
      now: number,
    ): Promise<number> {
      let query = q
        .updateTable('sessions')
        .set({ revoked_at: now })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now);
      if (exceptId !== null) query = query.where('id', '!=', exceptId);
      return Number((await query.executeTakeFirst()).numUpdatedRows);
    },

    async revoke(q: Queryable, id: string, now: number): Promise<boolean> {
      const res = await q
        .updateTable('sessions')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
  };
}
export type SessionsStore = ReturnType<typeof createSessionsStore>;
