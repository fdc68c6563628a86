import type { PluginsTable, Queryable } from '../../db/tables.js';

/**
 * Every statement on `plugins` and `plugin_configs`: the only code that reads or writes those tables (the
 * plugin host reads and advances its cursors through it too).
 */
export function createPluginsStore() {
  return {
    async findById(q: Queryable, id: string): Promise<PluginsTable | undefined> {
      return q.selectFrom('plugins').selectAll().where('id', '=', id).executeTakeFirst();
    },

    /** A page by id, after the keyset `afterId`; fetches `limit + 1`. */
    async list(q: Queryable, afterId: string | null, limit: number): Promise<PluginsTable[]> {
      let query = q
        .selectFrom('plugins')
        .selectAll()
        .orderBy('id')
        .limit(limit + 1);
      if (afterId !== null) query = query.where('id', '>', afterId);
      return query.execute();
    },

    /** The plugins the host loads. */
    async listEnabled(q: Queryable): Promise<PluginsTable[]> {
      return q.selectFrom('plugins').selectAll().where('enabled', '=', true).execute();
    },

    /** A new plugin with its first config version. */
    async insert(q: Queryable, row: PluginsTable, actor: string): Promise<void> {
      await q.insertInto('plugins').values(row).execute();
      await q
        .insertInto('plugin_configs')
        .values({ plugin_id: row.id, version: 1, config: row.config, created_at: row.created_at, actor })
        .execute();
    },

    async setEnabled(
      q: Queryable,
      id: string,
      enabled: boolean,
      now: number,
    ): Promise<PluginsTable | undefined> {
      return q
        .updateTable('plugins')
        .set({ enabled, updated_at: now })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    },

    /** A new config version: kept in `plugin_configs`, current in `plugins`. */
    async configure(
      q: Queryable,
      id: string,
      next: { config: string; version: number; createdBy: string | null; actor: string },
      now: number,
    ): Promise<PluginsTable | undefined> {
      await q
        .insertInto('plugin_configs')
        .values({
          plugin_id: id,
          version: next.version,
          config: next.config,
          created_at: now,
          actor: next.actor,
        })
        .execute();
      return q
        .updateTable('plugins')
        .set({
          config: next.config,
          config_version: next.version,
          updated_at: now,
          created_by: next.createdBy,
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    },

    async delete(q: Queryable, id: string): Promise<void> {
      await q.deleteFrom('plugins').where('id', '=', id).execute();
    },

    /** Moves a plugin's after-hook cursor past `seq` (bookkeeping, not a change). */
    async setAfterSeq(q: Queryable, id: string, seq: number): Promise<void> {
      await q.updateTable('plugins').set({ after_seq: seq }).where('id', '=', id).execute();
    },
  };
}
export type PluginsStore = ReturnType<typeof createPluginsStore>;
