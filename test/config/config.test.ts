import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createDb } from '../../src/db/create-db.js';
import { defaultEnv } from '../../src/env/load.js';
import { createIds } from '../../src/lib/ids.js';
import { createLogger } from '../../src/lib/logger.js';
import { counts, expectProblem, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url, { realLimits: true });
  });
  afterAll(async () => app?.close());

  const get = () => app.request({ method: 'GET', url: '/api/config' });
  const put = (payload: object, headers: Record<string, string> = {}, query = '') =>
    app.request({ method: 'PUT', url: `/api/config${query}`, payload, headers });
  const patch = (payload: object, headers: Record<string, string> = {}, query = '') =>
    app.request({
      method: 'PATCH',
      url: `/api/config${query}`,
      payload: JSON.stringify(payload),
      headers: { 'content-type': 'application/merge-patch+json', ...headers },
    });
  const etag = async () => (await get()).headers.etag as string;

  describe('succeeds', () => {
    it('starts at version 1 with the documented defaults and a strong ETag', async () => {
      const res = await get();
      expect(res.headers.etag).toBe('"1"');
      expect(res.json()).toEqual({
        rate_limits: {
          enabled: true,
          default: { max: 600, window_s: 60 },
          anonymous: { max: 60, window_s: 60 },
          login: { max: 10, window_s: 300 },
          by_role: {},
          by_token: {},
          store_failure: 'local',
        },
        tokens: { default_ttl_days: 30, max_ttl_days: 366 },
        sessions: { ttl_minutes: 480 },
        auth: { sso_only: false, public_url: null, require_mfa_for_roles: [] },
        passwords: { min_length: 12 },
        audit: { retention_days: 365, log_reads: false },
        webhooks: {
          timeout_s: 15,
          retry_schedule_s: [0, 5, 300, 1800, 7200, 18000, 36000, 36000],
          disable_after_days: 5,
          allow_private_targets: false,
          retention_days: 30,
          max_endpoints: 100,
        },
      });
    });

    it('PATCH applies a merge patch with If-Match and answers the new version, document and diff', async () => {
      const res = await patch({ tokens: { default_ttl_days: 7 } }, { 'if-match': await etag() });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers.etag).toBe('"2"');
      expect(res.json()).toMatchObject({
        version: 2,
        dry_run: false,
        document: { tokens: { default_ttl_days: 7, max_ttl_days: 366 } },
        diff: [{ op: 'replace', path: '/tokens/default_ttl_days', value: 7 }],
      });
      expect((await get()).json().tokens.default_ttl_days).toBe(7);
    });

    it('takes effect on the very next request: a token minted now gets the new default lifetime', async () => {
      const token = (
        await app.request({
          method: 'POST',
          url: '/api/tokens',
          payload: { name: 'x', scopes: ['users:read'] },
        })
      ).json();
      expect(Date.parse(token.expires_at) - Date.parse(token.created_at)).toBe(7 * 86_400_000);
      await patch({ passwords: { min_length: 20 } });
      expectProblem(
        await app.request({
          method: 'POST',
          url: '/api/users',
          payload: makeUser({ password: 'only sixteen chr' }),
        }),
        400,
        'validation_failed',
      );
      await patch({ passwords: { min_length: null } }); // null: back to the default
      expect((await get()).json().passwords.min_length).toBe(12);
    });

    it('PUT replaces the document; what it leaves out returns to the default', async () => {
      const res = await put({ sessions: { ttl_minutes: 60 } }, { 'if-match': await etag() });
      expect(res.statusCode, res.body).toBe(200);
      const doc = res.json().document;
      expect(doc.sessions.ttl_minutes).toBe(60);
      expect(doc.tokens.default_ttl_days).toBe(30);
      expect(doc.rate_limits.default).toEqual({ max: 600, window_s: 60 });
    });

    it('dry_run validates and shows the would-be document and diff without saving', async () => {
      const before = await etag();
      const res = await patch({ audit: { retention_days: 30 } }, {}, '?dry_run=true');
      expect(res.json()).toMatchObject({
        dry_run: true,
        document: { audit: { retention_days: 30 } },
        diff: [{ op: 'replace', path: '/audit/retention_days', value: 30 }],
      });
      expect(await etag()).toBe(before);
      expect((await get()).json().audit.retention_days).toBe(365);
    });

    it('keeps every version: history with diffs and actors, any version readable, rollback writes a new one', async () => {
      const history = (await app.request({ method: 'GET', url: '/api/config/history?limit=2' })).json();
      expect(history.data.map((v: { version: number }) => v.version)).toEqual([5, 4]);
      expect(history.data[0]).toMatchObject({
        actor: app.adminId,
        actor_name: 'admin',
        diff: expect.any(Array),
      });
      const rest = (
        await app.request({
          method: 'GET',
          url: `/api/config/history?limit=10&cursor=${history.next_cursor}`,
        })
      ).json();
      expect(rest.data.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
      expect(rest.data[2]).toMatchObject({ actor: 'system' });
      const v2 = (await app.request({ method: 'GET', url: '/api/config/versions/2' })).json();
      expect(v2.tokens.default_ttl_days).toBe(7);
      const rolled = await app.request({
        method: 'POST',
        url: '/api/config/rollback',
        payload: { version: 2 },
      });
      expect(rolled.json()).toMatchObject({ version: 6, document: v2 });
      expect((await get()).json()).toEqual(v2);
    });

    it('publishes its JSON Schema', async () => {
      const schema = (await app.request({ method: 'GET', url: '/api/config/schema' })).json();
      expect(schema).toMatchObject({
        type: 'object',
        additionalProperties: false,
        properties: { rate_limits: { type: 'object' }, webhooks: { type: 'object' } },
      });
    });
  });

  describe('rejects', () => {
    it('a stale If-Match: 412 with the current ETag, and nothing saved', async () => {
      const before = await counts(app);
      const current = await etag();
      for (const stale of ['"1"', 'W/' + current, '"garbage"']) {
        const res = await patch({ sessions: { ttl_minutes: 90 } }, { 'if-match': stale });
        expectProblem(res, 412, 'precondition_failed');
        expect(res.headers.etag).toBe(current);
      }
      expectProblem(await put({}, { 'if-match': '"1"' }), 412, 'precondition_failed');
      expectProblem(
        await app.request({
          method: 'POST',
          url: '/api/config/rollback',
          payload: { version: 1 },
          headers: { 'if-match': '"1"' },
        }),
        412,
        'precondition_failed',
      );
      expect(await etag()).toBe(current);
      expect((await counts(app)).outbox).toBe(before.outbox);
    });

    const invalid: [string, object, string][] = [
      ['an unknown key', { rate_limits: { burst: 5 } }, '/rate_limits/burst'],
      ['an unknown section', { features: {} }, '/features'],
      ['a wrong type', { tokens: { default_ttl_days: '30' } }, '/tokens/default_ttl_days'],
      ['out of range', { rate_limits: { default: { max: 0, window_s: 60 } } }, '/rate_limits/default/max'],
      ['a bad enum', { rate_limits: { store_failure: 'maybe' } }, '/rate_limits/store_failure'],
      [
        'a bad override key',
        { rate_limits: { by_role: { admin: { max: 1, window_s: 1 } } } },
        '/rate_limits/by_role/admin',
      ],
      ['a schedule of strings', { webhooks: { retry_schedule_s: ['5'] } }, '/webhooks/retry_schedule_s/0'],
    ];
    for (const [name, body, pointer] of invalid) {
      it(`${name}: 400 pointing at ${pointer}, nothing saved (PATCH and PUT)`, async () => {
        const current = await etag();
        const p1 = expectProblem(await patch(body), 400, 'validation_failed');
        expect(p1.errors?.[0]?.pointer).toBe(pointer);
        const p2 = expectProblem(await put(body), 400, 'validation_failed');
        expect(p2.errors?.[0]?.pointer).toBe(pointer);
        expect(await etag()).toBe(current);
      });
    }

    it('__proto__ and constructor.prototype: 400, nothing saved', async () => {
      const current = await etag();
      for (const raw of [
        '{"__proto__":{"tokens":{"default_ttl_days":1}}}',
        '{"tokens":{"constructor":{"prototype":{"x":1}}}}',
      ]) {
        const res = await app.request({
          method: 'PATCH',
          url: '/api/config',
          payload: raw,
          headers: { 'content-type': 'application/merge-patch+json' },
        });
        expect(res.statusCode, res.body).toBe(400);
      }
      expect(await etag()).toBe(current);
    });

    it('unknown versions: 404; version 0: 400', async () => {
      expectProblem(await app.request({ method: 'GET', url: '/api/config/versions/999' }), 404, 'not_found');
      expectProblem(
        await app.request({ method: 'GET', url: '/api/config/versions/0' }),
        400,
        'validation_failed',
      );
      expectProblem(
        await app.request({ method: 'POST', url: '/api/config/rollback', payload: { version: 999 } }),
        404,
        'not_found',
      );
    });
  });

  describe('audit', () => {
    it('each change is one config.update audit row carrying the diff, and one event', async () => {
      const before = await counts(app);
      await patch({ sessions: { ttl_minutes: 120 } }, { 'x-request-id': 'cfg-1' });
      const after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([1, 1]);
      const row = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'cfg-1')
        .executeTakeFirstOrThrow();
      const changes = typeof row.changes === 'string' ? JSON.parse(row.changes) : row.changes;
      expect(row.action).toBe('config.update');
      expect(changes.after.diff).toEqual([{ op: 'replace', path: '/sessions/ttl_minutes', value: 120 }]);
    });
  });

  describe('succeeds across instances', () => {
    it('a change made through one instance is seen by another on the same database within a second', async () => {
      const logger = createLogger('silent', false);
      const second = createDb(database().url, logger);
      const other = await buildApp({
        env: defaultEnv(),
        database: second,
        logger,
        clock: app.clock,
        ids: createIds(),
        configPollMs: 100,
        auditKey: app.auditKey,
      });
      try {
        await patch({ sessions: { ttl_minutes: 333 } });
        const started = Date.now();
        while (
          other.services.config.get().document.sessions.ttl_minutes !== 333 &&
          Date.now() - started < 5000
        )
          await new Promise((r) => setTimeout(r, 20));
        const seenAfter = Date.now() - started;
        expect(other.services.config.get().document.sessions.ttl_minutes).toBe(333);
        expect(seenAfter).toBeLessThan(1000);
      } finally {
        await other.app.close();
        await second.close();
      }
    });
  });
});
