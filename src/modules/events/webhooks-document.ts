import { TokenRecord } from '../tokens/schemas.js';
import { catalog, eventTypes, type Action } from './catalog.js';

/**
 * The OpenAPI 3.1 `webhooks` of the document: one `POST` per event type, as a subscribed endpoint receives it.
 * The body is what `payloadOf` (modules/webhooks/matching.ts) writes, `{ type, timestamp, data }`, signed with
 * the Standard Webhooks headers. `data` is what the change wrote as the event's data (`change()` in src/change.ts:
 * the resource after the change, before it for a delete; `POST /api/apply`'s summary for `config.apply`): the
 * resource schema the API serves where it is that resource, else a schema of its own. Every type has one, and
 * test/webhooks/payload-schema.test.ts checks a real delivery of each against it.
 */

type Json = Record<string, unknown>;

/** The `webhook.test` event: not in the catalogue's event types (nobody subscribes to it), yet delivered. */
const TEST_TYPE = 'webhook.test';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
/** A TypeBox schema as plain JSON (titled: the document names it in `components.schemas`). */
const plain = (schema: object): Json => JSON.parse(JSON.stringify(schema)) as Json;

/** The actions that are event types: each must have its `data` schema below (tsc says when one has none). */
type EventType = { [K in Action]: (typeof catalog)[K]['event'] extends true ? K : never }[Action];

/** The schema of `data`, by event type: a resource the API also serves, or a schema of its own. */
const DATA_SCHEMAS: Record<EventType | typeof TEST_TYPE, Json> = {
  'user.create': ref('User'),
  'user.update': ref('User'),
  'user.delete': ref('User'),
  'role.create': ref('Role'),
  'role.update': ref('Role'),
  'role.delete': ref('Role'),
  'role.assign': { title: 'RoleAssignment', ...roleAssignment() },
  'role.unassign': { title: 'RoleAssignment', ...roleAssignment() },
  'token.create': plain(TokenRecord),
  'token.rotate': plain(TokenRecord),
  'token.revoke': plain(TokenRecord),
  'config.update': ref('ConfigChange'),
  'webhook.create': ref('Webhook'),
  'webhook.update': ref('Webhook'),
  'webhook.delete': ref('Webhook'),
  'webhook.rotate_secret': ref('Webhook'),
  'webhook.disable': ref('Webhook'),
  'plugin.register': ref('Plugin'),
  'plugin.configure': ref('Plugin'),
  'plugin.enable': ref('Plugin'),
  'plugin.disable': ref('Plugin'),
  'plugin.unregister': ref('Plugin'),
  'auth_provider.create': ref('AuthProvider'),
  'auth_provider.update': ref('AuthProvider'),
  'auth_provider.delete': ref('AuthProvider'),
  'audit_stream.create': ref('AuditStream'),
  'audit_stream.update': ref('AuditStream'),
  'audit_stream.delete': ref('AuditStream'),
  'audit_stream.pause': ref('AuditStream'),
  'audit_stream.resume': ref('AuditStream'),
  'audit.purge': {
    title: 'AuditPurgeData',
    type: 'object',
    description: 'One retention batch: the events deleted and where the chain’s anchor now is.',
    required: ['deleted', 'through_seq', 'retention_days'],
    properties: {
      deleted: { type: 'integer', minimum: 0, description: 'How many audit events this batch deleted.' },
      through_seq: {
        type: 'integer',
        description: 'The last seq deleted: the chain’s new anchor (verification starts after it).',
      },
      retention_days: { type: 'integer', minimum: 1, description: 'The retention period it purged by.' },
    },
    additionalProperties: false,
  },
  'config.apply': {
    title: 'ConfigApplyData',
    type: 'object',
    description:
      'What one `POST /api/apply` did: counts by operation and the ids of the events of its changes (each delivered as its own event too).',
    required: ['previous', 'prune', 'create', 'update', 'delete', 'unchanged', 'events'],
    properties: {
      previous: {
        type: 'string',
        description: 'The snapshot the document was applied to (the If-Match sent).',
      },
      prune: { type: 'boolean', description: 'Whether what the document leaves out was deleted.' },
      create: { type: 'integer', minimum: 0 },
      update: { type: 'integer', minimum: 0 },
      delete: { type: 'integer', minimum: 0 },
      unchanged: { type: 'integer', minimum: 0 },
      events: {
        type: 'array',
        items: { type: 'string' },
        description: 'The event ids (`evt_…`) of the changes made, in the order they were made.',
      },
    },
    additionalProperties: false,
  },
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
  const data = (DATA_SCHEMAS as Record<string, Json | undefined>)[type];
  if (!data) throw new Error(`the event type ${type} has no data schema in DATA_SCHEMAS`);
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
      data: { anyOf: [data, TRUNCATED] },
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
