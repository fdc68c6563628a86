import { sql } from 'kysely';
import type { DeliveriesTable, OutboxTable, Trx } from '../tables.js';

/** The claim queries, written once; `lockClause` is `for update skip locked` on PostgreSQL and empty on SQLite. */
export function claimQueries(lockClause: string) {
  const lock = sql.raw(lockClause);
  return {
    async claimDeliveries(trx: Trx, o: { now: number; leaseUntil: number; lockToken: string; limit: number; perWebhook: number; skipWebhooks: string[] }): Promise<DeliveriesTable[]> {
      const skip = o.skipWebhooks.length ? sql`and webhook_id not in (${sql.join(o.skipWebhooks)})` : sql``;
      // The due rows, oldest first, locked (PostgreSQL) in the innermost query, where FOR UPDATE may stand;
      // then at most `perWebhook` of them per endpoint, so one endpoint's backlog cannot fill a claim.
      const res = await sql<DeliveriesTable>`
        update deliveries set status = 'delivering', lock_token = ${o.lockToken}, locked_until = ${o.leaseUntil}, updated_at = ${o.now}
        where id in (
          select id from (
            select id, next_attempt_at, row_number() over (partition by webhook_id order by next_attempt_at, id) as rn
            from (
              select id, webhook_id, next_attempt_at from deliveries
              where ((status = 'pending' and next_attempt_at <= ${o.now}) or (status = 'delivering' and locked_until < ${o.now})) ${skip}
                and webhook_id in (select id from webhooks where enabled = true)
              order by next_attempt_at limit ${o.limit * 4} ${lock}
            ) as due
          ) as ranked
          where rn <= ${o.perWebhook}
          order by next_attempt_at limit ${o.limit}
        )
        returning *`.execute(trx);
      return res.rows;
    },
    async claimOutbox(trx: Trx, limit: number): Promise<OutboxTable[]> {
      const res = await sql<OutboxTable>`select * from outbox where dispatched_at is null order by created_at, id limit ${limit} ${lock}`.execute(trx);
      return res.rows;
    },
  };
}
