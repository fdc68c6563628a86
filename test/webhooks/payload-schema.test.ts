import { Webhook as Verifier } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAjv } from '../../src/lib/ajv.js';
import { eventTypes } from '../../src/modules/events/catalog.js';
import { makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

type Json = Record<string, unknown>;
type WebhookOp = {
  post: {
    operationId: string;
    parameters: { $ref: string }[];
    requestBody: { content: { 'application/json': { schema: { $ref: string } } } };
    responses: Record<string, unknown>;
  };
};
type Doc = { webhooks: Record<string, WebhookOp>; components: { parameters: Record<string, Json> } };

/**
 * Issue 20: the document's `webhooks` describe what the server really sends. A real delivery of every event
 * type of the catalogue (and `webhook.test`) reaches a loopback receiver subscribed to `*`; each body
 * validates against the payload schema the document gives its type, and carries the headers the document
 * declares. A new event type fails here until its change is made below and its data has a schema.
 */
forEachDialect((database) => {
  let app: TestApp;
  let rx: Receiver;
  let doc: Doc;
  let hook: { id: string; secret: string };
  /** Secrets the changes below set: no delivery may carry one. */
  const secrets: string[] = [];
  const req = async (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH',
    url: string,
    payload?: object | string,
    headers?: Record<string, string>,
  ) => {
    const res = await app.request({
      method,
      url,
      ...(payload === undefined ? {} : { payload }),
      ...(headers ? { headers } : {}),
    });
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
    return res.body ? res.json<Json>() : {};
  };

  beforeAll(async () => {
    app = await startTestApp(database().url);
    rx = await startReceiver();
    await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks: { allow_private_targets: true } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    doc = (await app.request({ method: 'GET', url: '/api/openapi.json', token: null })).json();
    await app.worker.runOnce();
    app.clock.advance(1);
    const created = await req('POST', '/api/webhooks', { url: rx.url('/all'), events: ['*'] });
    hook = { id: created.id as string, secret: created.secret as string };
    secrets.push(hook.secret);
    await app.worker.runOnce();
    app.clock.advance(1);
  });
  afterAll(async () => {
    await app?.close();
    await rx?.close();
  });

  /** Changes of as many kinds as the API makes cheaply, so each type's delivery is checked. */
  async function changeEverything(): Promise<void> {
    // An endpoint answering 410 Gone: the server disables it (webhook.disable) once a user event reaches it.
    rx.behave('/gone', { status: 410 });
    const other = await req('POST', '/api/webhooks', { url: rx.url('/gone'), events: ['user.*'] });
    const user = await req('POST', '/api/users', makeUser({ email: 'payload@example.test' }));
    await req('PUT', `/api/users/${String(user.id)}`, { display_name: 'Payload Person' });
    const role = await req('POST', '/api/roles', {
      name: `payload-role-${Date.now()}`,
      permissions: ['users:read'],
    });
    await req('PUT', `/api/roles/${String(role.id)}`, { description: 'for the payload test' });
    await req('PUT', `/api/users/${String(user.id)}/roles/${String(role.id)}`);
    const token = await req('POST', '/api/tokens', {
      name: 'payload',
      scopes: ['users:read'],
      user_id: user.id,
    });
    await req('POST', `/api/tokens/${String(token.id)}/rotate`, {});
    await req('DELETE', `/api/tokens/${String(token.id)}`);
    await req('DELETE', `/api/users/${String(user.id)}/roles/${String(role.id)}`);
    await req('DELETE', `/api/roles/${String(role.id)}`);
    await req('DELETE', `/api/users/${String(user.id)}`);
    await app.worker.runOnce();
    await app.worker.runOnce();
    await req('PUT', `/api/webhooks/${String(other.id)}`, { events: ['role.*'] });
    await req('POST', `/api/webhooks/${String(other.id)}/rotate-secret`, {});
    await req('DELETE', `/api/webhooks/${String(other.id)}`);
    await req('POST', `/api/webhooks/${hook.id}/test`);
    await changePlugins();
    await changeProviders();
    await changeStreams();
    await applyState();
    await purgeAudit();
  }

  /** plugin.*: the shipped username-policy, registered disabled, then through its whole life. */
  async function changePlugins(): Promise<void> {
    const plugin = await req('POST', '/api/plugins', {
      kind: 'module',
      name: 'username-policy',
      enabled: false,
    });
    const url = `/api/plugins/${String(plugin.id)}`;
    await req('PUT', `${url}/config`, { min_length: 1 });
    await req('POST', `${url}/enable`);
    await req('POST', `${url}/disable`);
    await req('DELETE', url);
  }

  /** auth_provider.*: the issuer is only checked, never called (loopback, allow_private_targets). */
  async function changeProviders(): Promise<void> {
    const clientSecret = `payload-client-secret-${Date.now()}-0123456789`;
    secrets.push(clientSecret);
    const provider = await req('POST', '/api/auth/providers', {
      name: `payload-idp-${Date.now()}`,
      issuer: 'http://127.0.0.1:9',
      client_id: 'gatehouse',
      client_secret: clientSecret,
    });
    const url = `/api/auth/providers/${String(provider.id)}`;
    await req('PUT', url, { jit: true, client_secret: `${clientSecret}-2` });
    secrets.push(`${clientSecret}-2`);
    await req('DELETE', url);
  }

  /** audit_stream.*: its receiver fails until the relay pauses it (a change by `system`); resumed, deleted. */
  async function changeStreams(): Promise<void> {
    rx.behave('/stream', { status: 500 });
    const stream = await req('POST', '/api/audit/streams', {
      name: `payload-stream-${Date.now()}`,
      url: rx.url('/stream'),
    });
    secrets.push(stream.secret as string);
    const url = `/api/audit/streams/${String(stream.id)}`;
    await req('PUT', url, { name: `payload-stream-renamed-${Date.now()}` });
    for (let attempt = 1; attempt <= 5; attempt++) {
      await app.relay.runOnce();
      app.clock.advance(121_000);
    }
    expect((await req('GET', url)).status).toBe('paused');
    await req('POST', `${url}/resume`, {});
    await req('DELETE', url);
  }

  /** config.apply (and the role.create it makes): the exported state plus one role, applied. */
  async function applyState(): Promise<void> {
    const document = (await req('GET', '/api/export')) as { roles: object[] };
    document.roles.push({ name: `payload-applied-${Date.now()}`, permissions: ['users:read'] });
    const plan = await req('POST', '/api/plan', { document });
    await req('POST', '/api/apply', { document }, { 'if-match': `"${String(plan.snapshot)}"` });
  }

  /** config.update, then audit.purge: retention cut to a day, a day passes, the retention job runs. */
  async function purgeAudit(): Promise<void> {
    await req('PATCH', '/api/config', JSON.stringify({ audit: { log_reads: false, retention_days: 1 } }), {
      'content-type': 'application/merge-patch+json',
    });
    app.clock.advance(25 * 3600_000);
    expect(await app.services.audit.purge()).toBeGreaterThan(0);
  }

  describe('succeeds', () => {
    it('every delivered body validates against its type’s payload schema, with the declared headers', async () => {
      await changeEverything();
      await app.worker.runOnce();
      await app.worker.runOnce();
      expect(rx.at('/gone').length).toBeGreaterThan(0);
      const got = rx.at('/all');
      const ajv = makeAjv(false);
      ajv.addSchema({ ...doc, $id: 'openapi.json' }, undefined, undefined, false);
      const verifier = new Verifier(hook.secret);
      const seen = new Set<string>();
      for (const delivery of got) {
        for (const secret of secrets) expect(delivery.body).not.toContain(secret);
        const headers = delivery.headers as Record<string, string>;
        const body = verifier.verify(delivery.body, headers) as { type: string };
        const op = doc.webhooks[body.type];
        expect(op, `no webhook for ${body.type}`).toBeDefined();
        const validate = ajv.compile({
          $ref: `openapi.json${op!.post.requestBody.content['application/json'].schema.$ref}`,
        });
        const parsed = JSON.parse(delivery.body) as { data: Json };
        expect(validate(parsed), `${body.type}: ${JSON.stringify(validate.errors)}`).toBe(true);
        // Each type's data schema is closed: a field the server does not send (a secret, say) fails it.
        expect(validate({ ...parsed, data: { ...parsed.data, secret: 'whsec_x' } }), body.type).toBe(false);
        for (const p of op!.post.parameters) {
          const name = doc.components.parameters[p.$ref.split('/').pop()!]!.name as string;
          expect(headers[name], `${body.type} ${name}`).toBeTruthy();
        }
        seen.add(body.type);
      }
      // Every subscribable type was delivered and checked: a new one needs a change above and a schema.
      expect([...seen].sort()).toEqual([...eventTypes().map((t) => t.type), 'webhook.test'].sort());
    });

    it('a body whose type is another event type does not validate (the type is fixed per webhook)', () => {
      const ajv = makeAjv(false);
      ajv.addSchema({ ...doc, $id: 'openapi.json' }, undefined, undefined, false);
      const validate = ajv.compile({ $ref: 'openapi.json#/components/schemas/UserCreateEvent' });
      const body = {
        type: 'user.delete',
        timestamp: new Date().toISOString(),
        data: { id: null, truncated: true },
      };
      expect(validate(body)).toBe(false);
      expect(validate({ ...body, type: 'user.create' })).toBe(true);
      // `data` is a User (or the truncated form): a bare id, or a user with a field the server never sends, fails.
      expect(validate({ ...body, type: 'user.create', data: { id: 'user_x' } })).toBe(false);
      expect(validate({ ...body, type: 'user.create', extra: 1 })).toBe(false);
    });

    it('GET /api/events/types links each type to its webhook in the document', async () => {
      const res = await app.request({ method: 'GET', url: '/api/events/types' });
      expect(res.statusCode).toBe(200);
      const types = res.json().data as { type: string; description: string; schema: string }[];
      expect(types.length).toBeGreaterThan(0);
      for (const t of types) {
        expect(t.schema).toBe(`/api/openapi.json#/webhooks/${t.type}`);
        const [path, pointer] = t.schema.split('#');
        expect(path).toBe('/api/openapi.json');
        const target = pointer!
          .split('/')
          .slice(1)
          .reduce<unknown>((node, key) => (node as Json | undefined)?.[key], doc);
        expect(target, t.type).toBeDefined();
        expect((target as WebhookOp).post.operationId).toMatch(/^on[A-Z]/);
      }
      expect(Object.keys(doc.webhooks).sort()).toEqual([...types.map((t) => t.type), 'webhook.test'].sort());
    });
  });
});
