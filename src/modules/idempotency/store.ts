import type { IdempotencyKeysTable, Queryable } from '../../db/tables.js';

/** The key of one caller's idempotent request. */
export type IdempotencyKeyRef = { actor: string; key: string };

/** Taking a key: dropping an expired one, reading it, taking over an abandoned one, claiming it. */
function claiming() {
  return {
    /** Drops this caller's key if it is older than `before` (expired), so it may be used afresh. */
    async deleteIfOlder(q: Queryable, ref: IdempotencyKeyRef, before: number): Promise<void> {
      await q
        .deleteFrom('idempotency_keys')
        .where('actor', '=', ref.actor)
        .where('key', '=', ref.key)
        .where('created_at', '<', before)
        .execute();
    },

    async find(q: Queryable, ref: IdempotencyKeyRef): Promise<IdempotencyKeysTable | undefined> {
      return q
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('actor', '=', ref.actor)
        .where('key', '=', ref.key)
        .executeTakeFirst();
    },

    /** Takes over an abandoned in-flight key (its process died): restarts its lease at `now`. */
    async restartLease(q: Queryable, ref: IdempotencyKeyRef, now: number): Promise<void> {
      await q
        .updateTable('idempotency_keys')
        .set({ created_at: now })
        .where('actor', '=', ref.actor)
        .where('key', '=', ref.key)
        .execute();
    },

    /** Claims the key for a request in flight; false when another request holds it already. */
    async claim(q: Queryable, ref: IdempotencyKeyRef, requestHash: string, now: number): Promise<boolean> {
      const inserted = await q
        .insertInto('idempotency_keys')
        .values({
          ...ref,
          request_hash: requestHash,
          status: null,
          response: null,
          created_at: now,
          completed_at: null,
        })
        .onConflict((oc) => oc.columns(['actor', 'key']).doNothing())
        .executeTakeFirst();
      return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
    },
  };
}

/** Settling a key: recording the answer to replay, freeing an unfinished one, purging old ones. */
function settling() {
  return {
    /** Records the answer to replay: in the change's own transaction, so a crash never keeps one without the other. */
    async complete(
      q: Queryable,
      ref: IdempotencyKeyRef,
      answer: { status: number; response: string | null },
      now: number,
    ): Promise<void> {
      await q
        .updateTable('idempotency_keys')
        .set({ ...answer, completed_at: now })
        .where('actor', '=', ref.actor)
        .where('key', '=', ref.key)
        .execute();
    },

    /** Frees a key whose request did not complete, so the client may retry it. */
    async release(q: Queryable, ref: IdempotencyKeyRef): Promise<void> {
      await q
        .deleteFrom('idempotency_keys')
        .where('actor', '=', ref.actor)
        .where('key', '=', ref.key)
        .where('completed_at', 'is', null)
        .execute();
    },

    /** Drops every key created before `before`. */
    async purge(q: Queryable, before: number): Promise<void> {
      await q.deleteFrom('idempotency_keys').where('created_at', '<', before).execute();
    },
  };
}

/** Every statement on `idempotency_keys`: the only code that reads or writes that table. */
export function createIdempotencyStore() {
  return { ...claiming(), ...settling() };
}
export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;
