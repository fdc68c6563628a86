import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemCtx } from '../../src/lib/request-ctx.js';
import { makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { dialects, forEachDialect } from '../helpers/databases.js';

type Schema = Record<string, unknown>;
type Json = Record<string, unknown>;
type Operation = {
  operationId?: string;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
};
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
};

/** A string property of a request body with a length limit, and where it is (a JSON Pointer, `0` for items). */
type Limited = { pointer: string; minLength?: number; maxLength?: number; pattern?: string; format?: string };

/** One request an operation takes: its path parameters, the token, the body its fields are probed in. */
type Base = {
  params?: Record<string, string>;
  token?: string;
  headers?: Record<string, string>;
  bodies: Json[];
  /** The If-Match to send, read once the probed value is in place (creating it may move the state). */
  ifMatch?: () => Promise<string>;
  /** Removes what the probe made: the state module refuses to read more than 100 providers. */
  after?: (res: LightMyRequestResponse) => Promise<void>;
};
type Harness = {
  /** A new name-like string, starting with a letter, unique in this run: short, so a 1-character cut differs. */
  short(): string;
  user(username: string): Promise<void>;
  app: TestApp;
  uniq(): string;
  session(): Promise<string>;
  role(name: string): Promise<void>;
};

/**
 * Issue #20: every schema limit equals the enforced limit. The served document is walked: each write
 * operation's JSON body, each string in it (nested objects and array items too) with a `maxLength` or a
 * `minLength`. Set to exactly the limit, the body is accepted (a 2xx); one past the limit, it is a 400 (or
 * 422) problem naming that field's pointer. Lengths are counted as the server counts them, in code points:
 * free-text fields are probed with emoji too (two UTF-16 units each), so a service counting UTF-16 units is
 * caught.
 *
 * Where a 2xx cannot be had with what this test can forge (`FORGED`), or the value at the limit names
 * something that cannot exist (`NAMES_A_THING`), the answer at the limit must still be no length error for
 * the field and no 5xx: the limit itself was let through.
 *
 * The password policy: the schema's `minLength` is the policy's floor (8), the least any setting allows; the
 * setting (`passwords.min_length`, default 12) is enforced by the service on top. The walk runs with the
 * setting at the floor, so there the schema's limit is the enforced one; a separate test checks that the
 * setting counts code points as the schema does.
 */
const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const PASSWORD = 'correct horse battery';
const B64 = 'AAAA';

/** Operations that cannot succeed with what this test can forge, and why. */
const FORGED: Record<string, string> = {
  login: 'no such user',
  loginMfa: 'a forged mfa_token',
  registerPasskey: 'a forged attestation, no challenge outstanding',
  exchangeSsoTicket: 'a forged ticket',
};

/**
 * Fields whose value at a limit cannot name anything that exists, by `<operationId or *> <pointer> <min|max>`:
 * the schema's bound keeps abuse out, the service then looks the value up.
 */
const NAMES_A_THING: Record<string, string> = {
  'createToken /user_id max': 'a user id is 31 characters',
  'updateUser /current_password max': 'only a person changing its own password sends it; this is the admin',
  'updateUser /current_password min': 'only a person changing its own password sends it; this is the admin',
  'registerPlugin /name max': 'a module plugin must be installed under that name',
  'registerPlugin /name min': 'a module plugin must be installed under that name',
  '* /events/0 max': 'an event type of the catalog',
  '* /manifest/hooks/before/0 max': 'an event type of the catalog',
  '* /manifest/hooks/after/0 max': 'an event type of the catalog',
  '* /actions/0 max': 'an action of the catalog',
  '* /document/webhooks/0/events/0 max': 'an event type of the catalog',
  '* /document/streams/0/actions/0 max': 'an action of the catalog',
  '* /document/plugins/0/name max': 'a module plugin must be installed under that name',
  '* /document/plugins/0/name min': 'a module plugin must be installed under that name',
  '* /url min': 'the shortest http URL, http://1, is no routable address',
  '* /issuer min': 'the shortest http URL, http://1, is no routable address',
  '* /document/webhooks/0/url min': 'the shortest http URL, http://1, is no routable address',
  '* /document/streams/0/url min': 'the shortest http URL, http://1, is no routable address',
  '* /document/providers/0/issuer min': 'the shortest http URL, http://1, is no routable address',
};

/** A base body for every write operation with limited strings, by operationId; a new route must add its own. */
const BASES: Record<string, (h: Harness) => Promise<Base>> = {
  login: async (h) => ({ bodies: [{ username: h.uniq(), password: PASSWORD }] }),
  enrolTotp: async (h) => ({ token: await h.session(), bodies: [{ name: 'phone' }] }),
  registerPasskey: async (h) => ({
    token: await h.session(),
    bodies: [
      {
        name: 'key',
        response: {
          id: B64,
          rawId: B64,
          type: 'public-key',
          response: {
            clientDataJSON: B64,
            attestationObject: B64,
            authenticatorData: B64,
            transports: ['usb'],
            publicKey: B64,
          },
          clientExtensionResults: {},
          authenticatorAttachment: 'cross-platform',
        },
      },
    ],
  }),
  loginMfa: async () => {
    const mfa_token = `gtm_${'a'.repeat(40)}`;
    return {
      bodies: [
        { mfa_token, recovery_code: 'a'.repeat(16) },
        {
          mfa_token,
          webauthn: {
            id: B64,
            rawId: B64,
            type: 'public-key',
            response: { clientDataJSON: B64, authenticatorData: B64, signature: B64, userHandle: B64 },
            clientExtensionResults: {},
            authenticatorAttachment: 'platform',
          },
        },
      ],
    };
  },
  createAuthProvider: async (h) => ({
    bodies: providerBodies(h),
    after: async (res) => {
      if (res.statusCode === 201) await removeProvider(h, res.json().id as string);
    },
  }),
  updateAuthProvider: async (h) => {
    const res = await h.app.request({
      method: 'POST',
      url: '/api/auth/providers',
      payload: providerBodies(h)[0],
    });
    expect(res.statusCode, res.body).toBe(201);
    const id = res.json().id as string;
    return { params: { id }, bodies: providerBodies(h), after: () => removeProvider(h, id) };
  },
  exchangeSsoTicket: async () => ({ bodies: [{ ticket: 'x' }] }),
  // The password only where it is probed: each one costs an argon2 hash.
  createUser: async (h) => ({ bodies: [userBody(h), { ...userBody(h), password: PASSWORD }] }),
  updateUser: async (h) => {
    const res = await h.app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
    expect(res.statusCode, res.body).toBe(201);
    // current_password: what a person changing its own password sends; the admin may send it too.
    return {
      params: { id: res.json().id },
      bodies: [
        userBody(h),
        { ...userBody(h), password: PASSWORD },
        { ...userBody(h), password: PASSWORD, current_password: PASSWORD },
      ],
    };
  },
  createRole: async (h) => ({ bodies: [{ name: h.uniq(), description: 'd', permissions: ['users:read'] }] }),
  updateRole: async (h) => {
    const res = await h.app.request({
      method: 'POST',
      url: '/api/roles',
      payload: { name: h.uniq(), permissions: [] },
    });
    expect(res.statusCode, res.body).toBe(201);
    return { params: { id: res.json().id }, bodies: [{ name: h.uniq(), description: 'd' }] };
  },
  createToken: async (h) => ({ bodies: [{ name: 't', scopes: ['users:read'], user_id: h.app.adminId }] }),
  verifyAuditChainAgainstCheckpoint: async () => ({
    bodies: [
      {
        version: 1,
        seq: 0,
        hash: '0'.repeat(64),
        ts: '2026-01-01T00:00:00.000Z',
        issued_at: '2026-01-01T00:00:00.000Z',
        key_id: '0'.repeat(16),
        public_key: 'A'.repeat(43),
        signature: 'A',
      },
    ],
  }),
  createAuditStream: async (h) => ({ bodies: [streamBody(h)], after: () => tidy(h) }),
  updateAuditStream: async (h) => {
    const res = await h.app.request({ method: 'POST', url: '/api/audit/streams', payload: streamBody(h) });
    expect(res.statusCode, res.body).toBe(201);
    return { params: { id: res.json().id }, bodies: [streamBody(h)], after: () => tidy(h) };
  },
  replaceConfig: async (h) => {
    const res = await h.app.request({ method: 'GET', url: '/api/config' });
    expect(res.statusCode, res.body).toBe(200);
    const doc = res.json<Json & { auth: Json }>();
    return {
      headers: { 'if-match': String(res.headers.etag) },
      bodies: [
        {
          ...doc,
          auth: { ...doc.auth, public_url: 'https://gatehouse.test', require_mfa_for_roles: ['auditor'] },
        },
      ],
    };
  },
  createWebhook: async (h) => ({ bodies: [webhookBody(h)], after: () => tidy(h) }),
  updateWebhook: async (h) => {
    const res = await h.app.request({ method: 'POST', url: '/api/webhooks', payload: webhookBody(h) });
    expect(res.statusCode, res.body).toBe(201);
    return { params: { id: res.json().id }, bodies: [webhookBody(h)], after: () => tidy(h) };
  },
  registerPlugin: async (h) => ({
    bodies: [
      {
        kind: 'http',
        url: 'http://127.0.0.1:9/plugin',
        manifest: {
          name: h.uniq().replace(/[^a-z0-9-]/g, '-'),
          version: '1.0.0',
          description: 'd',
          hooks: { before: ['user.create'], after: ['user.create'] },
        },
        enabled: false,
      },
      { kind: 'module', name: h.uniq().replace(/[^a-z0-9-]/g, '-'), enabled: false },
    ],
  }),
  planState: async (h) => ({ bodies: (await stateDocuments(h)).map((document) => ({ document })) }),
  applyState: async (h) => ({
    bodies: (await stateDocuments(h)).map((document) => ({ document })),
    ifMatch: () => snapshot(h),
    after: () => tidy(h),
  }),
};

function userBody(h: Harness): Json {
  return { username: h.uniq(), email: 'u@example.com', display_name: 'U' };
}
function streamBody(h: Harness): Json {
  return { name: h.uniq(), url: 'http://127.0.0.1:9/siem', actions: ['user.*'] };
}
function webhookBody(h: Harness): Json {
  return { url: `http://127.0.0.1:9/${h.uniq()}`, events: ['user.*'], description: 'd', enabled: false };
}
/**
 * Deletes every webhook, audit stream and identity provider a probe made: a stream relays every audit event
 * and retries its unreachable receiver, and the state module reads at most 100 providers.
 */
async function tidy(h: Harness): Promise<void> {
  for (const url of ['/api/webhooks', '/api/audit/streams', '/api/auth/providers']) {
    const res = await h.app.request({ method: 'GET', url: `${url}?limit=500` });
    expect(res.statusCode, res.body).toBe(200);
    for (const { id } of res.json().data as { id: string }[]) {
      const gone = await h.app.request({ method: 'DELETE', url: `${url}/${id}` });
      expect(gone.statusCode, gone.body).toBe(204);
    }
  }
}

async function removeProvider(h: Harness, id: string): Promise<void> {
  const res = await h.app.request({ method: 'DELETE', url: `/api/auth/providers/${id}` });
  expect(res.statusCode, res.body).toBe(204);
}

function providerBodies(h: Harness): Json[] {
  const common = {
    name: h.uniq(),
    issuer: 'http://127.0.0.1:9',
    client_id: 'gatehouse',
    client_secret: 'client-secret',
    scopes: ['openid'],
    default_roles: ['auditor'],
    email_domains: ['example.com'],
  };
  return [
    { ...common, role_mapping: [{ claim: 'groups', contains: 'eds', role: 'auditor' }] },
    { ...common, role_mapping: [{ claim: 'groups', equals: 'eds', role: 'auditor' }] },
  ];
}

/**
 * Documents with one new item of every kind (each list's item 0), one per provider rule variant; the lists
 * of what exists are left out (not managed), so no existing item is touched.
 */
async function stateDocuments(h: Harness): Promise<Json[]> {
  // The settings as the config API holds them (an export reads every item: past 100 providers it refuses).
  const res = await h.app.request({ method: 'GET', url: '/api/config' });
  expect(res.statusCode, res.body).toBe(200);
  const { by_token: _byToken, ...rateLimits } = res.json().rate_limits as Json;
  const settings = { ...res.json<Json & { auth: Json }>(), rate_limits: rateLimits };
  // The assignment names a user and a role that exist, so renaming the document's new ones breaks nothing.
  const user = h.short();
  const role = h.short();
  await h.user(user);
  await h.role(role);
  const doc = {
    version: 1,
    roles: [{ name: h.short(), description: 'd', permissions: ['users:read'] }],
    users: [{ username: h.short(), email: 'u@example.com', display_name: 'U' }],
    assignments: [{ user, role }],
    webhooks: [
      {
        url: `http://127.0.0.1:9/${h.uniq()}`,
        events: ['user.*'],
        description: 'd',
        enabled: false,
        secret: WEBHOOK_SECRET,
      },
    ],
    plugins: [{ name: 'username-policy', kind: 'module', url: null, enabled: false }],
    streams: [
      { name: h.uniq(), url: 'http://127.0.0.1:9/siem', actions: ['user.*'], secret: WEBHOOK_SECRET },
    ],
    settings: {
      ...settings,
      auth: { ...settings.auth, public_url: 'https://gatehouse.test', require_mfa_for_roles: ['auditor'] },
    },
  };
  return providerBodies(h).map((p) => ({ ...doc, providers: [p] }));
}

/** The state's snapshot now, as a plan of nothing reports it. */
async function snapshot(h: Harness): Promise<string> {
  const res = await h.app.request({
    method: 'POST',
    url: '/api/plan',
    payload: { document: { version: 1 } },
  });
  expect(res.statusCode, res.body).toBe(200);
  return `"${res.json().snapshot as string}"`;
}

const SAFE_TEXT = '^[^\\u0000\\uD800-\\uDFFF]*$';
/** Free text: probed with emoji as well (one code point, two UTF-16 units each). */
const FREE_TEXT = new Set([
  'name',
  'description',
  'display_name',
  'password',
  'current_password',
  'client_secret',
  'client_id',
  'claim',
  'contains',
  'equals',
]);

/** Every limited string under `schema`, `$ref`s resolved, each pointer once. */
function limitedStrings(doc: Doc, schema: unknown, pointer = '', seen = new Set<string>()): Limited[] {
  if (!schema || typeof schema !== 'object') return [];
  const node = schema as Schema;
  if (typeof node.$ref === 'string') {
    if (seen.has(node.$ref)) return [];
    const target = doc.components?.schemas?.[node.$ref.split('/').pop() ?? ''];
    return limitedStrings(doc, target, pointer, new Set([...seen, node.$ref]));
  }
  const own: Limited[] =
    [node.type].flat().includes('string') && (node.maxLength !== undefined || node.minLength !== undefined)
      ? [
          {
            pointer,
            ...(typeof node.minLength === 'number' ? { minLength: node.minLength } : {}),
            ...(typeof node.maxLength === 'number' ? { maxLength: node.maxLength } : {}),
            ...(typeof node.pattern === 'string' ? { pattern: node.pattern } : {}),
            ...(typeof node.format === 'string' ? { format: node.format } : {}),
          },
        ]
      : [];
  const children: [string, unknown][] = [
    ...Object.entries((node.properties as Record<string, unknown> | undefined) ?? {}).map(
      ([k, v]) => [`${pointer}/${k}`, v] as [string, unknown],
    ),
    [`${pointer}/0`, node.items],
    ...(['anyOf', 'oneOf', 'allOf'] as const).flatMap((k) =>
      ((node[k] as unknown[] | undefined) ?? []).map((v) => [pointer, v] as [string, unknown]),
    ),
  ];
  return [...own, ...children.flatMap(([p, child]) => limitedStrings(doc, child, p, seen))];
}

/** `head`, then `unit`s, cut to exactly `n` code points. */
const fill = (head: string, n: number, unit = 'a') =>
  Array.from(head)
    .concat(Array<string>(Math.max(0, n)).fill(unit))
    .slice(0, Math.max(0, n))
    .join('');
/** A DNS name of exactly `n` characters (labels of at most 63). */
function domain(n: number): string {
  const labels: string[] = [];
  let left = n - 4; // ".com"
  while (left > 0) {
    const take = Math.min(63, left);
    labels.push(fill('d', take));
    left -= take + 1;
  }
  const name = [...labels, 'com'].join('.');
  return name.length === n ? name : fill(name, n);
}

/**
 * A value of exactly `n` code points for `field` that its pattern and format accept (past a limit, of the
 * same shape), unique where the field is a name; a role named by a field is created first, as it must exist.
 */
async function valueFor(h: Harness, field: Limited, n: number, emoji: boolean): Promise<string> {
  const key =
    field.pointer
      .split('/')
      .filter((s) => s !== '0')
      .pop() ?? '';
  const id = h.short();
  if (emoji) return fill(id, n, '😀');
  if (field.pattern === '^[A-Za-z0-9_-]*$') return 'A'.repeat(n);
  if (field.pattern?.startsWith('^\\d+\\.\\d+\\.\\d+')) return fill('1.0.0-', n, 'a');
  if (field.pattern?.startsWith('^https?://')) return `https://${domain(n - 8)}`;
  if (field.pattern === '^[A-Za-z0-9.-]+$' || key === 'email_domains') return domain(n);
  if (field.format === 'email' || key === 'email') {
    const local = fill(id, Math.min(64, n - 6), 'x');
    return `${local}@${domain(n - local.length - 1)}`;
  }
  if (['url', 'issuer'].includes(key))
    return n < 20 ? fill('http://1', n, '1') : fill(`http://127.0.0.1:9/${id}`, n, 'a');
  if (['events', 'actions', 'before', 'after'].includes(key)) return n === 1 ? '*' : fill('user.', n, 'a');
  if (['role', 'default_roles', 'require_mfa_for_roles'].includes(key)) {
    const name = fill(id, n, 'x');
    if (n >= 1 && n <= 64) await h.role(name);
    return name;
  }
  if (key === 'user') {
    const name = fill(id, n, 'x');
    if (n >= 1 && n <= 64) await h.user(name);
    return name;
  }
  if (key === 'scopes') return fill(`s${id}`, n, 'x');
  if (key === 'user_id') return fill('user_', n, 'x');
  if (key === 'secret') {
    // whsec_ and padded base64 of as many bytes as fit (the service takes 24 to 64); other lengths: not base64
    const bytes = Math.min(64, ((n - 6) / 4) * 3);
    return (n - 6) % 4 === 0 && bytes > 0
      ? `whsec_${Buffer.alloc(bytes, 5).toString('base64')}`
      : fill('whsec_', n, 'A');
  }
  return fill(id, n, 'x');
}

/** Sets `pointer` in a copy of `body`; undefined when the body lacks the place. */
function withValue(body: Json, pointer: string, value: string): Json | undefined {
  const copy = structuredClone(body);
  const parts = pointer.split('/').slice(1);
  let at: unknown = copy;
  for (const part of parts.slice(0, -1)) {
    at = (at as Record<string, unknown> | undefined)?.[part];
    if (!at || typeof at !== 'object') return undefined;
  }
  const last = parts.at(-1) ?? '';
  if (!(last in (at as Json))) return undefined;
  (at as Json)[last] = value;
  return copy;
}

type Problem = { errors?: { pointer: string; message: string }[] };
const problem = (res: LightMyRequestResponse): Problem =>
  String(res.headers['content-type']).startsWith('application/problem+json') ? res.json<Problem>() : {};
/** A 400 or 422 problem naming `pointer`. */
const names = (res: LightMyRequestResponse, pointer: string): boolean =>
  [400, 422].includes(res.statusCode) && (problem(res).errors ?? []).some((e) => e.pointer === pointer);
/** A length rule broken at `pointer`: the schema's words (Ajv) or a service's ("at least 12 characters"). */
const LENGTH_ERROR = /must NOT have (more|fewer) than|at (most|least) \d+ (characters|bytes)/;
const lengthError = (res: LightMyRequestResponse, pointer: string): boolean =>
  (problem(res).errors ?? []).some((e) => e.pointer === pointer && LENGTH_ERROR.test(e.message));

type Probe = { n: number; ok: boolean; emoji: boolean; bound: 'min' | 'max' };
/** At and past each bound of `field`, in ASCII and, for free text, in emoji. */
function probesOf(field: Limited): Probe[] {
  const emoji =
    FREE_TEXT.has(field.pointer.split('/').pop() ?? '') && (field.pattern ?? SAFE_TEXT) === SAFE_TEXT;
  return (emoji ? [false, true] : [false]).flatMap((e) => [
    ...(field.maxLength !== undefined
      ? [
          { n: field.maxLength, ok: true, emoji: e, bound: 'max' as const },
          { n: field.maxLength + 1, ok: false, emoji: e, bound: 'max' as const },
        ]
      : []),
    ...(field.minLength !== undefined && field.minLength > 0
      ? [
          { n: field.minLength, ok: true, emoji: e, bound: 'min' as const },
          { n: field.minLength - 1, ok: false, emoji: e, bound: 'min' as const },
        ]
      : []),
  ]);
}

forEachDialect((database, dialect) => {
  let app: TestApp;
  let doc: Doc;
  let seq = 0;
  const created = async (res: LightMyRequestResponse) =>
    expect([201, 409], res.body).toContain(res.statusCode);
  const h: Harness = {
    get app() {
      return app;
    },
    uniq: () => `n${process.pid}-${(seq += 1)}`,
    short: () => `${'abcdefghijklmnopqrstuvwxyz'[(seq += 1) % 26] ?? 'a'}${seq.toString(36)}`,
    session: async () => {
      const user = makeUser({ password: PASSWORD });
      expect((await app.request({ method: 'POST', url: '/api/users', payload: user })).statusCode).toBe(201);
      const res = await app.request({
        method: 'POST',
        url: '/api/auth/login',
        token: null,
        payload: { username: user.username, password: PASSWORD },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().token as string;
    },
    role: async (name) =>
      created(await app.request({ method: 'POST', url: '/api/roles', payload: { name, permissions: [] } })),
    user: async (username) =>
      created(await app.request({ method: 'POST', url: '/api/users', payload: { username } })),
  };

  beforeAll(async () => {
    app = await startTestApp(database().url);
    await app.services.config.patch(
      systemCtx('test'),
      { webhooks: { allow_private_targets: true }, passwords: { min_length: 8 } },
      undefined,
      false,
    );
    doc = (await app.request({ method: 'GET', url: '/api/openapi.json', token: null })).json();
  });
  afterAll(async () => app?.close());

  /** Every write operation with limited strings in its JSON body. */
  const writes = () =>
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([method]) => ['post', 'put', 'patch'].includes(method))
        .map(([method, op]) => {
          const fields = limitedStrings(doc, op.requestBody?.content?.['application/json']?.schema);
          const unique = [...new Map(fields.map((f) => [f.pointer, f])).values()];
          return { path, method, id: op.operationId ?? `${method} ${path}`, fields: unique };
        })
        .filter((w) => w.fields.length > 0),
    );

  /** One probe sent; a failure's description, or null. */
  async function send(
    w: ReturnType<typeof writes>[number],
    field: Limited,
    probe: Probe,
    base: Base,
  ): Promise<string | null> {
    const at = `${w.id} ${field.pointer} ${probe.emoji ? 'emoji ' : ''}length ${probe.n}`;
    const { params = {}, token, headers = {}, bodies, ifMatch, after } = base;
    const value = await valueFor(h, field, probe.n, probe.emoji);
    const body = bodies.map((b) => withValue(b, field.pointer, value)).find((b) => b !== undefined);
    if (!body) return `${w.id}: no base body has ${field.pointer}`;
    const res = await app.request({
      method: w.method.toUpperCase(),
      url: w.path.replace(/\{(\w+)\}/g, (_, p: string) => params[p] ?? 'missing'),
      payload: body,
      headers: { ...headers, ...(ifMatch ? { 'if-match': await ifMatch() } : {}) },
      ...(token ? { token } : {}),
    });
    if (probe.ok) await after?.(res);
    const lenient =
      FORGED[w.id] ??
      NAMES_A_THING[`${w.id} ${field.pointer} ${probe.bound}`] ??
      NAMES_A_THING[`* ${field.pointer} ${probe.bound}`];
    const failed = !probe.ok
      ? !names(res, field.pointer)
      : lenient
        ? res.statusCode >= 500 || lengthError(res, field.pointer)
        : res.statusCode >= 300;
    return failed ? `${at}: ${res.statusCode} ${res.body.slice(0, 300)}` : null;
  }

  describe('succeeds', () => {
    it('every write operation with limited strings has a base body here', () => {
      const missing = writes()
        .filter((w) => !BASES[w.id])
        .map(
          (w) =>
            `${w.id} (${w.method.toUpperCase()} ${w.path}) has limited strings: add its base body to BASES in test/contract/limits.test.ts`,
        );
      expect(missing).toEqual([]);
    });

    it('accepts each limited string at its limit and refuses it one past, naming the field', async () => {
      const failures: string[] = [];
      let pairs = 0;
      // Plan and apply take each kind's items by that kind's own API schema, probed through its own routes on
      // every dialect; through the state document they are probed once, on the strictest storage there is
      // (PostgreSQL when configured): an apply probe is the slowest by far (it reads and writes every kind).
      const stateDialect = dialects().includes('postgres') ? 'postgres' : 'sqlite';
      const stateOps = new Set(['planState', 'applyState']);
      for (const w of writes().filter(
        (w) => BASES[w.id] && (dialect === stateDialect || !stateOps.has(w.id)),
      )) {
        // A probe one past a limit is refused and changes nothing, so those of an operation share one base.
        let refusalBase: Base | undefined;
        const base = async (probe: Probe) =>
          probe.ok ? BASES[w.id]!(h) : (refusalBase ??= await BASES[w.id]!(h));
        for (const field of w.fields) {
          pairs += 1;
          for (const probe of probesOf(field)) {
            const failure = await send(w, field, probe, await base(probe));
            if (failure) failures.push(failure);
          }
        }
      }
      console.log(`limits: ${pairs} (operation, field) pairs probed`);
      expect(failures).toEqual([]);
    }, 900_000);

    it('holds a password to the passwords.min_length setting in code points, as the schema counts', async () => {
      const create = (password: string) =>
        app.request({ method: 'POST', url: '/api/users', payload: makeUser({ password }) });
      const setMin = (min_length: number) =>
        app.services.config.patch(systemCtx('test'), { passwords: { min_length } }, undefined, false);
      await setMin(12);
      try {
        // 12 emoji: 12 code points, 24 UTF-16 units; 11 emoji is 22 units, yet under the policy's 12.
        expect((await create('😀'.repeat(12))).statusCode).toBe(201);
        const short = await create('😀'.repeat(11));
        expect(names(short, '/password'), short.body).toBe(true);
        expect(problem(short).errors?.[0]?.message).toBe('must be at least 12 characters');
        // The most a schema allows, whatever each character's size in bytes.
        expect((await create('😀'.repeat(1024))).statusCode).toBe(201);
        expect(names(await create('😀'.repeat(1025)), '/password')).toBe(true);
      } finally {
        await setMin(8);
      }
    });
  });
});
