import type { PluginsTable, Queryable } from '../../db/tables.js';

/**
 * Every statement on `plugins` and `plugin_configs`: the only code that reads or writes those tables (the
 * plugin host reads and advances its cursors through it too).
 */
export function createPluginsStore() {
  return { ...createPluginReads(), ...createPluginWrites(), ...createAfterCursorLeases() };
}
export type PluginsStore = ReturnType<typeof createPluginsStore>;

/** Use case: reading plugins (the admin API's pages and the host's load). */
function createPluginReads() {
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

    async count(q: Queryable): Promise<number> {
      const row = await q
        .selectFrom('plugins')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    /** The plugins the host loads. */
    async listEnabled(q: Queryable): Promise<PluginsTable[]> {
      return q.selectFrom('plugins').selectAll().where('enabled', '=', true).execute();
    },
  };
}

/** Use case: the admin API's writes to a plugin and its config versions. */
function createPluginWrites() {
  return {
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
  };
}

/** Use case: the relays' leases on the plugins' after-hook cursors. */
function createAfterCursorLeases() {
  return {
    /**
     * Leases an enabled plugin's after-hook cursor to `token` until `until` when it is free (no holder, or the
     * holder's lease ran out by `now`, or `token` holds it already) and behind `head`: one conditional UPDATE,
     * atomic on both dialects (PostgreSQL re-checks the WHERE on a row another UPDATE just changed; SQLite
     * writes one at a time). Answers the cursor, or undefined when another relay holds it or nothing is due.
     */
    async claimAfter(
      q: Queryable,
      o: { id: string; token: string; now: number; until: number; head: number },
    ): Promise<number | undefined> {
      const row = await q
        .updateTable('plugins')
        .set({ after_lock_token: o.token, after_locked_until: o.until })
        .where('id', '=', o.id)
        .where('enabled', '=', true)
        .where('after_seq', '<', o.head)
        .where((w) =>
          w.or([
            w('after_lock_token', 'is', null),
            w('after_locked_until', '<=', o.now),
            w('after_lock_token', '=', o.token),
          ]),
        )
        .returning('after_seq')
        .executeTakeFirst();
      return row === undefined ? undefined : Number(row.after_seq);
    },

    /**
     * Moves a leased cursor forward to `seq` and renews the lease to `until`, or with `release` gives the
     * lease back: fenced by the token and the lease's time, so a relay whose lease ran out (and may have been
     * taken over) changes nothing. False when the lease is lost. Bookkeeping, not a change.
     */
    async advanceAfter(
      q: Queryable,
      o: { id: string; token: string; seq: number; now: number; until: number; release?: boolean },
    ): Promise<boolean> {
      const res = await q
        .updateTable('plugins')
        .set(
          o.release
            ? { after_seq: o.seq, after_lock_token: null, after_locked_until: null }
            : { after_seq: o.seq, after_locked_until: o.until },
        )
        .where('id', '=', o.id)
        .where('after_lock_token', '=', o.token)
        .where('after_locked_until', '>', o.now)
        .where('after_seq', '<=', o.seq)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },

    /** Gives back every after-hook lease `token` holds (a relay stopping, or ending a round that failed). */
    async releaseAfter(q: Queryable, token: string): Promise<number> {
      const res = await q
        .updateTable('plugins')
        .set({ after_lock_token: null, after_locked_until: null })
        .where('after_lock_token', '=', token)
        .executeTakeFirst();
      return Number(res.numUpdatedRows);
    },
  };
}
