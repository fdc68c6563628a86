import { runPrepared, type Prepared } from '../../change.js';
import { assertFound } from '../../errors.js';
import { decodeCursor, DEFAULT_LIMIT, toPage, withTotal } from '../../lib/pagination.js';
import { systemCtx, type RequestCtx } from '../../lib/request-ctx.js';
import { generateWebhookSecret, givenOrNewSecret } from '../../lib/standard-webhooks.js';
import { creatorOf } from '../events/reach.js';
import type {
  CreateWebhookBody,
  ListWebhooksQuery,
  UpdateWebhookBody,
  Webhook,
  WebhookWithSecret,
} from './schemas.js';
import type { Page, WebhooksDeps, WebhooksShared } from './service-shared.js';
import { toWebhook } from './store.js';

/** After a rotation the old secret also signs deliveries for this long, so receivers can switch over. */
export const SECRET_OVERLAP_MS = 24 * 3600 * 1000;

/** Reading endpoints: one, or a page of them. */
export function endpointReads({ db, store }: WebhooksDeps, { load }: WebhooksShared) {
  return {
    async get(id: string): Promise<Webhook> {
      return toWebhook(await load(id));
    },

    /** A page of endpoints by id, with `total` when asked. Throws `validation_failed` for a bad cursor. */
    async list(query: ListWebhooksQuery): Promise<Page<Webhook>> {
      const limit = query.limit ?? DEFAULT_LIMIT;
      const after = query.cursor ? String(decodeCursor(query.cursor)[0]) : null;
      const found = toPage(await store.list(db, after, limit), limit, toWebhook, (w) => [w.id]);
      return withTotal(found, query.include ? await store.count(db) : undefined);
    },
  };
}

/** A prepared creation and the secret it signs with: the secret is in the creator's answer only, never in the audit row or the event. */
export type PreparedWithSecret<T> = Prepared<T> & { secret: string };

/** An endpoint's creation made ready (the prepared change `create` and a batch run). */
function endpointCreation(
  { store, ids, clock }: WebhooksDeps,
  { checkUrl, checkEvents, assertRoomForEndpoint }: WebhooksShared,
) {
  /**
   * An endpoint's creation made ready: the events and the URL (SSRF guard) checked, the id and the secret
   * (the caller's own, else a new one) drawn; the endpoint limit is judged inside. Throws `validation_failed`.
   */
  async function prepareCreate(
    ctx: RequestCtx,
    input: CreateWebhookBody,
    secret?: string,
  ): Promise<PreparedWithSecret<Webhook>> {
    checkEvents(ctx, input.events);
    const key = givenOrNewSecret(secret);
    const url = await checkUrl(input.url);
    const id = ids.next('whk');
    const now = clock.now();
    return {
      secret: key,
      spec: { action: 'webhook.create', target: { type: 'webhook', id } },
      write: async (trx) => {
        await assertRoomForEndpoint(trx);
        await store.insert(trx, {
          id,
          url,
          description: input.description ?? '',
          events: JSON.stringify(input.events),
          enabled: input.enabled ?? true,
          secret: key,
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
    };
  }

  return prepareCreate;
}

/** Creating and deleting endpoints. */
export function endpointWrites(deps: WebhooksDeps, shared: WebhooksShared) {
  const { change, store } = deps;
  const { load } = shared;
  const prepareCreate = endpointCreation(deps, shared);

  /** An endpoint's deletion made ready: 404 early, the row read again inside. Throws `not_found`. */
  async function prepareRemove(_ctx: RequestCtx, id: string): Promise<Prepared<null>> {
    await load(id);
    return {
      spec: { action: 'webhook.delete', target: { type: 'webhook', id } },
      write: async (trx) => {
        const before = toWebhook(assertFound(await store.find(trx, id), 'The webhook'));
        await store.delete(trx, id);
        return { before, after: null };
      },
    };
  }

  return {
    prepareCreate,
    prepareRemove,
    /** Creates an endpoint; the secret is in this answer only. Throws `validation_failed`, `webhook.limit_reached`. */
    async create(ctx: RequestCtx, input: CreateWebhookBody): Promise<WebhookWithSecret> {
      const prepared = await prepareCreate(ctx, input);
      return { ...(await runPrepared(change, ctx, prepared)), secret: prepared.secret };
    },

    /** Deletes an endpoint. Throws `not_found`. */
    async remove(ctx: RequestCtx, id: string): Promise<void> {
      await runPrepared(change, ctx, await prepareRemove(ctx, id));
    },
  };
}

/** Changing an endpoint: its fields, or its secret. */
export function endpointUpdates(
  { change, store, clock }: WebhooksDeps,
  { checkUrl, checkEvents, load }: WebhooksShared,
) {
  /**
   * An update made ready: the events and a new URL (SSRF guard) checked; the row read again inside.
   * Throws `not_found`, `validation_failed`, `forbidden`.
   */
  async function prepareUpdate(
    ctx: RequestCtx,
    id: string,
    input: UpdateWebhookBody,
  ): Promise<Prepared<Webhook>> {
    await load(id);
    checkEvents(ctx, input.events);
    const url = input.url === undefined ? undefined : await checkUrl(input.url);
    return {
      spec: { action: 'webhook.update', target: { type: 'webhook', id } },
      write: async (trx) => {
        const before = toWebhook(assertFound(await store.find(trx, id), 'The webhook'));
        const after = await store.update(trx, id, patchOf(ctx, input, url, clock.now()));
        return { before, after: toWebhook(assertFound(after, 'The webhook')) };
      },
    };
  }

  return {
    prepareUpdate,
    /**
     * Updates the fields present; enabling clears a disable. Setting `url` or `events` decides where data goes
     * and what it is, so the caller becomes the endpoint's creator (whose permissions filter its deliveries).
     * Throws `not_found`, `validation_failed`, `forbidden`.
     */
    async update(ctx: RequestCtx, id: string, input: UpdateWebhookBody): Promise<Webhook> {
      return runPrepared(change, ctx, await prepareUpdate(ctx, id, input));
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
  };
}

/** The columns an update sets: the fields present (a new `url` already checked), and a new creator on a retarget. */
function patchOf(ctx: RequestCtx, input: UpdateWebhookBody, url: string | undefined, now: number) {
  return {
    ...(url !== undefined ? { url } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.events !== undefined ? { events: JSON.stringify(input.events) } : {}),
    ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    ...(input.enabled === true ? { failing_since: null, disabled_reason: null } : {}),
    ...(input.retry_schedule_s !== undefined
      ? {
          retry_schedule_s: input.retry_schedule_s === null ? null : JSON.stringify(input.retry_schedule_s),
        }
      : {}),
    ...(input.timeout_s !== undefined ? { timeout_s: input.timeout_s } : {}),
    ...(input.url !== undefined || input.events !== undefined ? { created_by: creatorOf(ctx) } : {}),
    updated_at: now,
  };
}

/** The server disabling an endpoint on its own (the deliverer's health rule). */
export function endpointHealth({ change, store, clock }: WebhooksDeps) {
  return {
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
