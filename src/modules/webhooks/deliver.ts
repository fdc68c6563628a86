import type { Kysely } from 'kysely';
import type { Dispatcher } from 'undici';
import { fromJson } from '../../db/codecs.js';
import type { DeliveriesTable, Tables, WebhooksTable } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { Finished } from './recorder.js';
import { sendSigned, type SendResult } from './sender.js';
import type { WebhooksService } from './service.js';
import type { WebhooksStore } from './store.js';

type Deps = {
  db: Kysely<Tables>;
  store: WebhooksStore;
  webhooks: Pick<WebhooksService, 'disable'>;
  clock: Clock;
  ids: Ids;
  settings: () => ConfigDocument;
  dispatcher: () => Dispatcher;
  record: (f: Finished) => void;
};

/** When the next attempt is due after a failure, or null when the schedule is spent. */
function nextAttempt(schedule: number[], attempts: number, result: SendResult, now: number): number | null {
  const delayS = schedule[attempts];
  if (delayS === undefined) return null;
  const jitter = delayS > 0 ? (Math.random() * 0.2 - 0.1) * delayS : 0; // ±10%, so retries of many events spread out
  const wait = Math.max(delayS + jitter, result.retryAfterS ?? 0);
  return now + Math.round(wait * 1000);
}

/** The secrets that sign a delivery: the current one, and the previous one while its overlap lasts. */
function signingSecrets(hook: WebhooksTable, now: number): string[] {
  return hook.prev_secret && hook.prev_secret_until !== null && Number(hook.prev_secret_until) > now
    ? [hook.secret, hook.prev_secret]
    : [hook.secret];
}

/** The attempt to record and the delivery's next state after it. */
function outcome(
  d: DeliveriesTable,
  attemptId: string,
  result: SendResult,
  { at, attempts, next }: { at: number; attempts: number; next: number | null },
): Omit<Finished, 'done'> {
  return {
    delivery: d,
    attempt: {
      id: attemptId,
      delivery_id: d.id,
      attempted_at: at,
      status_code: result.statusCode,
      latency_ms: result.latencyMs,
      error: result.error,
      response_excerpt: result.excerpt,
    },
    next: {
      status: result.ok ? 'succeeded' : next === null || result.statusCode === 410 ? 'failed' : 'pending',
      attempts,
      next_attempt_at: next ?? at,
      last_error: result.error,
      last_status_code: result.statusCode,
      updated_at: at,
    },
  };
}

/**
 * Sends one leased delivery signed, records the attempt and the delivery's next state (succeeded, pending at
 * the schedule's next time, or failed once it is spent or the endpoint answered 410), then keeps the
 * endpoint's health: `failing_since`, and disabling it after 410 or `webhooks.disable_after_days` of failures.
 */
export function createDeliverer(deps: Deps) {
  const { db, store, clock, ids, settings } = deps;

  async function endpointHealth(
    hook: WebhooksTable,
    result: SendResult,
    at: number,
    disableAfterDays: number,
  ): Promise<void> {
    if (result.ok) {
      if (hook.failing_since !== null) {
        hook.failing_since = null;
        await store.update(db, hook.id, { failing_since: null, updated_at: at });
      }
      return;
    }
    if (result.statusCode === 410) return deps.webhooks.disable(hook.id, 'the endpoint answered 410 Gone');
    if (hook.failing_since === null) {
      hook.failing_since = at;
      await store.update(db, hook.id, { failing_since: at, updated_at: at });
    } else if (at - Number(hook.failing_since) >= disableAfterDays * 86_400_000) {
      await deps.webhooks.disable(hook.id, `failing for ${disableAfterDays} days`);
    }
  }

  /** Sends one delivery, calls `sent` as soon as the answer is in (its endpoint slot is free), then records it. */
  return async function deliver(
    d: DeliveriesTable,
    hook: WebhooksTable,
    sent: (latencyMs: number) => void,
  ): Promise<void> {
    const cfg = settings().webhooks;
    const now = clock.now();
    const result = await sendSigned({
      url: hook.url,
      body: d.payload,
      eventId: d.event_id,
      secrets: signingSecrets(hook, now),
      timeoutMs: (hook.timeout_s ?? cfg.timeout_s) * 1000,
      dispatcher: deps.dispatcher(),
      allowPrivate: cfg.allow_private_targets,
    });
    sent(result.latencyMs);
    const at = clock.now();
    const attempts = d.attempts + 1;
    const schedule =
      hook.retry_schedule_s === null ? cfg.retry_schedule_s : fromJson<number[]>(hook.retry_schedule_s);
    const next = result.ok ? null : nextAttempt(schedule, attempts, result, at);
    const recorded = await new Promise<boolean>((done) =>
      deps.record({ ...outcome(d, ids.next('dlv'), result, { at, attempts, next }), done }),
    );
    if (!recorded) return; // our lease expired and another worker took the row over
    await endpointHealth(hook, result, at, cfg.disable_after_days);
  };
}
