import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isForbiddenAddress } from '../../src/lib/ssrf-guard.js';
import { counts, expectProblem, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

const setPrivate = (app: TestApp, allow: boolean) =>
  app.request({
    method: 'PATCH',
    url: '/api/config',
    payload: JSON.stringify({ webhooks: { allow_private_targets: allow } }),
    headers: { 'content-type': 'application/merge-patch+json' },
  });

describe('SSRF guard: address classification', () => {
  const internal = [
    '127.0.0.1',
    '127.255.0.9',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    'fd00::1',
    'fe80::1',
    '0.0.0.0',
    '::',
    '100.64.0.1',
    '224.0.0.1',
    'ff02::1',
    '255.255.255.255',
    '::ffff:10.0.0.1',
    '192.0.2.1',
    '2001:db8::1',
    '::7f00:1',
    '::a9fe:a9fe',
    '::a00:1',
    '::808:808',
  ];
  for (const a of internal) it(`refuses ${a}`, () => expect(isForbiddenAddress(a)).toBe(true));
  for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
    it(`allows ${a}`, () => expect(isForbiddenAddress(a)).toBe(false));
});

forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  const create = (payload: object) => app.request({ method: 'POST', url: '/api/webhooks', payload });

  describe('succeeds', () => {
    it('creates an endpoint whose secret is shown once; reads never show it', async () => {
      await setPrivate(app, true);
      const res = await create({
        url: 'http://127.0.0.1:9/hook',
        events: ['user.*', 'role.create'],
        description: 'CRM sync',
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const hook = res.json();
      expect(hook).toMatchObject({
        id: expect.stringMatching(/^whk_/),
        url: 'http://127.0.0.1:9/hook',
        events: ['user.*', 'role.create'],
        enabled: true,
        retry_schedule_s: null,
        timeout_s: null,
      });
      expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      const read = (await app.request({ method: 'GET', url: `/api/webhooks/${hook.id}` })).json();
      expect(read).not.toHaveProperty('secret');
      expect(
        JSON.stringify((await app.request({ method: 'GET', url: '/api/webhooks' })).json()),
      ).not.toContain(hook.secret);
      const upd = await app.request({
        method: 'PUT',
        url: `/api/webhooks/${hook.id}`,
        payload: { retry_schedule_s: [0, 1, 2], timeout_s: 3, enabled: false },
      });
      expect(upd.json()).toMatchObject({
        retry_schedule_s: [0, 1, 2],
        timeout_s: 3,
        enabled: false,
        description: 'CRM sync',
      });
      const rotated = (
        await app.request({ method: 'POST', url: `/api/webhooks/${hook.id}/rotate-secret` })
      ).json();
      expect(rotated.secret).toMatch(/^whsec_/);
      expect(rotated.secret).not.toBe(hook.secret);
      expect((await app.request({ method: 'DELETE', url: `/api/webhooks/${hook.id}` })).statusCode).toBe(204);
      expectProblem(await app.request({ method: 'GET', url: `/api/webhooks/${hook.id}` }), 404, 'not_found');
    });
  });

  describe('rejects', () => {
    const forms = [
      'https://127.0.0.1/',
      'https://2130706433/',
      'https://0x7f000001/',
      'https://0177.0.0.1/',
      'https://127.1/',
      'https://[::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://[::ffff:7f00:1]/',
      'https://10.0.0.1/',
      'https://172.16.5.4/',
      'https://192.168.0.10/',
      'https://169.254.169.254/latest/meta-data/',
      'https://[fd00::1]/',
      'https://[fe80::1]/',
      'https://0.0.0.0/',
      'https://[::]/',
      'https://100.64.0.1/',
      'https://224.0.0.1/',
      'https://localhost/',
      'https://255.255.255.255/',
    ];
    for (const url of forms) {
      it(`refuses ${url} unless private targets are allowed`, async () => {
        await setPrivate(app, false);
        const before = await counts(app);
        const p = expectProblem(await create({ url, events: ['*'] }), 400, 'validation_failed');
        expect(p.errors?.[0]).toMatchObject({ in: 'body', pointer: '/url' });
        expect((await counts(app)).outbox).toBe(before.outbox);
      });
    }

    it('http without allow_private_targets, credentials in the URL, garbage URLs, unknown event types', async () => {
      await setPrivate(app, false);
      expectProblem(
        await create({ url: 'http://example.com/hook', events: ['*'] }),
        400,
        'validation_failed',
      );
      await setPrivate(app, true);
      expectProblem(
        await create({ url: 'http://u:p@127.0.0.1/hook', events: ['*'] }),
        400,
        'validation_failed',
      );
      expectProblem(await create({ url: 'not a url at all', events: ['*'] }), 400, 'validation_failed');
      expectProblem(await create({ url: 'ftp://127.0.0.1/x', events: ['*'] }), 400, 'validation_failed');
      const p = expectProblem(
        await create({ url: 'http://127.0.0.1/x', events: ['user.created'] }),
        400,
        'validation_failed',
      );
      expect(p.errors?.[0]?.pointer).toBe('/events');
      expectProblem(
        await create({ url: 'http://127.0.0.1/x', events: ['nothing.*'] }),
        400,
        'validation_failed',
      );
      expectProblem(await create({ url: 'http://127.0.0.1/x', events: [] }), 400, 'validation_failed');
      expectProblem(
        await create({ url: 'http://127.0.0.1/x', events: ['*'], secret: 'whsec_x' }),
        400,
        'validation_failed',
      );
    });
  });

  describe('audit', () => {
    it('create, update, rotate and delete: one audit row and one event each, never the secret', async () => {
      await setPrivate(app, true);
      const before = await counts(app);
      const hook = (await create({ url: 'http://127.0.0.1:9/a', events: ['*'] })).json();
      await app.request({ method: 'PUT', url: `/api/webhooks/${hook.id}`, payload: { description: 'x' } });
      const rotated = (
        await app.request({ method: 'POST', url: `/api/webhooks/${hook.id}/rotate-secret` })
      ).json();
      await app.request({ method: 'DELETE', url: `/api/webhooks/${hook.id}` });
      const after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([4, 4]);
      const { db } = app.database;
      const text =
        JSON.stringify(await db.selectFrom('audit_events').selectAll().execute()) +
        JSON.stringify(await db.selectFrom('outbox').selectAll().execute());
      expect(text).not.toContain(hook.secret.slice(6));
      expect(text).not.toContain(rotated.secret.slice(6));
    });
  });
});
