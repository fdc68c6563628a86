import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemCtx } from '../../src/lib/request-ctx.js';
import { makePrincipal, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, forEachDialect, type TestDatabase } from '../helpers/databases.js';

type Json = Record<string, unknown>;
type Operation = { operationId: string; responses: Record<string, { headers?: Record<string, Json> }> };
type Doc = { paths: Record<string, Record<string, Operation>> };

/** Nothing listens here: with `store_failure: closed` every limited request is a 503. */
const CLOSED_REDIS = 'redis://127.0.0.1:1';
const UNKNOWN_USER = 'user_01jd8y6v7kf3zr4x6qk9n2m1ab';
const UNKNOWN_IDP = 'idp_01jd8y6v7kf3zr4x6qk9n2m1ab';
/** Sent only on some answers of a status: `Idempotency-Replayed` on a replay. Each is still seen below. */
const CONDITIONAL = new Set(['Idempotency-Replayed']);

/**
 * Issue 20: every response header the document declares is sent. Real requests through the HTTP API produce
 * each declared (header, status) pair at least once, on an operation that declares it, and the answer carries
 * every header its (operation, status) declares. The pairs covered must be exactly the pairs declared, so a
 * newly declared header (or a header on a new status) fails here until a request here shows it is sent.
 * Every non-public operation is also called without a token, and its 401 must carry what its 401 declares.
 */
forEachDialect((database, dialect) => {
  let app: TestApp;
  let doc: Doc;
  const covered = new Set<string>();

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method, op })),
    );
  const byId = (id: string) => {
    const found = operations().find((o) => o.op.operationId === id);
    if (!found) throw new Error(`no operation ${id}`);
    return found.op;
  };
  /** The declared (header, status) pairs of the whole document. */
  const declared = () =>
    new Set(
      operations().flatMap(({ op }) =>
        Object.entries(op.responses).flatMap(([status, r]) =>
          Object.keys(r.headers ?? {}).map((h) => `${h} ${status}`),
        ),
      ),
    );

  /**
   * Asserts `res` is `status`, declared by `operationId`, with every header declared for it (a conditional one
   * only when present); records the pairs seen.
   */
  function expectDeclaredHeaders(operationId: string, status: number, res: LightMyRequestResponse): void {
    expect(res.statusCode, `${operationId}: ${res.body.slice(0, 300)}`).toBe(status);
    const response = byId(operationId).responses[String(status)];
    expect(response, `${operationId} does not declare ${status}`).toBeDefined();
    for (const name of Object.keys(response!.headers ?? {})) {
      const sent = res.headers[name.toLowerCase()] !== undefined;
      if (!sent && CONDITIONAL.has(name)) continue;
      expect(sent, `${operationId} ${status}: ${name}`).toBe(true);
      covered.add(`${name} ${status}`);
    }
  }

  const key = () => `k-${Math.random().toString(36).slice(2)}`;
  const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
    app.request({ method: 'POST', url, payload, headers });

  beforeAll(async () => {
    app = await startTestApp(database().url);
    doc = (await app.request({ method: 'GET', url: '/api/openapi.json', token: null })).json();
    await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks: { allow_private_targets: true } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
  });
  afterAll(async () => {
    await app?.close();
  });

  describe('succeeds', () => {
    it('every non-public operation answers 401 without a token, with the headers its 401 declares', async () => {
      let n = 0;
      for (const { path, method, op } of operations()) {
        if (!path.startsWith('/api') || !op.responses['401']) continue;
        const res = await app.request({
          method: method.toUpperCase(),
          url: path.replace(/\{\w+\}/g, UNKNOWN_USER),
          token: null,
        });
        expectDeclaredHeaders(op.operationId, 401, res);
        n += 1;
      }
      expect(n).toBeGreaterThan(50);
    });

    it('2xx and 3xx: ETag, Location, Idempotency-Replayed and the pipeline headers', async () => {
      expectDeclaredHeaders(
        'getOpenApi',
        200,
        await app.request({ method: 'GET', url: '/api/openapi.json', token: null }),
      );
      const config = await app.request({ method: 'GET', url: '/api/config' });
      expectDeclaredHeaders('getConfig', 200, config);
      const patched = await app.request({
        method: 'PATCH',
        url: '/api/config',
        payload: JSON.stringify({ audit: { log_reads: false } }),
        headers: {
          'content-type': 'application/merge-patch+json',
          'if-match': config.headers.etag as string,
        },
      });
      expectDeclaredHeaders('patchConfig', 200, patched);
      const current = await app.request({ method: 'GET', url: '/api/config' });
      const replaced = await app.request({
        method: 'PUT',
        url: '/api/config',
        payload: current.json(),
        headers: { 'if-match': current.headers.etag as string },
      });
      expectDeclaredHeaders('replaceConfig', 200, replaced);
      const previous = Number(String(config.headers.etag).replace(/\D/g, ''));
      expectDeclaredHeaders(
        'rollbackConfig',
        200,
        await app.request({
          method: 'POST',
          url: '/api/config/rollback',
          payload: { version: previous },
          headers: { 'if-match': replaced.headers.etag as string },
        }),
      );
      expectDeclaredHeaders(
        'getConfigVersion',
        200,
        await app.request({ method: 'GET', url: '/api/config/versions/1' }),
      );

      const body = makeUser();
      const k = key();
      const created = await post('/api/users', body, { 'idempotency-key': k });
      expectDeclaredHeaders('createUser', 201, created);
      const again = await post('/api/users', body, { 'idempotency-key': k });
      expectDeclaredHeaders('createUser', 201, again);
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(again.headers.location).toBe(created.headers.location);

      const owner = await makePrincipal(app, { permissions: ['users:read'] });
      const rk = key();
      await post(`/api/tokens/${owner.tokenId}/rotate`, {}, { 'idempotency-key': rk });
      expectDeclaredHeaders(
        'rotateToken',
        200,
        await post(`/api/tokens/${owner.tokenId}/rotate`, {}, { 'idempotency-key': rk }),
      );

      const hook = (
        await post('/api/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['user.*'] })
      ).json();
      const tk = key();
      const tested = await app.request({
        method: 'POST',
        url: `/api/webhooks/${hook.id}/test`,
        headers: { 'idempotency-key': tk },
      });
      expect(tested.statusCode, tested.body).toBe(202);
      const testedAgain = await app.request({
        method: 'POST',
        url: `/api/webhooks/${hook.id}/test`,
        headers: { 'idempotency-key': tk },
      });
      expectDeclaredHeaders('testWebhook', 202, testedAgain);
      const delivery = tested.json().delivery_id as string;
      const retry = () =>
        app.request({
          method: 'POST',
          url: `/api/webhooks/${hook.id}/deliveries/${delivery}/retry`,
          headers: { 'idempotency-key': `retry-${tk}` },
        });
      expect((await retry()).statusCode).toBe(204);
      expectDeclaredHeaders('retryWebhookDelivery', 204, await retry());

      expectDeclaredHeaders(
        'deleteUser',
        204,
        await app.request({ method: 'DELETE', url: `/api/users/${created.json().id}` }),
      );
      // A browser refused by single sign-on goes back to the sign-in page: a 302 with Location.
      const browser = { accept: 'text/html' };
      expectDeclaredHeaders(
        'startSso',
        302,
        await app.request({
          method: 'GET',
          url: `/api/auth/oidc/${UNKNOWN_IDP}/start`,
          headers: browser,
          token: null,
        }),
      );
      expectDeclaredHeaders(
        'ssoCallback',
        302,
        await app.request({
          method: 'GET',
          url: `/api/auth/oidc/${UNKNOWN_IDP}/callback?state=s&code=c`,
          headers: browser,
          token: null,
        }),
      );
    });

    it('a replayed create names what the first answer created, as its Location', async () => {
      const creates: [string, string, object][] = [
        ['createRole', '/api/roles', { name: `hdr-${Date.now()}`, permissions: ['users:read'] }],
        ['createToken', '/api/tokens', { name: 'hdr', scopes: ['users:read'] }],
        ['createWebhook', '/api/webhooks', { url: 'http://127.0.0.1:9/replay', events: ['user.*'] }],
      ];
      for (const [operationId, url, body] of creates) {
        const k = key();
        const first = await post(url, body, { 'idempotency-key': k });
        expectDeclaredHeaders(operationId, 201, first);
        expect(first.headers.location).toBe(`${url}/${first.json().id}`);
        const replayed = await post(url, body, { 'idempotency-key': k });
        expectDeclaredHeaders(operationId, 201, replayed);
        expect(replayed.headers['idempotency-replayed'], operationId).toBe('true');
        expect(replayed.headers.location, operationId).toBe(first.headers.location);
      }
    });

    it('4xx: each problem status carries what it declares (ETag on a stale If-Match, Retry-After on 429)', async () => {
      const reader = await makePrincipal(app, { permissions: ['roles:read'] });
      expectDeclaredHeaders('createUser', 400, await post('/api/users', { not_a_field: true }));
      expectDeclaredHeaders(
        'listUsers',
        403,
        await app.request({ method: 'GET', url: '/api/users', token: reader.token }),
      );
      expectDeclaredHeaders(
        'getUser',
        404,
        await app.request({ method: 'GET', url: `/api/users/${UNKNOWN_USER}` }),
      );
      const body = makeUser();
      await post('/api/users', body);
      expectDeclaredHeaders('createUser', 409, await post('/api/users', body));
      expectDeclaredHeaders(
        'patchConfig',
        412,
        await app.request({
          method: 'PATCH',
          url: '/api/config',
          payload: JSON.stringify({ audit: { log_reads: false } }),
          headers: { 'content-type': 'application/merge-patch+json', 'if-match': '"0"' },
        }),
      );
      expectDeclaredHeaders(
        'createUser',
        413,
        await post('/api/users', { username: 'x', padding: 'p'.repeat(1024 * 1024 + 1) }),
      );
      expectDeclaredHeaders(
        'createUser',
        415,
        await app.request({
          method: 'POST',
          url: '/api/users',
          payload: 'username=x',
          headers: { 'content-type': 'text/plain' },
        }),
      );
      const k = key();
      await post('/api/users', makeUser(), { 'idempotency-key': k });
      expectDeclaredHeaders(
        'createUser',
        422,
        await post('/api/users', makeUser(), { 'idempotency-key': k }),
      );
      expectDeclaredHeaders('applyState', 428, await post('/api/apply', { document: { version: 1 } }));

      const limited = await makePrincipal(app, { permissions: ['users:read'] });
      await app.services.config.patch(
        systemCtx('test'),
        { rate_limits: { by_token: { [limited.tokenId]: { max: 1, window_s: 60 } } } },
        undefined,
        false,
      );
      const list = () => app.request({ method: 'GET', url: '/api/users?limit=1', token: limited.token });
      expect((await list()).statusCode).toBe(200);
      expectDeclaredHeaders('listUsers', 429, await list());
    });

    it('5xx: a corrupt row is a 500, and a refusing rate-limit store a 503 with Retry-After', async () => {
      const hook = (
        await post('/api/webhooks', { url: 'http://127.0.0.1:9/corrupt', events: ['user.*'] })
      ).json();
      const { events } = await app.database.db
        .selectFrom('webhooks')
        .select('events')
        .where('id', '=', hook.id)
        .executeTakeFirstOrThrow();
      await app.database.db
        .updateTable('webhooks')
        .set({ events: '"not-an-array"' })
        .where('id', '=', hook.id)
        .execute();
      try {
        expectDeclaredHeaders(
          'getWebhook',
          500,
          await app.request({ method: 'GET', url: `/api/webhooks/${hook.id}` }),
        );
      } finally {
        await app.database.db.updateTable('webhooks').set({ events }).where('id', '=', hook.id).execute();
      }

      let refusing: TestApp | undefined;
      let second: TestDatabase | undefined;
      try {
        second = await createTestDatabase(dialect);
        refusing = await startTestApp(second.url, { env: { REDIS_URL: CLOSED_REDIS } });
        await refusing.services.config.patch(
          systemCtx('test'),
          { rate_limits: { store_failure: 'closed' } },
          undefined,
          false,
        );
        const res = await refusing.request({ method: 'GET', url: '/api/users' });
        expectDeclaredHeaders('listUsers', 503, res);
        expect(res.json()).toMatchObject({ code: 'unavailable' });
      } finally {
        await refusing?.close();
        await second?.drop();
      }
    });

    it('covers exactly the (header, status) pairs the document declares', () => {
      expect([...covered].sort()).toEqual([...declared()].sort());
    });
  });
});
