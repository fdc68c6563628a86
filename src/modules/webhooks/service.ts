import type { Kysely } from 'kysely';
import type { Change } from '../../change.js';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { Tables } from '../../db/tables.js';
import { AppError, assertFound, fieldError } from '../../errors.js';
import { decodeCursor, DEFAULT_LIMIT, toPage } from '../../lib/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { isId, type Ids } from '../../lib/ids.js';
import { systemCtx, type RequestCtx } from '../../lib/request-ctx.js';
import { checkTargetUrl } from '../../lib/ssrf-guard.js';
import { generateWebhookSecret } from '../../lib/standard-webhooks.js';
import type { ConfigDocument } from '../config/schemas.js';
import { fromJson } from '../../db/codecs.js';
import {
  assertMaySubscribe,
  creatorOf,
  mayReceive,
  reaches,
  type CreatorPermissions,
} from '../events/reach.js';
import { payloadOf, subscribed, unknownPatterns } from './matching.js';
import type {
  CreateWebhookBody,
  Delivery,
  UpdateWebhookBody,
  Webhook,
  WebhookWithSecret,
} from './schemas.js';
import { pendingDelivery, toWebhook, type WebhooksStore } from './store.js';

/** After a rotation the old secret also signs deliveries for this long, so receivers can switch over. */
export const SECRET_OVERLAP_MS = 24 * 3600 * 1000;
/** Events one recover reads per query. */
const RECOVER_PAGE = 1000;
/** Events one recover call may queue: a bigger window would hold one write transaction open too long. */
const MAX_RECOVER = 100_000;
/** Rows one retention statement deletes: short write transactions, so changes never wait long behind one. */
const PURGE_BATCH = 1000;

/** `POST /{id}/test` sends at most this many test events per endpoint in TEST_WINDOW_MS (every instance counted). */
export const TESTS_PER_WINDOW = 5;
const TEST_WINDOW_MS = 60_000;

type Deps = {
  db: Kysely<Tables>;
  change: Change;
  store: WebhooksStore;
  helpers: Pick<DialectHelpers, 'purgeDeliveries'>;
  ids: Ids;
  clock: Clock;
  settings: () => ConfigDocument;
  creatorPermissions: CreatorPermissions;
};
type Page<T> = { data: T[]; next_cursor: string | null };

function webhookId(id: string): string {
  if (!isId('whk', id)) throw new AppError('not_found', 'No webhook has this id.');
  return id;
}

export function createWebhooksService({
  db,
  change,
  store,
  helpers,
  ids,
  clock,
  settings,
  creatorPermissions,
}: Deps) {
  /** https, or http for private targets when allowed; never an internal address unless allowed. */
  const checkUrl = (raw: string) => checkTargetUrl(raw, settings().webhooks.allow_private_targets);

  /** Known types only, and each exact type one the caller may read (`*`, `user.*` are filtered at delivery). */
  function checkEvents(ctx: RequestCtx, events: string[] | undefined): void {
    const unknown = unknownPatterns(events ?? []);
    if (unknown.length)
      throw fieldError(
        'body',
        '/events',
        `unknown event types: ${unknown.join(', ')} (see GET /api/events/types)`,
      );
    assertMaySubscribe(ctx, events ?? []);
  }

  /** 409 once `webhooks.max_endpoints` exist: with `*` subscriptions, deliveries grow with endpoints × events. */
  async function assertRoomForEndpoint(trx: Kysely<Tables>): Promise<void> {
    const max = settings().webhooks.max_endpoints;
    if ((await store.count(trx)) >= max) {
      throw new AppError(
        'webhook.limit_reached',
        `There are already ${max} webhook endpoints (webhooks.max_endpoints); delete one or raise the setting.`,
        { max_endpoints: max },
      );
    }
  }

  async function load(id: string) {
    return assertFound(await store.find(db, webhookId(id)), 'The webhook');
  }

  return {
    /** Creates an endpoint; the secret is in this answer only. Throws `validation_failed`. */
    async create(ctx: RequestCtx, input: CreateWebhookBody): Promise<WebhookWithSecret> {
      checkEvents(ctx, input.events);
      const url = await checkUrl(input.url);
      const id = ids.next('whk');
      const secret = generateWebhookSecret();
      const now = clock.now();
      const after = await change(
        ctx,
        { action: 'webhook.create', target: { type: 'webhook', id } },
        async (trx) => {
          await assertRoomForEndpoint(trx);
          await store.insert(trx, {
            id,
            url,
            description: input.description ?? '',
            events: JSON.stringify(input.events),
            enabled: input.enabled ?? true,
            secret,
            prev_secret: null,
            prev_secret_until: null,
            retry_schedule_s: input.retry_schedule_s ? JSON.stringify(input.retry_schedule_s) : null,
            timeout_s: input.timeout_s ?? null,
            failing_since: null,
            disabled_reason: null,
            created_at: now,
            updated_at: now,
            created_by: creatorOf(ctx),
          });
          return { before: null, after: toWebhook(assertFound(await store.find(trx, id))) };
        },
      );
      return { ...after, secret };
    },

    async get(id: string): Promise<Webhook> {
      return toWebhook(await load(id));
    },

    async list(query: { limit?: number; cursor?: string }): Promise<Page<Webhook>> {
      const limit = query.limit ?? DEFAULT_LIMIT;
      const after = query.cursor ? String(decodeCursor(query.cursor)[0]) : null;
      return toPage(await store.list(db, after, limit), limit, toWebhook, (w) => [w.id]);
    },

    /**
     * Updates the fields present; enabling clears a disable. Setting `url` or `events` decides where data goes
     * and what it is, so the caller becomes the endpoint's creator (whose permissions filter its deliveries).
     * Throws `not_found`, `validation_failed`, `forbidden`.
     */
    async update(ctx: RequestCtx, id: string, input: UpdateWebhookBody): Promise<Webhook> {
      await load(id);
      checkEvents(ctx, input.events);
      const url = input.url === undefined ? undefined : await checkUrl(input.url);
      return change(ctx, { action: 'webhook.update', target: { type: 'webhook', id } }, async (trx) => {
        const before = toWebhook(assertFound(await store.find(trx, id), 'The webhook'));
        const after = await store.update(trx, id, {
          ...(url !== undefined ? { url } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.events !== undefined ? { events: JSON.stringify(input.events) } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
          ...(input.enabled === true ? { failing_since: null, disabled_reason: null } : {}),
          ...(input.retry_schedule_s !== undefined
            ? {
                retry_schedule_s:
                  input.retry_schedule_s === null ? null : JSON.stringify(input.retry_schedule_s),
              }
            : {}),
          ...(input.timeout_s !== undefined ? { timeout_s: input.timeout_s } : {}),
          ...(input.url !== undefined || input.events !== undefined ? { created_by: creatorOf(ctx) } : {}),
          updated_at: clock.now(),
        });
        return { before, after: toWebhook(assertFound(after, 'The webhook')) };
      });
    },

    async remove(ctx: RequestCtx, id: string): Promise<void> {
      await load(id);
      await change(ctx, { action: 'webhook.delete', target: { type: 'webhook', id } }, async (trx) => {
        const before = toWebhook(assertFound(await store.find(trx, id), 'The webhook'));
        await store.delete(trx, id);
        return { before, after: null };
      });
    },

    /** A new secret; deliveries carry both signatures for 24 hours. */
    async rotateSecret(ctx: RequestCtx, id: string): Promise<WebhookWithSecret> {
      await load(id);
      const secret = generateWebhookSecret();
      const after = await change(
        ctx,
        { action: 'webhook.rotate_secret', target: { type: 'webhook', id } },
        async (trx) => {
          const current = assertFound(await store.find(trx, id), 'The webhook');
          const now = clock.now();
          const updated = await store.update(trx, id, {
            secret,
            prev_secret: current.secret,
            prev_secret_until: now + SECRET_OVERLAP_MS,
            updated_at: now,
          });
          return { before: toWebhook(current), after: toWebhook(assertFound(updated)) };
        },
      );
      return { ...after, secret };
    },

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
        let n = 0;
        // Page through the window (never the whole of it in memory), queueing each page's events at once.
        for (let after: { created_at: number; id: string } | null = null; ;) {
          const page = await store.outboxBetween(trx, { since, until, after, limit: RECOVER_PAGE });
          const rows = page
            .filter((e) => wanted(e.type))
            .map((e) =>
              pendingDelivery({
                id: ids.next('dlv'),
                webhookId: id,
                eventId: e.id,
                eventType: e.type,
                payload: payloadOf(e.type, Number(e.created_at), fromJson<unknown>(e.data)),
                now,
              }),
            );
          n += rows.length;
          await store.requeueDeliveries(trx, rows);
          const last = page.at(-1);
          if (page.length < RECOVER_PAGE || !last) break;
          after = { created_at: Number(last.created_at), id: last.id };
        }
        return { before: null, after: { requeued: n } };
      });
    },

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

    /** Disabled by the server itself (410 Gone, or failing past webhooks.disable_after_days): actor system. */
    async disable(id: string, reason: string): Promise<void> {
      await change(
        systemCtx('webhooks'),
        { action: 'webhook.disable', target: { type: 'webhook', id }, detail: reason },
        async (trx) => {
          const before = toWebhook(assertFound(await store.find(trx, id), 'The webhook'));
          const after = await store.update(trx, id, {
            enabled: false,
            disabled_reason: reason,
            updated_at: clock.now(),
          });
          return { before, after: toWebhook(assertFound(after)) };
        },
      );
    },
  };
}
export type WebhooksService = ReturnType<typeof createWebhooksService>;
