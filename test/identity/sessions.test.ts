import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDITOR_ROLE, counts, expectProblem, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

const PASSWORD = 'correct horse battery staple';

forEachDialect((database) => {
  let app: TestApp;
  let user: { id: string; username: string };
  beforeAll(async () => {
    app = await startTestApp(database().url);
    const res = await app.request({
      method: 'POST',
      url: '/api/users',
      payload: makeUser({ password: PASSWORD }),
    });
    expect(res.statusCode, res.body).toBe(201);
    user = res.json();
    await app.request({ method: 'PUT', url: `/api/users/${user.id}/roles/${AUDITOR_ROLE}` });
  });
  afterAll(async () => app?.close());

  const login = (payload: object) =>
    app.request({ method: 'POST', url: '/api/auth/login', payload, token: null });

  describe('succeeds', () => {
    it("signs in with a password: a gts_ session token, shown once, with the user's permissions", async () => {
      const res = await login({ username: user.username.toUpperCase(), password: PASSWORD });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const session = res.json();
      expect(session).toMatchObject({
        token: expect.stringMatching(/^gts_[0-9A-Za-z]{38}$/),
        session_id: expect.stringMatching(/^sess_/),
        user: { id: user.id },
      });
      expect(res.json().user).not.toHaveProperty('password');
      const me = (await app.request({ method: 'GET', url: '/api/me', token: session.token })).json();
      expect(me.token).toMatchObject({ id: session.session_id, kind: 'session' });
      expect(me.scopes).toContain('audit:read');
      expect(me.scopes).not.toContain('tokens:read');
      expect((await app.request({ method: 'GET', url: '/api/users', token: session.token })).statusCode).toBe(
        200,
      );
      expectProblem(
        await app.request({ method: 'POST', url: '/api/users', payload: makeUser(), token: session.token }),
        403,
        'forbidden',
      );
    });

    it('signs out: the session stops working at once', async () => {
      const { token } = (await login({ username: user.username, password: PASSWORD })).json();
      expect((await app.request({ method: 'POST', url: '/api/auth/logout', token })).statusCode).toBe(204);
      expectProblem(await app.request({ method: 'GET', url: '/api/me', token }), 401, 'unauthenticated');
    });

    it('a session expires after its lifetime (480 minutes)', async () => {
      const { token } = (await login({ username: user.username, password: PASSWORD })).json();
      app.clock.advance(479 * 60_000);
      expect((await app.request({ method: 'GET', url: '/api/me', token })).statusCode).toBe(200);
      app.clock.advance(2 * 60_000);
      expectProblem(await app.request({ method: 'GET', url: '/api/me', token }), 401, 'unauthenticated');
    });

    it('a password can be changed and removed', async () => {
      const u = (
        await app.request({ method: 'POST', url: '/api/users', payload: makeUser({ password: PASSWORD }) })
      ).json();
      await app.request({ method: 'PUT', url: `/api/users/${u.id}`, payload: { password: `${PASSWORD}!` } });
      expectProblem(
        await login({ username: u.username, password: PASSWORD }),
        401,
        'auth.invalid_credentials',
      );
      expect((await login({ username: u.username, password: `${PASSWORD}!` })).statusCode).toBe(200);
      await app.request({ method: 'PUT', url: `/api/users/${u.id}`, payload: { password: null } });
      expectProblem(
        await login({ username: u.username, password: `${PASSWORD}!` }),
        401,
        'auth.invalid_credentials',
      );
    });
  });

  describe('rejects', () => {
    it('a wrong password, an unknown user, a disabled user and a malformed name all get the same 401', async () => {
      const disabled = (
        await app.request({
          method: 'POST',
          url: '/api/users',
          payload: makeUser({ password: PASSWORD, disabled: true }),
        })
      ).json();
      const answers = [
        await login({ username: user.username, password: 'wrong password!!' }),
        await login({ username: 'nobody-at-all', password: PASSWORD }),
        await login({ username: disabled.username, password: PASSWORD }),
        await login({ username: 'not a name', password: PASSWORD }),
      ];
      for (const res of answers) {
        const p = expectProblem(res, 401, 'auth.invalid_credentials');
        expect(p.detail).toBe('Check the username and password and try again.');
      }
    });

    it('passwords: under 12 characters, over 1,024 (code points, not bytes), or on a service account', async () => {
      expectProblem(
        await app.request({ method: 'POST', url: '/api/users', payload: makeUser({ password: 'short' }) }),
        400,
        'validation_failed',
      );
      const p = expectProblem(
        await app.request({
          method: 'POST',
          url: '/api/users',
          payload: makeUser({ password: '😀'.repeat(1025) }),
        }),
        400,
        'validation_failed',
      );
      expect(p.errors?.[0]?.pointer).toBe('/password');
      expectProblem(
        await app.request({
          method: 'POST',
          url: '/api/users',
          payload: makeUser({ password: PASSWORD, kind: 'service' }),
        }),
        422,
        'unprocessable',
      );
    });

    it('logout needs a session, not an API token', async () => {
      const res = await app.request({ method: 'POST', url: '/api/auth/logout' });
      expect(expectProblem(res, 403, 'forbidden').required_permission).toBe('session');
    });

    it('login validates its body', async () => {
      expectProblem(await login({ username: user.username }), 400, 'validation_failed');
      expectProblem(
        await login({ username: user.username, password: PASSWORD, remember: true }),
        400,
        'validation_failed',
      );
    });
  });

  describe('audit', () => {
    it('a sign-in, a failed sign-in and a sign-out each write one audit row and no event', async () => {
      let before = await counts(app);
      const { token } = (await login({ username: user.username, password: PASSWORD })).json();
      let after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([1, 0]);
      const rows = await app.database.db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'actor'])
        .orderBy('seq', 'desc')
        .limit(1)
        .execute();
      expect(rows[0]).toEqual({ action: 'auth.login', outcome: 'success', actor: user.id });

      before = after;
      await login({ username: user.username, password: 'not the password' });
      after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([1, 0]);
      const failed = await app.database.db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'actor'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirstOrThrow();
      expect(failed).toEqual({ action: 'auth.login', outcome: 'denied', actor: 'anonymous' });

      before = after;
      await app.request({ method: 'POST', url: '/api/auth/logout', token });
      after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([1, 0]);
    });

    it('a password change is audited as user.update with a note, never the password', async () => {
      await app.request({
        method: 'PUT',
        url: `/api/users/${user.id}`,
        payload: { password: `${PASSWORD}?` },
        headers: { 'x-request-id': 'pw-change' },
      });
      const row = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'pw-change')
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ action: 'user.update', outcome: 'success', detail: 'password changed' });
      expect(JSON.stringify(row)).not.toContain(PASSWORD);
    });
  });
});
