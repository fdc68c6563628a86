import { sql } from 'kysely';
import type { DeliveriesTable, OutboxTable, Queryable, Trx } from '../tables.js';

/** The claim queries, written once; `lockClause` is `for update skip locked` on PostgreSQL and empty on SQLite. */
export function claimQueries(lockClause: string) {
  const lock = sql.raw(lockClause);
  return { ...deliveryClaims(lock), ...leaseRenewals(lock), ...outboxClaims(lock) };
}

type Lock = ReturnType<typeof sql.raw>;

/** The worker's claim of due deliveries, each endpoint held to its share. */
function deliveryClaims(lock: Lock) {
  return {
    async claimDeliveries(
      q: Queryable,
      o: {
        now: number;
        leaseUntil: number;
        lockToken: string;
        limit: number;
        perWebhook: number;
        fastWebhooks: string[];
        perFastWebhook: number;
        skipWebhooks: string[];
      },
    ): Promise<DeliveriesTable[]> {
      const skip = o.skipWebhooks.length ? sql`and webhook_id not in (${sql.join(o.skipWebhooks)})` : sql``;
      const enabled = sql`and webhook_id in (select id from webhooks where enabled = true)`;
      const scan = o.limit * 4;
      const share = o.fastWebhooks.length
        ? // Literal shares: parameters in a CASE would be typed text on PostgreSQL, and `rn <= text` fails.
          sql`case when webhook_id in (${sql.join(o.fastWebhooks)}) then ${sql.lit(o.perFastWebhook)} else ${sql.lit(o.perWebhook)} end`
        : sql`${o.perWebhook}`;
      // Two index-ordered scans, each with its own LIMIT: due pending rows (status, next_attempt_at), and
      // leases that ran out. One scan with `or` made SQLite read and sort the whole backlog on every claim.
      // Rows are locked (PostgreSQL) in the innermost queries, where FOR UPDATE may stand; then at most
      // each endpoint's share of them (`perFastWebhook` or `perWebhook`), so one endpoint's backlog cannot
      // fill a claim.
      const res = await sql<DeliveriesTable>`
        update deliveries set status = 'delivering', lock_token = ${o.lockToken}, locked_until = ${o.leaseUntil}, updated_at = ${o.now}
        where id in (
          select id from (
            select id, webhook_id, next_attempt_at, row_number() over (partition by webhook_id order by next_attempt_at, id) as rn
            from (
              select id, webhook_id, next_attempt_at from (
                select id, webhook_id, next_attempt_at from deliveries
                where status = 'pending' and next_attempt_at <= ${o.now} ${skip} ${enabled}
                order by next_attempt_at limit ${scan} ${lock}
              ) as pending_rows
              union all
              select id, webhook_id, next_attempt_at from (
                select id, webhook_id, next_attempt_at from deliveries
                where status = 'delivering' and locked_until < ${o.now} ${skip} ${enabled}
                order by locked_until limit ${scan} ${lock}
              ) as expired_rows
            ) as due
          ) as ranked
          where rn <= ${share}
          order by next_attempt_at limit ${o.limit}
        )
        returning *`.execute(q);
      return res.rows;
    },
  };
}

/** The worker's renewal of the delivery leases it holds. */
function leaseRenewals(lock: Lock) {
  return {
    /**
     * Extends this worker's lease on the deliveries it holds. Rows another transaction has locked (this
     * worker recording their attempts) are skipped, not waited for: waiting, in an order of the plan's
     * choosing, deadlocked with that recording on PostgreSQL.
     */
    async renewDeliveries(
      q: Queryable,
      o: { lockToken: string; ids: string[]; until: number },
    ): Promise<number> {
      if (o.ids.length === 0) return 0;
      const res = await sql`
        update deliveries set locked_until = ${o.until}
        where id in (
          select id from deliveries where lock_token = ${o.lockToken} and status = 'delivering' and id in (${sql.join(o.ids)})
          order by id ${lock}
        )`.execute(q);
      return Number(res.numAffectedRows ?? 0);
    },
  };
}

/** The dispatcher's claim of undispatched outbox rows, in commit order. */
function outboxClaims(lock: Lock) {
  return {
    async claimOutbox(trx: Trx, limit: number, now: number): Promise<OutboxTable[]> {
      const res = await sql<OutboxTable>`
        update outbox set dispatched_at = ${now}
        where id in (select id from outbox where dispatched_at is null order by created_at, id limit ${limit} ${lock})
        returning *`.execute(trx);
      // RETURNING gives no order; the fan-out keeps commit order.
      return res.rows.sort(
        (a, b) => Number(a.created_at) - Number(b.created_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      );
    },
  };
}

/** The delivery retention's delete, beside the claims it must not race; `lockClause` as for claimQueries. */
export function retentionQueries(lockClause: string) {
  const lock = sql.raw(lockClause);
  return {
    /**
     * Deletes up to `limit` finished deliveries (succeeded or failed) last changed before `cutoff`; their
     * attempts go by the foreign key's cascade. The condition stands in the outer statement too, and rows
     * another transaction holds are skipped (PostgreSQL): a delivery `recover` requeues while the purge runs
     * is pending by the time it would be deleted, and is kept.
     */
    async purgeDeliveries(q: Queryable, cutoff: number, limit: number): Promise<number> {
      const res = await sql`
        delete from deliveries
        where status in ('succeeded', 'failed') and updated_at < ${cutoff} and id in (
          select id from deliveries where status in ('succeeded', 'failed') and updated_at < ${cutoff} limit ${limit} ${lock}
        )`.execute(q);
      return Number(res.numAffectedRows ?? 0);
    },
  };
}
