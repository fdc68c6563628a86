import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PASSWORD_MIN_LENGTH_DEFAULT,
  PASSWORD_MIN_LENGTH_FLOOR,
  USERNAME_MAX_LENGTH,
} from '../../src/modules/users/schemas.js';
import { NOT_REPLAYED } from '../../src/http/openapi-document.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

type Json = Record<string, unknown>;
type Response = {
  description?: string;
  headers?: Record<string, Json>;
  content?: Record<string, { schema?: Json }>;
};
type Operation = {
  operationId?: string;
  security?: unknown[];
  parameters?: Json[];
  requestBody?: { content?: Record<string, { schema?: Json }> };
  responses: Record<string, Response>;
};
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Json>;
    parameters: Record<string, Json>;
    headers: Record<string, Json>;
  };
  tags?: { name: string; description?: string }[];
  servers?: { url: string }[];
};

/**
 * Issue 20, item 1: the document is one a code generator can build on. Named schemas referenced by `$ref`,
 * enums as `enum`, described answers with their headers, the request headers, every tag and a server.
 */
describe('OpenAPI document shape (generator-friendly)', () => {
  let app: TestApp;
  let database: TestDatabase;
  let doc: Doc;
  let size: number;

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        path,
        method,
        op,
        where: `${method.toUpperCase()} ${path}`,
      })),
    );
  const isPublic = (op: Operation) => Array.isArray(op.security) && op.security.length === 0;
  const param = (op: Operation, component: string) =>
    (op.parameters ?? []).some((p) => p.$ref === `#/components/parameters/${component}`);
  const byId = (id: string) => {
    const found = operations().find((o) => o.op.operationId === id);
    if (!found) throw new Error(`no operation ${id}`);
    return found.op;
  };

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    app = await startTestApp(database.url);
    const res = await app.request({ method: 'GET', url: '/api/openapi.json', token: null });
    expect(res.statusCode).toBe(200);
    size = res.body.length;
    doc = res.json();
  });
  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  it('names every resource, page, problem and request body in components.schemas, and operations use them', () => {
    const names = Object.keys(doc.components.schemas);
    for (const name of [
      ...['User', 'UserPage', 'CreateUserBody', 'UpdateUserBody', 'Problem'],
      ...['Role', 'RolePage', 'RoleMember', 'RoleMemberPage', 'CreateRoleBody', 'UpdateRoleBody'],
      ...['Token', 'TokenPage', 'TokenWithSecret', 'CreateTokenBody', 'Session', 'Me'],
      ...['AuditEvent', 'AuditEventPage', 'AuditStream', 'AuditStreamPage', 'Webhook', 'WebhookPage'],
      ...['Delivery', 'DeliveryPage', 'Plugin', 'PluginPage', 'AuthProvider', 'AuthProviderPage'],
      ...[
        'ConfigDocument',
        'ConfigVersion',
        'ConfigVersionPage',
        'StateDocument',
        'Plan',
        'Applied',
        'EventType',
      ],
    ])
      expect(names, name).toContain(name);
    const users = doc.paths['/api/users']!;
    expect(users.get!.responses['200']!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/UserPage',
    });
    expect(users.post!.requestBody!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/CreateUserBody',
    });
    expect(users.post!.responses['201']!.content!['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/User',
    });
    for (const { path, op, where } of operations()) {
      if (!path.startsWith('/api')) continue;
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        // A body that may be left out (`null`, as rotate's) is the named schema or null.
        const members = (media.schema?.anyOf as Json[] | undefined) ?? [media.schema ?? {}];
        const named = members.filter((m) => m.type !== 'null');
        expect(named.length, `${where} body ${type}`).toBe(1);
        expect(named[0]!.$ref, `${where} body ${type}`).toMatch(/^#\/components\/schemas\/[A-Z]\w+$/);
      }
    }
  });

  it('has no anyOf of one-value enums or consts: enums are `enum`', () => {
    const offenders: string[] = [];
    const single = (m: unknown) =>
      typeof m === 'object' &&
      m !== null &&
      ('const' in m || (Array.isArray((m as Json).enum) && ((m as Json).enum as unknown[]).length === 1));
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${at}/${i}`));
      if (typeof node !== 'object' || node === null) return;
      const anyOf = (node as Json).anyOf;
      if (Array.isArray(anyOf) && anyOf.every(single)) offenders.push(at);
      for (const [k, v] of Object.entries(node)) walk(v, `${at}/${k}`);
    };
    walk(doc, '#');
    expect(offenders).toEqual([]);
    const kind = (doc.components.schemas.User!.properties as Record<string, Json>).kind;
    expect(kind).toMatchObject({ type: 'string', enum: ['human', 'service'] });
    const email = (doc.components.schemas.User!.properties as Record<string, Json>).email;
    expect(email).toEqual({ type: ['string', 'null'] });
  });

  it('describes every answer (no "Default Response") and declares the headers each carries', () => {
    const header = (r: Response, name: string) => r.headers?.[name]?.$ref;
    for (const { path, method, op, where } of operations()) {
      for (const [status, r] of Object.entries(op.responses)) {
        expect(r.description, `${where} ${status}`).toBeTruthy();
        expect(r.description, `${where} ${status}`).not.toBe('Default Response');
        if (!path.startsWith('/api')) continue;
        for (const name of ['X-Request-Id', 'RateLimit', 'RateLimit-Policy'])
          expect(header(r, name), `${where} ${status} ${name}`).toBeDefined();
        if (status === '429' || status === '503')
          expect(header(r, 'Retry-After'), `${where} ${status}`).toBeDefined();
        // A 201 names what it created, except the second-factor enrolments (a factor has no URL of its own).
        if (status === '201')
          expect(header(r, 'Location'), `${where} ${status}`).toBe(
            ['enrolTotp', 'registerPasskey'].includes(op.operationId ?? '')
              ? undefined
              : '#/components/headers/Location',
          );
        if (status.startsWith('2') && method === 'post' && !isPublic(op))
          expect(header(r, 'Idempotency-Replayed'), `${where} ${status}`).toBe(
            NOT_REPLAYED.has(op.operationId ?? '') ? undefined : '#/components/headers/IdempotencyReplayed',
          );
      }
    }
    for (const id of ['getConfig', 'replaceConfig', 'patchConfig', 'rollbackConfig'])
      expect(byId(id).responses['200']!.headers?.ETag, id).toBeDefined();
  });

  it('declares 401, 403 and 429 with the Problem schema on every non-public operation, and the other problems by what a route takes', () => {
    const problem = { $ref: '#/components/schemas/Problem' };
    for (const { path, op, where } of operations()) {
      if (!path.startsWith('/api')) continue;
      const statuses = ['400', '429', '503', ...(isPublic(op) ? [] : ['401', '403'])];
      if (op.requestBody) statuses.push('409', '413', '415', '422');
      if (path.includes('{')) statuses.push('404');
      for (const status of statuses)
        expect(
          op.responses[status]?.content?.['application/problem+json']?.schema,
          `${where} ${status}`,
        ).toEqual(problem);
    }
  });

  it('declares Idempotency-Key on every authenticated POST whose answer is replayed, and If-Match (with 412, and 428 where required)', () => {
    for (const { method, op, where } of operations())
      if (method === 'post' && !isPublic(op) && where.includes(' /api'))
        expect(param(op, 'IdempotencyKey'), where).toBe(!NOT_REPLAYED.has(op.operationId ?? ''));
    for (const id of ['replaceConfig', 'patchConfig', 'rollbackConfig']) {
      expect(param(byId(id), 'IfMatch'), id).toBe(true);
      expect(byId(id).responses['412'], id).toBeDefined();
    }
    const apply = byId('applyState');
    expect(param(apply, 'IfMatchRequired')).toBe(true);
    expect(doc.components.parameters.IfMatchRequired).toMatchObject({
      in: 'header',
      name: 'if-match',
      required: true,
    });
    expect(Object.keys(apply.responses)).toEqual(expect.arrayContaining(['412', '428']));
  });

  it('declares every tag it uses, each with a description, and a server', () => {
    const declared = new Map((doc.tags ?? []).map((t) => [t.name, t.description]));
    for (const { op, where } of operations())
      for (const tag of (op as { tags?: string[] }).tags ?? [])
        expect(declared.get(tag), `${where} ${tag}`).toBeTruthy();
    expect(doc.servers?.length).toBeGreaterThan(0);
  });

  it('states the username and password limits the server enforces', async () => {
    const body = doc.components.schemas.CreateUserBody!.properties as Record<string, Json>;
    expect(body.username).toMatchObject({ maxLength: USERNAME_MAX_LENGTH });
    expect(USERNAME_MAX_LENGTH).toBe(64);
    expect(body.password).toMatchObject({ minLength: PASSWORD_MIN_LENGTH_FLOOR });
    expect(String(body.password!.description)).toContain(`default ${PASSWORD_MIN_LENGTH_DEFAULT}`);
    const create = (username: string) =>
      app.request({ method: 'POST', url: '/api/users', payload: { username, kind: 'service' } });
    expect((await create('a'.repeat(USERNAME_MAX_LENGTH))).statusCode).toBe(201);
    expect((await create('b'.repeat(USERNAME_MAX_LENGTH + 1))).statusCode).toBe(400);
    // The default policy (12) is stricter than the schema's floor: 11 characters pass the schema, not the policy.
    const res = await app.request({
      method: 'POST',
      url: '/api/users',
      payload: { username: 'carol', password: 'x'.repeat(PASSWORD_MIN_LENGTH_DEFAULT - 1) },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].pointer).toBe('/password');
  });

  it('is a fraction of its former size (808,472 bytes before named schemas)', () => {
    process.stdout.write(
      `openapi.json: ${size} bytes, ${Object.keys(doc.components.schemas).length} named schemas\n`,
    );
    expect(size).toBeLessThan(500_000);
  });
});
