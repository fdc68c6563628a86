import type { Kysely } from 'kysely';
import { fromJson } from '../../db/codecs.js';
import type { Tables } from '../../db/tables.js';
import { AppError, assertFound, fieldError } from '../../errors.js';
import { decodeCursor, DEFAULT_LIMIT, toPage } from '../../lib/pagination.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { mayReceive, reaches } from '../events/reach.js';
import { payloadOf, subscribed } from './matching.js';
import type { Delivery } from './schemas.js';
import type { Page, WebhooksDeps, WebhooksShared } from './service-shared.js';
import { pendingDelivery } from './store.js';

/** Events one recover reads per query. */
const RECOVER_PAGE = 1000;
/** Events one recover call may queue: a bigger window would hold one write transaction open too long. */
const MAX_RECOVER = 100_000;
/** Rows one retention statement deletes: short write transactions, so changes never wait long behind one. */
const PURGE_BATCH = 1000;

/** `POST /{id}/test` sends at most this many test events per endpoint in TEST_WINDOW_MS (every instance counted). */
export const TESTS_PER_WINDOW = 5;
const TEST_WINDOW_MS = 60_000;

/** Reading an endpoint's deliveries. */
export function deliveryReads({ db, store }: WebhooksDeps, { load }: WebhooksShared) {
  return {
    async deliveries(id: string, query: { limit?: number; cursor?: string }): Promise<Page<Delivery>> {
      await load(id);
      const limit = query.limit ?? DEFAULT_LIMIT;
      const before = query.cursor ? String(decodeCursor(query.cursor, { id })[0]) : null;
      return toPage(
        await store.deliveries(db, id, before, limit),
        limit,
        (d) => d,
        (d) => [d.id],
        { id },
      );
    },
  };
}

/** Sending again: one delivery, or every subscribed event of a window. */
export function deliveryResends(deps: WebhooksDeps, { load }: WebhooksShared) {
  const { db, change, store, clock, creatorPermissions } = deps;
  return {
    /** Sends a delivery again now, with the same webhook-id. Throws `not_found`. */
    async retry(ctx: RequestCtx, id: string, deliveryId: string): Promise<void> {
      await load(id);
      await change(
        ctx,
        { action: 'webhook.retry', target: { type: 'delivery', id: deliveryId } },
        async (trx) => {
          const d = assertFound(await store.findDelivery(trx, id, deliveryId), 'The delivery');
          await store.requeue(trx, d.id, clock.now());
          return { before: { status: d.status }, after: { status: 'pending' } };
        },
      );
    },

    /** Queues again every subscribed event of a window (a receiver that lost data). Returns the count. */
    async recover(
      ctx: RequestCtx,
      id: string,
      window: { since: string; until?: string | undefined },
    ): Promise<{ requeued: number }> {
      const hook = await load(id);
      const since = Date.parse(window.since);
      const until = window.until ? Date.parse(window.until) : clock.now() + 1;
      if (until <= since) throw fieldError('body', '/until', 'must be after since');
      const patterns = fromJson<string[]>(hook.events);
      // What the endpoint's creator may read now: a recover queues nothing the fan-out would not have.
      const reach = (await reaches(creatorPermissions, db, [hook.created_by]))(hook.created_by);
      const wanted = (type: string) => subscribed(patterns, type) && mayReceive(reach, type);
      return change(ctx, { action: 'webhook.recover', target: { type: 'webhook', id } }, async (trx) => {
        const now = clock.now();
        const due = (await store.outboxTypeCounts(trx, since, until))
          .filter((c) => wanted(c.type))
          .reduce((sum, c) => sum + c.n, 0);
        if (due > MAX_RECOVER) {
          throw fieldError(
            'body',
            '/until',
            `the window holds ${due.toLocaleString('en')} events for this endpoint, more than ${MAX_RECOVER.toLocaleString('en')} at once; recover it in narrower windows (since … until)`,
          );
        }
        const n = await queueWindow(deps, trx, { id, since, until, wanted, now });
        return { before: null, after: { requeued: n } };
      });
    },
  };
}

/** Queues the wanted events of a window for one endpoint; returns how many. */
async function queueWindow(
  { store, ids }: WebhooksDeps,
  trx: Kysely<Tables>,
  w: { id: string; since: number; until: number; wanted: (type: string) => boolean; now: number },
): Promise<number> {
  let n = 0;
  // Page through the window (never the whole of it in memory), queueing each page's events at once.
  for (let after: { created_at: number; id: string } | null = null; ;) {
    const page = await store.outboxBetween(trx, {
      since: w.since,
      until: w.until,
      after,
      limit: RECOVER_PAGE,
    });
    const rows = page
      .filter((e) => w.wanted(e.type))
      .map((e) =>
        pendingDelivery({
          id: ids.next('dlv'),
          webhookId: w.id,
          eventId: e.id,
          eventType: e.type,
          payload: payloadOf(e.type, Number(e.created_at), fromJson<unknown>(e.data)),
          now: w.now,
        }),
      );
    n += rows.length;
    await store.requeueDeliveries(trx, rows);
    const last = page.at(-1);
    if (page.length < RECOVER_PAGE || !last) break;
    after = { created_at: Number(last.created_at), id: last.id };
  }
  return n;
}

/** Test sends: one `webhook.test` event to one endpoint, rate-limited. */
export function testSends({ db, change, store, ids, clock }: WebhooksDeps, { load }: WebhooksShared) {
  return {
    /**
     * Queues a `webhook.test` event for this endpoint only, at most TESTS_PER_WINDOW a minute per endpoint.
     * Returns its delivery id. Throws `not_found`, `rate_limited` (with Retry-After).
     */
    async test(ctx: RequestCtx, id: string): Promise<string> {
      await load(id);
      // Before the change, like the request limiter: a refused test send is not a failed change to audit.
      const recent = await store.recentTests(db, id, clock.now() - TEST_WINDOW_MS, TESTS_PER_WINDOW);
      if (recent.length >= TESTS_PER_WINDOW) {
        const retryAfterS = Math.max(
          1,
          Math.ceil((Math.min(...recent) + TEST_WINDOW_MS - clock.now()) / 1000),
        );
        throw new AppError(
          'rate_limited',
          `This endpoint was sent ${TESTS_PER_WINDOW} test events in the last minute; retry in ${retryAfterS} s.`,
          { retry_after_s: retryAfterS },
        );
      }
      const deliveryId = ids.next('dlv');
      const eventId = ids.next('evt');
      await change(ctx, { action: 'webhook.test', target: { type: 'webhook', id } }, async (trx) => {
        const now = clock.now();
        await store.upsertDelivery(
          trx,
          pendingDelivery({
            id: deliveryId,
            webhookId: id,
            eventId,
            eventType: 'webhook.test',
            payload: payloadOf('webhook.test', now, {
              webhook_id: id,
              message: 'A test event from Gatehouse.',
            }),
            now,
          }),
          false,
        );
        return { before: null, after: { delivery_id: deliveryId } };
      });
      return deliveryId;
    },
  };
}

/** Retention: purging old delivery history. */
export function retention({ db, store, helpers, clock, settings }: WebhooksDeps) {
  return {
    /**
     * Retention (`webhooks.retention_days`): deletes finished deliveries with their attempts, and events sent
     * out, older than that, in batches. Pending or in-flight deliveries are never touched. Not audited: it
     * removes delivery history, not state a caller set; the setting's changes are audited.
     */
    async purge(): Promise<{ deliveries: number; events: number }> {
      const cutoff = clock.now() - settings().webhooks.retention_days * 86_400_000;
      const purged = { deliveries: 0, events: 0 };
      const runs = {
        deliveries: (n: number) => helpers.purgeDeliveries(db, cutoff, n),
        events: (n: number) => store.purgeOutbox(db, cutoff, n),
      };
      for (const key of ['deliveries', 'events'] as const) {
        for (;;) {
          const n = await runs[key](PURGE_BATCH);
          purged[key] += n;
          if (n < PURGE_BATCH) break;
          await new Promise((r) => setImmediate(r)); // other requests between batches (SQLite is synchronous)
        }
      }
      return purged;
    },
  };
}
