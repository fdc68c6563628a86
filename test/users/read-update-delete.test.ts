import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  counts,
  expectProblem,
  makePrincipal,
  makeUser,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

forEachDialect((database) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  const create = async (body = makeUser()) =>
    (await app.request({ method: 'POST', url: '/api/users', payload: body })).json();
  const missing = 'user_01jd8y6v7kf3zr4x6qk9n2m1ab';

  describe('succeeds', () => {
    it('GET returns the user', async () => {
      const user = await create();
      const res = await app.request({ method: 'GET', url: `/api/users/${user.id}` });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(user);
      expect(res.headers['gatehouse-token-expires-at']).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    });

    it('PUT changes only the fields present and bumps updated_at', async () => {
      const user = await create(makeUser({ email: 'keep@example.com', display_name: 'Keep' }));
      app.clock.advance(1000);
      const res = await app.request({
        method: 'PUT',
        url: `/api/users/${user.id}`,
        payload: { disabled: true },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ ...user, disabled: true, updated_at: expect.any(String) });
      expect(Date.parse(res.json().updated_at)).toBeGreaterThan(Date.parse(user.updated_at));
    });

    it('PUT with null clears an optional field; a new username is normalised', async () => {
      const user = await create(makeUser({ email: 'x@example.com' }));
      const res = await app.request({
        method: 'PUT',
        url: `/api/users/${user.id}`,
        payload: { email: null, username: `Renamed.${user.username}` },
      });
      expect(res.json()).toMatchObject({ email: null, username: `renamed.${user.username}` });
    });

    it('DELETE answers 204 (also with a JSON content type and no body); the user is gone', async () => {
      const user = await create();
      const res = await app.request({
        method: 'DELETE',
        url: `/api/users/${user.id}`,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      expectProblem(await app.request({ method: 'GET', url: `/api/users/${user.id}` }), 404, 'not_found');
    });

    it('a trailing slash reaches the same route', async () => {
      expect((await app.request({ method: 'GET', url: '/api/users/' })).statusCode).toBe(200);
    });
  });

  describe('rejects', () => {
    it('404 for an unknown id, a malformed id, and an id of another type, without changes', async () => {
      const before = await counts(app);
      for (const id of [
        missing,
        'nope',
        'role_01jd8y6v7kf3zr4x6qk9n2m1ab',
        'user_%00',
        encodeURIComponent('user_<script>'),
      ]) {
        expectProblem(await app.request({ method: 'GET', url: `/api/users/${id}` }), 404, 'not_found');
        expectProblem(
          await app.request({ method: 'PUT', url: `/api/users/${id}`, payload: { disabled: true } }),
          404,
          'not_found',
        );
        expectProblem(await app.request({ method: 'DELETE', url: `/api/users/${id}` }), 404, 'not_found');
      }
      expect((await counts(app)).users).toBe(before.users);
      expect((await counts(app)).outbox).toBe(before.outbox);
    });

    it('PUT: 409 renaming onto a taken username, 400 for an empty body or unknown field; nothing changes', async () => {
      const a = await create();
      const b = await create();
      const before = await counts(app);
      expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/users/${b.id}`,
          payload: { username: a.username.toUpperCase() },
        }),
        409,
        'user.username_taken',
      );
      expectProblem(
        await app.request({ method: 'PUT', url: `/api/users/${b.id}`, payload: {} }),
        400,
        'validation_failed',
      );
      expectProblem(
        await app.request({ method: 'PUT', url: `/api/users/${b.id}`, payload: { id: 'user_x' } }),
        400,
        'validation_failed',
      );
      expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/users/${b.id}`,
          payload: { created_at: '2020-01-01T00:00:00.000Z' },
        }),
        400,
        'validation_failed',
      );
      expect((await app.request({ method: 'GET', url: `/api/users/${b.id}` })).json()).toEqual(b);
      expect((await counts(app)).outbox).toBe(before.outbox);
    });

    it('an unknown path outside /api is a 404 problem too', async () => {
      expectProblem(await app.app.inject({ url: '/nothing-here' }), 404, 'not_found');
    });

    it('an unknown /api path is a 404 problem, and needs a token first', async () => {
      expectProblem(await app.request({ method: 'GET', url: '/api/nothing-here' }), 404, 'not_found');
      expectProblem(
        await app.request({ method: 'GET', url: '/api/nothing-here', token: null }),
        401,
        'unauthenticated',
      );
    });

    it("a disabled owner's token stops working at once, and re-enabling does not bring it back (issue 16, finding 6)", async () => {
      const owner = await makePrincipal(app, { permissions: ['users:read'] });
      expect((await app.request({ method: 'GET', url: '/api/users', token: owner.token })).statusCode).toBe(
        200,
      );
      const res = await app.request({
        method: 'PUT',
        url: `/api/users/${owner.userId}`,
        payload: { disabled: true },
      });
      expect(res.statusCode).toBe(200);
      expectProblem(
        await app.request({ method: 'GET', url: '/api/users', token: owner.token }),
        401,
        'unauthenticated',
      );
      expect(
        (await app.request({ method: 'GET', url: `/api/tokens/${owner.tokenId}` })).json().revoked_at,
      ).not.toBeNull();
      // Re-enabled, through the API or behind its back (as another instance would): the token stays revoked.
      expect(
        (
          await app.request({
            method: 'PUT',
            url: `/api/users/${owner.userId}`,
            payload: { disabled: false },
          })
        ).statusCode,
      ).toBe(200);
      await app.database.db
        .updateTable('users')
        .set({ disabled: false })
        .where('id', '=', owner.userId)
        .execute();
      app.clock.advance(1000);
      expectProblem(
        await app.request({ method: 'GET', url: '/api/users', token: owner.token }),
        401,
        'unauthenticated',
      );
    });
  });

  describe('audit', () => {
    it('update and delete each write one audit row with before/after and one event', async () => {
      const user = await create();
      let before = await counts(app);
      await app.request({
        method: 'PUT',
        url: `/api/users/${user.id}`,
        payload: { display_name: 'Changed' },
        headers: { 'x-request-id': 'upd-1' },
      });
      let after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([1, 1]);
      const { db } = app.database;
      const upd = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'upd-1')
        .executeTakeFirstOrThrow();
      const changes = typeof upd.changes === 'string' ? JSON.parse(upd.changes) : upd.changes;
      expect(upd.action).toBe('user.update');
      expect(changes.before.display_name).toBeNull();
      expect(changes.after.display_name).toBe('Changed');

      before = after;
      await app.request({
        method: 'DELETE',
        url: `/api/users/${user.id}`,
        headers: { 'x-request-id': 'del-1' },
      });
      after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([1, 1]);
      const del = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'del-1')
        .executeTakeFirstOrThrow();
      const event = await db
        .selectFrom('outbox')
        .selectAll()
        .where('id', '=', del.id)
        .executeTakeFirstOrThrow();
      expect(event.type).toBe('user.delete');
      expect((typeof event.data === 'string' ? JSON.parse(event.data) : event.data).id).toBe(user.id);
    });

    it('an update of a missing user leaves one error row and no event', async () => {
      const before = await counts(app);
      await app.request({ method: 'PUT', url: `/api/users/${missing}`, payload: { disabled: true } });
      const after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([1, 0]);
    });
  });
});
