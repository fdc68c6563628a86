import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  counts,
  expectProblem,
  makePrincipal,
  makeUser,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * Issue #16, findings 4, 12 and 13: an endpoint receives only events its creator may read now (checked at
 * fan-out and again when a delivery is sent); subscribing to an exact type needs its read permission; the
 * number of endpoints is capped; test sends are limited per endpoint; IPv4-compatible ::/96 URLs are refused.
 */
forEachDialect((database) => {
  let app: TestApp;
  let rx: Receiver;
  let n = 0;
  beforeAll(async () => {
    app = await startTestApp(database().url);
    rx = await startReceiver();
    await settings({ webhooks: { allow_private_targets: true } });
  });
  afterAll(async () => {
    await app?.close();
    await rx?.close();
  });
  beforeEach(() => {
    rx.received.length = 0;
  });

  async function settings(patch: object) {
    const res = await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify(patch),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(res.statusCode, res.body).toBe(200);
  }
  const create = (payload: object, token?: string) =>
    app.request({ method: 'POST', url: '/api/webhooks', payload, ...(token ? { token } : {}) });
  /** Everything committed so far is fanned out first; the clock moves so what follows is strictly later. */
  async function settle() {
    await app.worker.runOnce();
    app.clock.advance(1);
  }
  /**
   * A principal holding webhooks:read and webhooks:write through a role, with a token of both (a token
   * narrower than its owner may not subscribe to `*`: see "a narrowed token" below).
   */
  const hooksOnly = () => makePrincipal(app, { permissions: ['webhooks:read', 'webhooks:write'] });
  const typesAt = (path: string) => rx.at(path).map((r) => (JSON.parse(r.body) as { type: string }).type);

  describe('succeeds', () => {
    it("a webhooks-only caller's `*` endpoint receives webhook events, never users, config or tokens", async () => {
      const caller = await hooksOnly();
      expectProblem(
        await app.request({ method: 'GET', url: '/api/users', token: caller.token }),
        403,
        'forbidden',
      );
      await settle();
      const path = `/star${n++}`;
      const res = await create({ url: rx.url(path), events: ['*'] }, caller.token);
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().created_by).toBe(caller.userId);
      app.clock.advance(1);

      await app.request({
        method: 'POST',
        url: '/api/users',
        payload: makeUser({ email: 'leak@example.test' }),
      });
      await settings({ passwords: { min_length: 13 } });
      await app.request({
        method: 'POST',
        url: '/api/tokens',
        payload: { name: 'other', scopes: ['users:read'] },
      });
      await app.request({
        method: 'POST',
        url: '/api/roles',
        payload: { name: `leak${n++}`, permissions: ['users:read'] },
      });
      const other = await create({ url: rx.url('/elsewhere'), events: ['role.create'] });
      await app.worker.runOnce();

      const types = typesAt(path);
      expect(types).toContain('webhook.create');
      expect(types.filter((t) => !t.startsWith('webhook.'))).toEqual([]);
      expect(
        rx
          .at(path)
          .map((r) => r.body)
          .join('\n'),
      ).not.toContain('leak@example.test');
      await app.request({ method: 'DELETE', url: `/api/webhooks/${other.json().id}` });
      await app.request({ method: 'DELETE', url: `/api/webhooks/${res.json().id}` });
    });

    it('nothing more once the creator loses the role: pending retries are withheld at delivery, new events never fanned out', async () => {
      const caller = await hooksOnly();
      await settle();
      const path = `/lost${n++}`;
      rx.behave(path, { status: 500 });
      const hook = (
        await create({ url: rx.url(path), events: ['webhook.*'], retry_schedule_s: [0, 0, 0] }, caller.token)
      ).json();
      await app.worker.runOnce(); // its own webhook.create: the receiver fails it, a retry is due at once
      expect(typesAt(path)).toEqual(['webhook.create']);

      const taken = await app.request({
        method: 'DELETE',
        url: `/api/users/${caller.userId}/roles/${caller.roleId}`,
      });
      expect(taken.statusCode, taken.body).toBe(204);
      rx.behave(path, { status: 204 });
      app.clock.advance(1);
      const later = await create({ url: rx.url('/elsewhere'), events: ['role.create'] });
      await app.worker.runOnce();
      await app.worker.runOnce();

      expect(typesAt(path)).toEqual(['webhook.create']); // only the first, failed attempt ever arrived
      const ds = (await app.request({ method: 'GET', url: `/api/webhooks/${hook.id}/deliveries` })).json()
        .data as { event_type: string; status: string; attempts: { error: string | null }[] }[];
      expect(ds).toHaveLength(1); // the later webhook.create was not fanned out to it
      expect(ds[0]).toMatchObject({ event_type: 'webhook.create', status: 'failed' });
      expect(ds[0]!.attempts.at(-1)!.error).toMatch(/withheld/);
      await app.request({ method: 'DELETE', url: `/api/webhooks/${later.json().id}` });
      await app.request({ method: 'DELETE', url: `/api/webhooks/${hook.id}` });
    });

    it('test sends: five a minute per endpoint, then a 429 with Retry-After until the minute has passed', async () => {
      const hook = (await create({ url: rx.url(`/t${n++}`), events: ['user.create'] })).json();
      const test = () => app.request({ method: 'POST', url: `/api/webhooks/${hook.id}/test` });
      for (let i = 0; i < 5; i += 1) expect((await test()).statusCode).toBe(202);
      const before = await counts(app);
      const limited = await test();
      expectProblem(limited, 429, 'rate_limited');
      expect(await counts(app)).toEqual(before);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
      app.clock.advance(60_001);
      expect((await test()).statusCode).toBe(202);
      await app.request({ method: 'DELETE', url: `/api/webhooks/${hook.id}` });
    });
  });

  describe('rejects', () => {
    it("a narrowed token cannot subscribe to `*` beyond its own scopes through its owner's permissions", async () => {
      // The admin's own token, narrowed to webhooks:write: deliveries are filtered by the admin's permissions.
      const narrow = (
        await app.request({
          method: 'POST',
          url: '/api/tokens',
          payload: { name: 'narrow', scopes: ['webhooks:write'] },
        })
      ).json().secret as string;
      const before = await counts(app);
      const p = expectProblem(await create({ url: rx.url('/x'), events: ['*'] }, narrow), 403, 'forbidden');
      expect(p.required_permission).toBe('audit:read');
      const q = expectProblem(
        await create({ url: rx.url('/x'), events: ['user.*'] }, narrow),
        403,
        'forbidden',
      );
      expect(q.required_permission).toBe('users:read');
      expect((await counts(app)).outbox).toBe(before.outbox);
    });

    it('an explicit subscription to a type the caller cannot read: 403 naming the permission, nothing saved', async () => {
      const caller = await hooksOnly();
      const before = await counts(app);
      const p = expectProblem(
        await create({ url: rx.url('/x'), events: ['user.create'] }, caller.token),
        403,
        'forbidden',
      );
      expect(p.required_permission).toBe('users:read');
      expect((await counts(app)).outbox).toBe(before.outbox);
      const own = (await create({ url: rx.url('/x'), events: ['webhook.*'] }, caller.token)).json();
      const upd = expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/webhooks/${own.id}`,
          payload: { events: ['config.update'] },
          token: caller.token,
        }),
        403,
        'forbidden',
      );
      expect(upd.required_permission).toBe('config:read');
      await app.request({ method: 'DELETE', url: `/api/webhooks/${own.id}` });
    });

    it('an IPv4-compatible ::/96 URL (https://[::127.0.0.1]/): 400', async () => {
      await settings({ webhooks: { allow_private_targets: false } });
      try {
        for (const url of [
          'https://[::127.0.0.1]/',
          'https://[::7f00:1]/hook',
          'https://[::ffff:127.0.0.1]/',
        ]) {
          const p = expectProblem(await create({ url, events: ['user.create'] }), 400, 'validation_failed');
          expect(p.errors?.[0]?.pointer).toBe('/url');
        }
      } finally {
        await settings({ webhooks: { allow_private_targets: true } });
      }
    });

    it('more endpoints than webhooks.max_endpoints: 409, nothing saved', async () => {
      const existing = (await app.request({ method: 'GET', url: '/api/webhooks?limit=500' })).json().data
        .length as number;
      await settings({ webhooks: { max_endpoints: existing + 1 } });
      try {
        const last = await create({ url: rx.url('/cap'), events: ['user.create'] });
        expect(last.statusCode, last.body).toBe(201);
        const before = await counts(app);
        expectProblem(
          await create({ url: rx.url('/cap'), events: ['user.create'] }),
          409,
          'webhook.limit_reached',
        );
        expect((await counts(app)).outbox).toBe(before.outbox);
        expect(
          (await app.request({ method: 'GET', url: '/api/webhooks?limit=500' })).json().data,
        ).toHaveLength(existing + 1);
        await app.request({ method: 'DELETE', url: `/api/webhooks/${last.json().id}` });
      } finally {
        await settings({ webhooks: { max_endpoints: 100 } });
      }
    });
  });

  describe('audit', () => {
    it('a refused subscription leaves one denied audit row and no event', async () => {
      const caller = await hooksOnly();
      const before = await counts(app);
      expectProblem(
        await create({ url: rx.url('/x'), events: ['token.create'] }, caller.token),
        403,
        'forbidden',
      );
      const after = await counts(app);
      expect(after).toEqual({ ...before, audit: before.audit + 1 });
      const row = await app.database.db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'actor'])
        .orderBy('seq', 'desc')
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ action: 'webhook.create', outcome: 'denied', actor: caller.userId });
    });
  });
});
