import { fromJson, toBool, toIso, toIsoOrNull } from '../../db/codecs.js';
import type { DeliveriesTable, DeliveryAttemptsTable, WebhooksTable } from '../../db/tables.js';
import type { Attempt, Webhook } from './schemas.js';

/** An endpoint row as the API shows it. */
export function toWebhook(row: WebhooksTable): Webhook {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: fromJson<string[]>(row.events),
    enabled: toBool(row.enabled),
    disabled_reason: row.disabled_reason,
    failing_since: toIsoOrNull(row.failing_since),
    retry_schedule_s: row.retry_schedule_s === null ? null : fromJson<number[]>(row.retry_schedule_s),
    timeout_s: row.timeout_s,
    created_at: toIso(Number(row.created_at)),
    updated_at: toIso(Number(row.updated_at)),
    created_by: row.created_by,
  };
}

/** An attempt row as the API shows it. */
export function toAttempt(a: DeliveryAttemptsTable): Attempt {
  return {
    attempted_at: toIso(Number(a.attempted_at)),
    status_code: a.status_code,
    latency_ms: a.latency_ms,
    error: a.error,
    response_excerpt: a.response_excerpt,
  };
}

/** A new delivery row, due now: the one shape the fan-out, `recover` and `test` all insert. */
export function pendingDelivery(d: {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  payload: string;
  now: number;
}): DeliveriesTable {
  return {
    id: d.id,
    webhook_id: d.webhookId,
    event_id: d.eventId,
    event_type: d.eventType,
    payload: d.payload,
    status: 'pending',
    attempts: 0,
    next_attempt_at: d.now,
    lock_token: null,
    locked_until: null,
    last_error: null,
    last_status_code: null,
    created_at: d.now,
    updated_at: d.now,
  };
}
