import { fromJson, toIso } from '../../db/codecs.js';
import type { ConfigVersionsTable, Queryable } from '../../db/tables.js';
import type { PatchOp } from '../../lib/json-patch.js';
import type { ConfigVersion } from './schemas.js';

export type StoredConfig = { version: number; document: unknown };

export function createConfigStore() {
  return {
    async current(q: Queryable): Promise<StoredConfig | undefined> {
      const row = await q
        .selectFrom('config_versions')
        .select(['version', 'document'])
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row && { version: Number(row.version), document: fromJson<unknown>(row.document) };
    },

    /** The current version number alone: what other instances poll for. */
    async currentVersion(q: Queryable): Promise<number> {
      const row = await q
        .selectFrom('config_versions')
        .select('version')
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? Number(row.version) : 0;
    },

    async find(q: Queryable, version: number): Promise<StoredConfig | undefined> {
      const row = await q
        .selectFrom('config_versions')
        .select(['version', 'document'])
        .where('version', '=', version)
        .executeTakeFirst();
      return row && { version: Number(row.version), document: fromJson<unknown>(row.document) };
    },

    /** Inserts a version; the primary key makes two writers of the same version conflict (one fails). */
    async insert(q: Queryable, row: ConfigVersionsTable): Promise<void> {
      await q.insertInto('config_versions').values(row).execute();
    },

    /** Newest first, before the keyset version; fetches `limit + 1`. */
    async history(q: Queryable, beforeVersion: number | null, limit: number): Promise<ConfigVersion[]> {
      let query = q
        .selectFrom('config_versions')
        .select(['version', 'created_at', 'actor', 'actor_name', 'diff'])
        .orderBy('version', 'desc')
        .limit(limit + 1);
      if (beforeVersion !== null) query = query.where('version', '<', beforeVersion);
      return (await query.execute()).map((r) => ({
        version: Number(r.version),
        created_at: toIso(Number(r.created_at)),
        actor: r.actor,
        actor_name: r.actor_name,
        diff: fromJson<PatchOp[]>(r.diff),
      }));
    },
  };
}
export type ConfigStore = ReturnType<typeof createConfigStore>;
