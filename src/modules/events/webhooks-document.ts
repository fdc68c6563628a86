import { catalog, eventTypes } from './catalog.js';

/**
 * The OpenAPI 3.1 `webhooks` of the document: one `POST` per event type, as a subscribed endpoint receives it.
 * The body is what `payloadOf` (modules/webhooks/matching.ts) writes, `{ type, timestamp, data }`, signed with
 * the Standard Webhooks headers. `data` names a resource schema only where a delivery test checks it
 * (test/webhooks/payload-schema.test.ts); for the other types it is the changed thing as the change wrote it.
 */

type Json = Record<string, unknown>;

/** The `webhook.test` event: not in the catalogue's event types (nobody subscribes to it), yet delivered. */
const TEST_TYPE = 'webhook.test';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The schema of `data` where it is a resource the API also serves, by event type. */
const DATA_SCHEMAS: Record<string, Json> = {
  'user.create': ref('User'),
  'user.update': ref('User'),
  'user.delete': ref('User'),
  'role.create': ref('Role'),
  'role.update': ref('Role'),
  'role.delete': ref('Role'),
  'role.assign': { title: 'RoleAssignment', ...roleAssignment() },
  'role.unassign': { title: 'RoleAssignment', ...roleAssignment() },
  'token.create': ref('Token'),
  'token.rotate': ref('Token'),
  'token.revoke': ref('Token'),
  'config.update': ref('ConfigChange'),
  'webhook.create': ref('Webhook'),
  'webhook.update': ref('Webhook'),
  'webhook.delete': ref('Webhook'),
  'webhook.rotate_secret': ref('Webhook'),
  'webhook.disable': ref('Webhook'),
  [TEST_TYPE]: {
    title: 'WebhookTestData',
    type: 'object',
    required: ['webhook_id', 'message'],
    properties: {
      webhook_id: { type: 'string', description: 'The endpoint the test was sent to (`whk_…`).' },
      message: { type: 'string' },
    },
    additionalProperties: false,
  },
};

function roleAssignment(): Json {
  return {
    type: 'object',
    description: 'Who got (or lost) which role.',
    required: ['user_id', 'role_id', 'role'],
    properties: {
      user_id: { type: 'string' },
      role_id: { type: 'string' },
      role: { type: 'string', description: 'The role’s name.' },
    },
    additionalProperties: false,
  };
}

/** A payload over 20 kB: the resource cut to its id. */
const TRUNCATED: Json = {
  title: 'EventDataTruncated',
  type: 'object',
  description: 'The resource did not fit the 20 kB payload: only its id; read the rest from the API.',
  required: ['id', 'truncated'],
  properties: { id: { type: ['string', 'null'] }, truncated: { type: 'boolean', enum: [true] } },
  additionalProperties: false,
};

const UNTYPED_DATA: Json = {
  description:
    'The changed thing as the change wrote it: the resource after the change (before it, for a delete), never a secret.',
};

/** `user.create` → `UserCreate`; `auth_provider.update` → `AuthProviderUpdate`. */
export function pascalType(type: string): string {
  return type
    .split(/[._]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/** Where an event type's webhook is in the served document: a URI reference `GET /api/events/types` gives. */
export function webhookRef(type: string): string {
  return `/api/openapi.json#/webhooks/${type.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

/** The named payload schema of one event type: the envelope with `type` fixed to it. */
function payloadSchema(type: string, description: string): Json {
  const data = DATA_SCHEMAS[type];
  return {
    title: `${pascalType(type)}Event`,
    type: 'object',
    description: `The body of a \`${type}\` delivery. ${description}`,
    required: ['type', 'timestamp', 'data'],
    properties: {
      type: { type: 'string', enum: [type] },
      timestamp: {
        type: 'string',
        format: 'date-time',
        description: 'When the change was written (ISO 8601 UTC, milliseconds); the same on every retry.',
      },
      data: data ? { anyOf: [data, TRUNCATED] } : UNTYPED_DATA,
    },
    additionalProperties: false,
  };
}

const header = (name: string, description: string, schema: Json) => ({
  name,
  in: 'header',
  required: true,
  description,
  schema,
});

/** The Standard Webhooks headers of every delivery, as `components.parameters`. */
export const webhookHeaderParameters = {
  WebhookId: header(
    'webhook-id',
    'The event id (`evt_…`, the id of its audit event too): the same on every retry and re-send, so receivers deduplicate on it.',
    { type: 'string' },
  ),
  WebhookTimestamp: header(
    'webhook-timestamp',
    'This attempt’s time in Unix seconds; part of the signed content.',
    { type: 'string', pattern: '^[0-9]+$' },
  ),
  WebhookSignature: header(
    'webhook-signature',
    '`v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">` keyed with the base64-decoded part of the endpoint’s `whsec_…` secret; two space-separated signatures for 24 h after a secret rotation.',
    { type: 'string', pattern: '^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)?$' },
  ),
};

function operation(type: string, description: string): Json {
  const test = type === TEST_TYPE;
  return {
    post: {
      operationId: `on${pascalType(type)}`,
      tags: ['webhooks'],
      summary: test ? 'A test event, sent by hand to one endpoint' : description,
      description: test
        ? 'Sent only by `POST /api/webhooks/{id}/test`, to that endpoint, whatever it subscribes to.'
        : `Sent to every enabled endpoint subscribed to \`${type}\` (or \`${type.slice(0, type.indexOf('.'))}.*\`, or \`*\`) whose creator may read it, at least once, after the change commits.`,
      security: [],
      parameters: Object.keys(webhookHeaderParameters).map((name) => ({
        $ref: `#/components/parameters/${name}`,
      })),
      requestBody: {
        required: true,
        content: { 'application/json': { schema: payloadSchema(type, description) } },
      },
      responses: {
        '2XX': { description: 'Any 2xx acknowledges; anything else is retried.' },
        '410': {
          description: 'Gone: the server disables the endpoint and sends it nothing more.',
        },
      },
    },
  };
}

/** The document's `webhooks`: every event type of the catalogue, then `webhook.test`. */
export function webhooksDocument(): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const { type, description } of eventTypes()) out[type] = operation(type, description);
  out[TEST_TYPE] = operation(TEST_TYPE, catalog[TEST_TYPE].description);
  return out;
}
