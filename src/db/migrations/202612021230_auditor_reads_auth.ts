import type { Db } from './_lib.js';

const AUDITOR = 'role_0000000000e008000000000002';

/** The permissions list of the built-in auditor, as stored (JSON text on SQLite, jsonb on PostgreSQL). */
async function auditorPermissions(db: Db): Promise<string[] | undefined> {
  const row = await db.selectFrom('roles').select('permissions').where('id', '=', AUDITOR).executeTakeFirst();
  if (!row) return undefined;
  const value: unknown = typeof row.permissions === 'string' ? JSON.parse(row.permissions) : row.permissions;
  return Array.isArray(value) ? value.map(String) : undefined;
}

/**
 * The built-in `auditor` reads everything but tokens (DESIGN.md); the `auth` resource (identity providers,
 * issue #18) came after it, so it gains `auth:read`. Done once, at the upgrade; an auditor role that an
 * operator had changed keeps its other permissions.
 */
export async function up(db: Db): Promise<void> {
  const permissions = await auditorPermissions(db);
  if (!permissions || permissions.includes('auth:read')) return;
  await db
    .updateTable('roles')
    .set({ permissions: JSON.stringify([...permissions, 'auth:read']) })
    .where('id', '=', AUDITOR)
    .execute();
}

export async function down(db: Db): Promise<void> {
  const permissions = await auditorPermissions(db);
  if (!permissions) return;
  await db
    .updateTable('roles')
    .set({ permissions: JSON.stringify(permissions.filter((p) => p !== 'auth:read')) })
    .where('id', '=', AUDITOR)
    .execute();
}
