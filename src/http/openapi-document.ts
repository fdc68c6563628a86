/**
 * The last pass over the OpenAPI document (`@fastify/swagger`'s `transformObject`), so code generators get
 * named types: every titled schema (resources, pages, `Problem`, request bodies) moves to
 * `components.schemas` and is referenced by `$ref`; unions of one-value enums become one `enum`; `T | null`
 * becomes `type: [T, 'null']`; each response gets a description and the headers it carries; the request
 * headers (`Idempotency-Key`, `If-Match`) are declared. It touches the document only: Fastify validates and
 * serializes with the route schemas as they are.
 */

type Json = Record<string, unknown>;
type Operation = {
  operationId?: string;
  /** A create route's `config.location` (http/openapi.ts): its 201 sends `Location`. */
  'x-location'?: string;
  summary?: string;
  security?: unknown[];
  parameters?: Json[];
  requestBody?: { content?: Record<string, { schema?: Json }> };
  responses?: Record<
    string,
    { description?: string; headers?: Json; content?: Record<string, { schema?: Json }> }
  >;
};
type Document = {
  paths?: Record<string, Record<string, Operation>>;
  webhooks?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Json>; headers?: Json; parameters?: Json };
};

/** Operations whose answers carry the config version as a strong `ETag`. */
const ETAG_OPERATIONS = new Set([
  'getConfig',
  'replaceConfig',
  'patchConfig',
  'rollbackConfig',
  'getConfigVersion',
]);
/** Operations that refuse to act without `If-Match` (428). */
const IF_MATCH_REQUIRED = new Set(['applyState']);
/**
 * Authenticated POSTs whose answer is never stored for an `Idempotency-Key`, so never replayed: reads recorded
 * without a change (`planState`, `verifyAuditChainAgainstCheckpoint`), and `logout`, whose retry has no session
 * left to authenticate. Neither the key nor `Idempotency-Replayed` is declared on them
 * (test/contract/response-headers.test.ts replays the others).
 */
export const NOT_REPLAYED = new Set(['logout', 'planState', 'verifyAuditChainAgainstCheckpoint']);

/** Whether an operation takes `Idempotency-Key` and may answer `Idempotency-Replayed`. */
const replayable = (op: Operation, method: string, isPublic: boolean) =>
  method === 'post' && !isPublic && !NOT_REPLAYED.has(op.operationId ?? '');

/** A success answer's description, from its status and the title of what it returns. */
function successDescription(status: string, schema: Json | undefined): string {
  const what = typeof schema?.title === 'string' ? `\`${schema.title}\`` : 'answer';
  if (status === '201') return `Created: the new ${what}; \`Location\` names it.`;
  if (status === '202') return `Accepted: the ${what}; the work goes on in the background.`;
  if (status === '204') return 'Done; no body.';
  if (status === '302') return 'A redirect; `Location` says where.';
  return `OK: the ${what}.`;
}

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });
const problemRef = () => ref('schemas', 'Problem');

const headerComponents = {
  XRequestId: {
    description: 'The request id (the caller’s `X-Request-Id` when short and plain, else a fresh UUID).',
    schema: { type: 'string' },
  },
  RateLimit: {
    description:
      'IETF RateLimit fields: remaining quota `r` and seconds to reset `t` of the policy that applies (none while the settings turn rate limits off).',
    schema: { type: 'string' },
  },
  RateLimitPolicy: {
    description:
      'IETF RateLimit-Policy: quota `q` per window `w` seconds of the policy that applies (none while the settings turn rate limits off).',
    schema: { type: 'string' },
  },
  RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } },
  Location: { description: 'The path of the created resource.', schema: { type: 'string' } },
  ETag: {
    description: 'The strong entity tag of the config version; send it back as `If-Match`.',
    schema: { type: 'string' },
  },
  IdempotencyReplayed: {
    description:
      '`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.',
    schema: { type: 'string', enum: ['true'] },
  },
};

const parameterComponents = {
  IdempotencyKey: {
    name: 'idempotency-key',
    in: 'header',
    required: false,
    description:
      'Makes a retried POST safe: the same key with the same body within 24 hours answers the first answer again (with `Idempotency-Replayed: true`) and changes nothing; with another body it is a 422.',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
  },
  IfMatch: {
    name: 'if-match',
    in: 'header',
    required: false,
    description: 'The `ETag` you read: the change is refused with 412 when the state moved since.',
    schema: { type: 'string', maxLength: 100 },
  },
  IfMatchRequired: {
    name: 'if-match',
    in: 'header',
    required: true,
    description: 'The snapshot of the plan you reviewed: 428 without it, 412 when the state moved since.',
    schema: { type: 'string', maxLength: 100 },
  },
};

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys whose values are data, not schemas: never rewritten. */
const DATA_KEYS = new Set(['examples', 'example', 'default', 'enum', 'const']);

/** `anyOf` of one-value enums of one type → one `enum`; `anyOf [T, null]` → `type: [T, 'null']`. */
function simplify(node: Json): Json {
  const members = node.anyOf;
  if (!Array.isArray(members) || !members.every(isObject)) return node;
  const { anyOf: _anyOf, ...rest } = node;
  const single = (m: Json) => Array.isArray(m.enum) && m.enum.length === 1 && Object.keys(m).length <= 2;
  const types = new Set(members.map((m) => m.type));
  const [type] = types;
  if (members.length > 1 && members.every(single) && types.size === 1 && typeof type === 'string')
    return { type, enum: members.map((m) => (m.enum as unknown[])[0]), ...rest };
  const nonNull = members.filter((m) => !(m.type === 'null' && Object.keys(m).length === 1));
  const value = nonNull[0];
  if (members.length !== 2 || nonNull.length !== 1 || !value) return node;
  if (typeof value.type !== 'string' || typeof value.title === 'string' || '$ref' in value) return node;
  const merged: Json = { ...value, ...rest, type: [value.type, 'null'] };
  if (Array.isArray(value.enum)) merged.enum = [...(value.enum as unknown[]), null];
  return merged;
}

/** A JSON text with sorted keys, to tell whether two schemas with one title are the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (!isObject(value)) return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
}

/**
 * Bottom-up: simplifies each schema node, then moves each titled one to `schemas` and answers its `$ref`.
 * Two different schemas with one title are a programming error (the contract test builds the document).
 */
function rewrite(node: unknown, schemas: Record<string, Json>): unknown {
  if (Array.isArray(node)) return node.map((n) => rewrite(n, schemas));
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = DATA_KEYS.has(k) ? v : rewrite(v, schemas);
  const simple = simplify(out);
  const title = simple.title;
  if (typeof title !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(title)) return simple;
  const existing = schemas[title];
  if (existing && canonical(existing) !== canonical(simple))
    throw new Error(`OpenAPI: two different schemas are titled ${title}`);
  schemas[title] = simple;
  return ref('schemas', title);
}

const pascal = (id: string) => id.charAt(0).toUpperCase() + id.slice(1);

/**
 * Names the JSON bodies and answers that have no title after their operation (`CreateUserBody`,
 * `TestWebhookResult`…). Not `…Response` or `…Data`: generators name an operation's own types
 * `<OperationId>Data`, `<OperationId>Response`, `<OperationId>Error(s)`, and a schema of that name turns
 * theirs into `TestWebhookResponse2`.
 */
function nameUntitled(path: string, op: Operation): void {
  const id = op.operationId;
  if (!path.startsWith('/api') || !id) return;
  const name = (schema: Json | undefined, suffix: string) => {
    if (schema && schema.type === 'object' && typeof schema.title !== 'string')
      schema.title = `${pascal(id)}${suffix}`;
  };
  for (const media of Object.values(op.requestBody?.content ?? {})) name(media.schema, 'Body');
  for (const [status, r] of Object.entries(op.responses ?? {}))
    if (status.startsWith('2')) name(r.content?.['application/json']?.schema, 'Result');
}

/** The request headers an operation reads, and the 412/428 answers that come with `If-Match`. */
function requestHeaders(op: Operation, method: string): void {
  const isPublic = Array.isArray(op.security) && op.security.length === 0;
  const params = (op.parameters ?? []).filter((p) => !(p.in === 'header' && p.name === 'if-match'));
  const acceptsIfMatch = params.length !== (op.parameters ?? []).length;
  const required = IF_MATCH_REQUIRED.has(op.operationId ?? '');
  if (required) params.push(ref('parameters', 'IfMatchRequired'));
  else if (acceptsIfMatch) params.push(ref('parameters', 'IfMatch'));
  if (replayable(op, method, isPublic)) params.push(ref('parameters', 'IdempotencyKey'));
  if (params.length > 0) op.parameters = params;
  const responses = (op.responses ??= {});
  const problem = (description: string) => ({
    description,
    content: { 'application/problem+json': { schema: problemRef() } },
  });
  if (required || acceptsIfMatch)
    responses['412'] ??= problem(
      '`If-Match` names a version that is no longer current; `ETag` names the current one.',
    );
  if (required) responses['428'] ??= problem('`If-Match` is missing.');
}

/** Each answer's description and headers. */
function responseHeaders(op: Operation, method: string, path: string): void {
  const isPublic = Array.isArray(op.security) && op.security.length === 0;
  for (const [status, r] of Object.entries(op.responses ?? {})) {
    const success = status.startsWith('2') || status === '302';
    if (!r.description || r.description === 'Default Response')
      r.description = success
        ? successDescription(status, Object.values(r.content ?? {})[0]?.schema)
        : 'Not ready or unavailable; see the body.';
    if (!path.startsWith('/api')) continue;
    const headers: Json = {
      'X-Request-Id': ref('headers', 'XRequestId'),
      RateLimit: ref('headers', 'RateLimit'),
      'RateLimit-Policy': ref('headers', 'RateLimitPolicy'),
    };
    if (status === '429' || status === '503') headers['Retry-After'] = ref('headers', 'RetryAfter');
    if ((status === '201' && op['x-location']) || status === '302')
      headers.Location = ref('headers', 'Location');
    if ((success || status === '412') && ETAG_OPERATIONS.has(op.operationId ?? ''))
      headers.ETag = ref('headers', 'ETag');
    if (success && replayable(op, method, isPublic))
      headers['Idempotency-Replayed'] = ref('headers', 'IdempotencyReplayed');
    r.headers = { ...(r.headers ?? {}), ...headers };
  }
}

/**
 * The `transformObject` of `@fastify/swagger`: see the file comment. The `webhooks` (built whole elsewhere)
 * get their titled schemas named the same way; `parameters` are the components they refer to.
 */
export function finishDocument<T>(input: T, parameters: Record<string, unknown> = {}): T {
  const doc = input as Document;
  const schemas: Record<string, Json> = {};
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      nameUntitled(path, op);
      requestHeaders(op, method);
      responseHeaders(op, method, path);
      delete op['x-location'];
    }
  }
  doc.paths = rewrite(doc.paths, schemas) as Document['paths'];
  if (doc.webhooks) doc.webhooks = rewrite(doc.webhooks, schemas) as Document['webhooks'];
  const sorted = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)));
  doc.components = {
    ...doc.components,
    schemas: { ...doc.components?.schemas, ...sorted },
    headers: headerComponents,
    parameters: { ...parameterComponents, ...parameters },
  };
  return input;
}
