import { sql } from 'kysely';
import { toIso } from '../../db/codecs.js';
import type { DeliveriesTable, DeliveryAttemptsTable, Queryable, WebhooksTable } from '../../db/tables.js';
import { toAttempt } from './rows.js';
import type { Delivery } from './schemas.js';

export { pendingDelivery, toWebhook } from './rows.js';

export type WebhookPatch = Partial<Omit<WebhooksTable, 'id' | 'created_at'>> & { updated_at: number };

/** The SQL of webhooks: endpoints, their deliveries and attempts, and the outbox they are fanned out from. */
export function createWebhooksStore() {
  return {
    ...endpointRows(),
    ...deliveryReads(),
    ...deliveryQueueing(),
    ...leaseReturns(),
    ...attemptRecords(),
    ...outboxRows(),
  };
}

/** The endpoints as the API and the fan-out read and change them, and an endpoint's recent tests. */
function endpointRows() {
  return {
    async insert(q: Queryable, row: WebhooksTable): Promise<void> {
      await q.insertInto('webhooks').values(row).execute();
    },
    async find(q: Queryable, id: string): Promise<WebhooksTable | undefined> {
      return q.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
    },
    async update(q: Queryable, id: string, patch: WebhookPatch): Promise<WebhooksTable | undefined> {
      return q.updateTable('webhooks').set(patch).where('id', '=', id).returningAll().executeTakeFirst();
    },
    async delete(q: Queryable, id: string): Promise<void> {
      await q.deleteFrom('webhooks').where('id', '=', id).execute();
    },
    async list(q: Queryable, afterId: string | null, limit: number): Promise<WebhooksTable[]> {
      let query = q
        .selectFrom('webhooks')
        .selectAll()
        .orderBy('id')
        .limit(limit + 1);
      if (afterId !== null) query = query.where('id', '>', afterId);
      return query.execute();
    },
    async count(q: Queryable): Promise<number> {
      return Number(
        (
          await q
            .selectFrom('webhooks')
            .select((e) => e.fn.countAll<number | string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    },
    /** When the endpoint's test deliveries since `since` were made, newest first, at most `limit` (deliveries_tests_idx). */
    async recentTests(q: Queryable, webhookId: string, since: number, limit: number): Promise<number[]> {
      const rows = await q
        .selectFrom('deliveries')
        .select('created_at')
        .where('webhook_id', '=', webhookId)
        .where('event_type', '=', sql.lit('webhook.test'))
        .where('created_at', '>=', since)
        .orderBy('created_at', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => Number(r.created_at));
    },
    async enabled(q: Queryable): Promise<WebhooksTable[]> {
      return q.selectFrom('webhooks').selectAll().where('enabled', '=', true).execute();
    },
    async findMany(q: Queryable, ids: string[]): Promise<WebhooksTable[]> {
      return ids.length ? q.selectFrom('webhooks').selectAll().where('id', 'in', ids).execute() : [];
    },
  };
}

/** The delivery log as the API reads it. */
function deliveryReads() {
  return {
    /** Deliveries of an endpoint, newest first, each with its attempts. Fetches `limit + 1`. */
    async deliveries(
      q: Queryable,
      webhookId: string,
      beforeId: string | null,
      limit: number,
    ): Promise<Delivery[]> {
      let query = q
        .selectFrom('deliveries')
        .selectAll()
        .where('webhook_id', '=', webhookId)
        .orderBy('id', 'desc')
        .limit(limit + 1);
      if (beforeId !== null) query = query.where('id', '<', beforeId);
      const rows = await query.execute();
      const attempts = rows.length
        ? await q
            .selectFrom('delivery_attempts')
            .selectAll()
            .where(
              'delivery_id',
              'in',
              rows.map((r) => r.id),
            )
            .orderBy('attempted_at')
            .orderBy('id')
            .execute()
        : [];
      return rows.map((r) => ({
        id: r.id,
        webhook_id: r.webhook_id,
        event_id: r.event_id,
        event_type: r.event_type,
        status: r.status,
        attempts: attempts.filter((a) => a.delivery_id === r.id).map(toAttempt),
        next_attempt_at: r.status === 'pending' ? toIso(Number(r.next_attempt_at)) : null,
        created_at: toIso(Number(r.created_at)),
      }));
    },
    async findDelivery(q: Queryable, webhookId: string, id: string): Promise<DeliveriesTable | undefined> {
      return q
        .selectFrom('deliveries')
        .selectAll()
        .where('webhook_id', '=', webhookId)
        .where('id', '=', id)
        .executeTakeFirst();
    },
  };
}

/** Queueing deliveries: the fan-out, `test`, and `recover`. */
function deliveryQueueing() {
  return {
    /** One row per (endpoint, event); an existing one is left alone unless `requeue` (recover). */
    async upsertDelivery(q: Queryable, row: DeliveriesTable, requeue: boolean): Promise<void> {
      await q
        .insertInto('deliveries')
        .values(row)
        .onConflict((oc) => {
          const target = oc.columns(['webhook_id', 'event_id']);
          return requeue
            ? target.doUpdateSet({
                status: 'pending',
                next_attempt_at: row.next_attempt_at,
                lock_token: null,
                locked_until: null,
                updated_at: row.updated_at,
              })
            : target.doNothing();
        })
        .execute();
    },
    /**
     * Recover: inserts the rows, and puts an existing (endpoint, event) row back to pending, due at once (a send
     * in flight is fenced off by its lock token). One statement per 500 rows; all rows share one `now`.
     */
    async requeueDeliveries(q: Queryable, rows: DeliveriesTable[]): Promise<void> {
      for (let i = 0; i < rows.length; i += 500) {
        const chunk = rows.slice(i, i + 500);
        const now = chunk[0]?.updated_at ?? 0;
        await q
          .insertInto('deliveries')
          .values(chunk)
          .onConflict((oc) =>
            oc.columns(['webhook_id', 'event_id']).doUpdateSet({
              status: 'pending',
              next_attempt_at: now,
              lock_token: null,
              locked_until: null,
              updated_at: now,
            }),
          )
          .execute();
      }
    },
    /** The fan-out of a batch of events: one multi-row insert per 500 rows; existing (endpoint, event) rows stay. */
    async insertDeliveries(q: Queryable, rows: DeliveriesTable[]): Promise<void> {
      for (let i = 0; i < rows.length; i += 500) {
        await q
          .insertInto('deliveries')
          .values(rows.slice(i, i + 500))
          .onConflict((oc) => oc.columns(['webhook_id', 'event_id']).doNothing())
          .execute();
      }
    },
  };
}

/** Putting deliveries back to pending: one by hand, or a worker's unsent ones at shutdown. */
function leaseReturns() {
  return {
    async requeue(q: Queryable, id: string, now: number): Promise<void> {
      await q
        .updateTable('deliveries')
        .set({
          status: 'pending',
          next_attempt_at: now,
          lock_token: null,
          locked_until: null,
          updated_at: now,
        })
        .where('id', '=', id)
        .execute();
    },
    /** Gives back leased, unsent deliveries (shutdown). */
    async release(q: Queryable, lockToken: string, now: number): Promise<number> {
      const res = await q
        .updateTable('deliveries')
        .set({ status: 'pending', lock_token: null, locked_until: null, updated_at: now })
        .where('lock_token', '=', lockToken)
        .where('status', '=', 'delivering')
        .executeTakeFirst();
      return Number(res.numUpdatedRows);
    },
  };
}

/** The worker's record of its attempts, fenced by the lease. */
function attemptRecords() {
  return {
    /** Records an attempt and the delivery's next state, fenced by the lease: a late worker changes nothing. */
    async finishAttempt(
      q: Queryable,
      d: { id: string; lockToken: string },
      attempt: DeliveryAttemptsTable,
      next: Partial<DeliveriesTable>,
    ): Promise<boolean> {
      const res = await q
        .updateTable('deliveries')
        .set({ ...next, lock_token: null, locked_until: null })
        .where('id', '=', d.id)
        .where('lock_token', '=', d.lockToken)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return false;
      await q.insertInto('delivery_attempts').values(attempt).execute();
      return true;
    },
    /**
     * Records successful attempts that got the same status code: one update and one insert for the lot,
     * fenced by the lease like `finishAttempt`. Returns the ids recorded (the others' leases were taken over).
     */
    async finishSucceeded(
      q: Queryable,
      lockToken: string,
      statusCode: number,
      at: number,
      attempts: DeliveryAttemptsTable[],
    ): Promise<Set<string>> {
      const rows = await q
        .updateTable('deliveries')
        .set((eb) => ({
          status: 'succeeded',
          attempts: eb('attempts', '+', 1),
          next_attempt_at: at,
          last_error: null,
          last_status_code: statusCode,
          updated_at: at,
          lock_token: null,
          locked_until: null,
        }))
        .where(
          'id',
          'in',
          attempts.map((a) => a.delivery_id),
        )
        .where('lock_token', '=', lockToken)
        .returning('id')
        .execute();
      const done = new Set(rows.map((r) => r.id));
      const recorded = attempts.filter((a) => done.has(a.delivery_id));
      if (recorded.length) await q.insertInto('delivery_attempts').values(recorded).execute();
      return done;
    },
  };
}

/** The outbox as retention and the replay of past events read and purge it. */
function outboxRows() {
  return {
    /** Deletes up to `limit` outbox events fanned out before `cutoff` (deliveries carry their own payload). */
    async purgeOutbox(q: Queryable, cutoff: number, limit: number): Promise<number> {
      const res = await q
        .deleteFrom('outbox')
        .where('id', 'in', (s) =>
          s.selectFrom('outbox').select('id').where('dispatched_at', '<', cutoff).limit(limit),
        )
        .executeTakeFirst();
      return Number(res.numDeletedRows);
    },
    /** How many outbox events of each type [since, until) holds. */
    async outboxTypeCounts(
      q: Queryable,
      since: number,
      until: number,
    ): Promise<{ type: string; n: number }[]> {
      const rows = await q
        .selectFrom('outbox')
        .select((e) => ['type', e.fn.countAll<number | string>().as('n')])
        .where('created_at', '>=', since)
        .where('created_at', '<', until)
        .groupBy('type')
        .execute();
      return rows.map((r) => ({ type: r.type, n: Number(r.n) }));
    },
    /** Up to `limit` outbox events of [since, until) after `after` (keyset on created_at, id), oldest first. */
    async outboxBetween(
      q: Queryable,
      w: { since: number; until: number; after: { created_at: number; id: string } | null; limit: number },
    ): Promise<{ id: string; type: string; data: string; created_at: number }[]> {
      let query = q
        .selectFrom('outbox')
        .select(['id', 'type', 'data', 'created_at'])
        .where('created_at', '>=', w.since)
        .where('created_at', '<', w.until);
      const after = w.after;
      if (after)
        query = query.where((e) =>
          e.or([
            e('created_at', '>', after.created_at),
            e.and([e('created_at', '=', after.created_at), e('id', '>', after.id)]),
          ]),
        );
      return query.orderBy('created_at').orderBy('id').limit(w.limit).execute();
    },
  };
}
export type WebhooksStore = ReturnType<typeof createWebhooksStore>;
