import { Type, type Static } from 'typebox';
import { IncludeTotalField, PageQueryFields } from '../../lib/pagination.js';
import type { DeliveryStatus } from '../../db/tables.js';
import { Str, Timestamp } from '../../lib/schema.js';

const EventPattern = Str({
  minLength: 1,
  maxLength: 100,
  pattern: '^(\\*|[a-z_]+\\.(\\*|[a-z_]+))$',
  description: 'An event type, `<resource>.*`, or `*`.',
});
/** Seconds one send to an endpoint may take. */
export const TimeoutS = Type.Integer({ minimum: 1, maximum: 60 });

export const Schedule = Type.Array(Type.Integer({ minimum: 0, maximum: 7 * 86_400 }), {
  minItems: 1,
  maxItems: 20,
  description: 'Seconds before each attempt; the first is usually 0.',
});

export const Webhook = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    description: Type.String(),
    events: Type.Array(Type.String()),
    enabled: Type.Boolean(),
    disabled_reason: Type.Union([Type.String(), Type.Null()]),
    failing_since: Type.Union([Timestamp, Type.Null()]),
    retry_schedule_s: Type.Union([Type.Array(Type.Integer()), Type.Null()], {
      description: "null: the settings' webhooks.retry_schedule_s.",
    }),
    timeout_s: Type.Union([Type.Integer(), Type.Null()], {
      description: "null: the settings' webhooks.timeout_s.",
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
    created_by: Type.Union([Type.String(), Type.Null()], {
      description:
        'The user whose current read permissions filter what the endpoint receives (set on create, and by an update of url or events); null: it receives nothing.',
    }),
  },
  { additionalProperties: false, title: 'Webhook' },
);
export type Webhook = Static<typeof Webhook>;

export const WebhookWithSecret = Type.Object(
  {
    ...Webhook.properties,
    secret: Type.String({ description: '`whsec_…`: shown on create and rotation only.' }),
  },
  { additionalProperties: false, title: 'WebhookWithSecret' },
);
export type WebhookWithSecret = Static<typeof WebhookWithSecret>;

const fields = {
  url: Str({
    minLength: 8,
    maxLength: 2048,
    description: 'https; http only when webhooks.allow_private_targets is on.',
  }),
  events: Type.Array(EventPattern, { minItems: 1, maxItems: 100, uniqueItems: true }),
  description: Type.Optional(Str({ maxLength: 512 })),
  enabled: Type.Optional(Type.Boolean()),
  retry_schedule_s: Type.Optional(Type.Union([Schedule, Type.Null()])),
  timeout_s: Type.Optional(Type.Union([TimeoutS, Type.Null()])),
};
export const CreateWebhookBody = Type.Object(fields, {
  additionalProperties: false,
  title: 'CreateWebhookBody',
});
export type CreateWebhookBody = Static<typeof CreateWebhookBody>;
export const UpdateWebhookBody = Type.Object(
  { ...fields, url: Type.Optional(fields.url), events: Type.Optional(fields.events) },
  { additionalProperties: false, minProperties: 1, title: 'UpdateWebhookBody' },
);
export type UpdateWebhookBody = Static<typeof UpdateWebhookBody>;

export const Attempt = Type.Object(
  {
    attempted_at: Timestamp,
    status_code: Type.Union([Type.Integer(), Type.Null()]),
    latency_ms: Type.Integer(),
    error: Type.Union([Type.String(), Type.Null()]),
    response_excerpt: Type.Union([Type.String(), Type.Null()], {
      description: 'At most 1 KiB of the response body.',
    }),
  },
  { additionalProperties: false, title: 'DeliveryAttempt' },
);
export type Attempt = Static<typeof Attempt>;

export const Delivery = Type.Object(
  {
    id: Type.String(),
    webhook_id: Type.String(),
    event_id: Type.String({ description: 'Also the `webhook-id` header, the same on every retry.' }),
    event_type: Type.String(),
    status: Type.Unsafe<DeliveryStatus>(
      Type.String({ enum: ['pending', 'delivering', 'succeeded', 'failed'] }),
    ),
    attempts: Type.Array(Attempt),
    next_attempt_at: Type.Union([Timestamp, Type.Null()]),
    created_at: Timestamp,
  },
  { additionalProperties: false, title: 'Delivery' },
);
export type Delivery = Static<typeof Delivery>;

export const DeliveryParams = Type.Object(
  { id: Type.String({ maxLength: 128 }), deliveryId: Type.String({ maxLength: 128 }) },
  { additionalProperties: false },
);
export const ListQuery = Type.Object({ ...PageQueryFields }, { additionalProperties: false });
export const ListWebhooksQuery = Type.Object(
  { ...PageQueryFields, ...IncludeTotalField },
  { additionalProperties: false },
);
export type ListWebhooksQuery = Static<typeof ListWebhooksQuery>;
export const RecoverBody = Type.Object(
  { since: Type.String({ format: 'date-time' }), until: Type.Optional(Type.String({ format: 'date-time' })) },
  { additionalProperties: false, title: 'RecoverBody' },
);
export const Recovered = Type.Object({ requeued: Type.Integer() }, { additionalProperties: false });
