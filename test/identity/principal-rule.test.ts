import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_ROLE,
  counts,
  expectProblem,
  makePrincipal,
  makeUser,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { createTestDatabase, forEachDialect } from '../helpers/databases.js';

const PASSWORD = 'correct horse battery staple';

/**
 * Issue 16, findings 1, 2, 6 and 11: the one rule for acting on a principal. A caller changes a user, its
 * roles or its tokens only when it holds every permission that user holds; disabling revokes; a password
 * change ends the other sessions.
 */
forEachDialect((database, dialect) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(database().url);
  });
  afterAll(async () => app?.close());

  /** The request is refused with a 403 naming the rule and `required`; nothing changes but one denied audit row. */
  async function refusedByRule(send: () => ReturnType<TestApp['request']>, required: string) {
    const before = await counts(app);
    const res = await send();
    const p = expectProblem(res, 403, 'forbidden') as { required_permission?: string; rule?: string };
    expect(p.required_permission, res.body).toBe(required);
    expect(p.rule).toBe('act_on_principal');
    const after = await counts(app);
    expect(after.outbox).toBe(before.outbox);
    expect(after.users).toBe(before.users);
    expect(after.audit - before.audit).toBe(1);
  }

  const login = (username: string, password = PASSWORD) =>
    app.request({ method: 'POST', url: '/api/auth/login', token: null, payload: { username, password } });
  /** A human user with a password and one role of `permissions`, signed in: its id, username and session. */
  async function person(permissions: string[]) {
    const p = await makePrincipal(app, { permissions });
    const user = (
      await app.request({ method: 'PUT', url: `/api/users/${p.userId}`, payload: { password: PASSWORD } })
    ).json();
    const session = await login(user.username);
    expect(session.statusCode, session.body).toBe(200);
    return { ...p, username: user.username as string, session: session.json().token as string };
  }
  /** A second admin (not the last), with a token. */
  async function secondAdmin(kind: 'human' | 'service' = 'human') {
    const user = (
      await app.request({ method: 'POST', url: '/api/users', payload: makeUser({ kind }) })
    ).json();
    expect(
      (await app.request({ method: 'PUT', url: `/api/users/${user.id}/roles/${ADMIN_ROLE}` })).statusCode,
    ).toBe(204);
    const token = (
      await app.request({
        method: 'POST',
        url: '/api/tokens',
        payload: { name: 'admin', scopes: ['*'], user_id: user.id },
      })
    ).json();
    return {
      userId: user.id as string,
      username: user.username as string,
      token: token.secret as string,
      tokenId: token.id as string,
    };
  }

  describe('rejects: a users:write token cannot reach an admin (finding 1)', () => {
    let writer: Awaited<ReturnType<typeof makePrincipal>>;
    beforeAll(async () => {
      writer = await makePrincipal(app, { permissions: ['users:read', 'users:write'] });
    });

    it("cannot set the admin's password, so cannot sign in as admin", async () => {
      await app
        .request({
          method: 'PUT',
          url: `/api/users/${app.adminId}`,
          payload: { password: 'an-admin-password-1' },
        })
        .then((r) => expect(r.statusCode).toBe(200));
      await refusedByRule(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/users/${app.adminId}`,
            payload: { password: 'attacker-chosen-password' },
            token: writer.token,
          }),
        '*',
      );
      expectProblem(await login('admin', 'attacker-chosen-password'), 401, 'auth.invalid_credentials');
      expect((await login('admin', 'an-admin-password-1')).statusCode).toBe(200);
    });

    it('cannot turn an admin service account human and give it a password', async () => {
      const svc = await secondAdmin('service');
      await refusedByRule(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/users/${svc.userId}`,
            payload: { kind: 'human', password: 'attacker-chosen-password' },
            token: writer.token,
          }),
        '*',
      );
      expect((await app.request({ method: 'GET', url: `/api/users/${svc.userId}` })).json().kind).toBe(
        'service',
      );
    });

    it('cannot disable, delete or rename an admin who is not the last one', async () => {
      const other = await secondAdmin();
      await refusedByRule(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/users/${other.userId}`,
            payload: { disabled: true },
            token: writer.token,
          }),
        '*',
      );
      await refusedByRule(
        () => app.request({ method: 'DELETE', url: `/api/users/${other.userId}`, token: writer.token }),
        '*',
      );
      await refusedByRule(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/users/${app.adminId}`,
            payload: { username: 'not-admin' },
            token: writer.token,
          }),
        '*',
      );
      expect((await app.request({ method: 'GET', url: '/api/users', token: other.token })).statusCode).toBe(
        200,
      );
    });

    it('cannot change anyone stronger than itself, only by the permissions it lacks', async () => {
      const auditor = await makePrincipal(app, { permissions: ['users:read', 'audit:read'] });
      await refusedByRule(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/users/${auditor.userId}`,
            payload: { display_name: 'x' },
            token: writer.token,
          }),
        'audit:read',
      );
    });

    it("a narrower token of a strong user cannot reach that user's full power through its own account", async () => {
      const strong = await person(['users:read', 'users:write', 'audit:read']);
      const narrow = (
        await app.request({
          method: 'POST',
          url: '/api/tokens',
          payload: { name: 'narrow', scopes: ['users:read', 'users:write'], user_id: strong.userId },
        })
      ).json().secret as string;
      await refusedByRule(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/users/${strong.userId}`,
            payload: { password: 'attacker-chosen-password' },
            token: narrow,
          }),
        'audit:read',
      );
      await refusedByRule(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/users/${strong.userId}`,
            payload: { kind: 'service' },
            token: narrow,
          }),
        'audit:read',
      );
      const before = await counts(app);
      expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/users/${strong.userId}`,
          payload: { password: 'attacker-chosen-password', current_password: 'a wrong guess' },
          token: narrow,
        }),
        403,
        'user.current_password_wrong',
      );
      expect((await counts(app)).outbox).toBe(before.outbox);
      expect((await login(strong.username)).statusCode).toBe(200);
    });

    it("current_password is only for one's own password", async () => {
      const weak = await makePrincipal(app, { permissions: ['users:read'] });
      const p = expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/users/${weak.userId}`,
          payload: { password: 'a-new-password-1', current_password: 'x' },
        }),
        400,
        'validation_failed',
      );
      expect(p.errors?.[0]?.pointer).toBe('/current_password');
    });
  });

  describe('succeeds', () => {
    it('a users:write token changes ordinary users, and a person its own profile with a narrower token', async () => {
      const writer = await makePrincipal(app, { permissions: ['users:read', 'users:write'] });
      const weak = await makePrincipal(app, { permissions: ['users:read'] });
      const res = await app.request({
        method: 'PUT',
        url: `/api/users/${weak.userId}`,
        payload: { display_name: 'Weak', disabled: true },
        token: writer.token,
      });
      expect(res.statusCode, res.body).toBe(200);
      const strong = await person(['users:read', 'users:write', 'audit:read']);
      const narrow = (
        await app.request({
          method: 'POST',
          url: '/api/tokens',
          payload: { name: 'narrow', scopes: ['users:write'], user_id: strong.userId },
        })
      ).json().secret as string;
      const own = await app.request({
        method: 'PUT',
        url: `/api/users/${strong.userId}`,
        payload: { display_name: 'Me' },
        token: narrow,
      });
      expect(own.statusCode, own.body).toBe(200);
    });

    it('a person changes its own password with the current one; its other sessions end, this one stays (finding 6)', async () => {
      const p = await person(['users:read', 'users:write', 'audit:read']);
      const other = (await login(p.username)).json().token as string;
      const narrow = (
        await app.request({
          method: 'POST',
          url: '/api/tokens',
          payload: { name: 'narrow', scopes: ['users:write', 'users:read'], user_id: p.userId },
        })
      ).json().secret as string;
      const res = await app.request({
        method: 'PUT',
        url: `/api/users/${p.userId}`,
        payload: { password: 'my-new-password-1', current_password: PASSWORD },
        token: p.session,
      });
      expect(res.statusCode, res.body).toBe(200);
      expect((await app.request({ method: 'GET', url: '/api/me', token: p.session })).statusCode).toBe(200);
      expectProblem(
        await app.request({ method: 'GET', url: '/api/me', token: other }),
        401,
        'unauthenticated',
      );
      // Tokens are not sessions: they stay.
      expect((await app.request({ method: 'GET', url: '/api/me', token: narrow })).statusCode).toBe(200);
      expect((await login(p.username, 'my-new-password-1')).statusCode).toBe(200);
    });

    it("an admin setting someone's password ends all of that user's sessions (finding 6)", async () => {
      const p = await person(['users:read']);
      expect(
        (
          await app.request({
            method: 'PUT',
            url: `/api/users/${p.userId}`,
            payload: { password: 'reset-by-admin-1' },
          })
        ).statusCode,
      ).toBe(200);
      expectProblem(
        await app.request({ method: 'GET', url: '/api/me', token: p.session }),
        401,
        'unauthenticated',
      );
    });

    it('disabling ends tokens and sessions for good; re-enabling brings neither back (finding 6)', async () => {
      const p = await person(['users:read']);
      expect(
        (await app.request({ method: 'PUT', url: `/api/users/${p.userId}`, payload: { disabled: true } }))
          .statusCode,
      ).toBe(200);
      expect(
        (await app.request({ method: 'PUT', url: `/api/users/${p.userId}`, payload: { disabled: false } }))
          .statusCode,
      ).toBe(200);
      app.clock.advance(1000);
      expectProblem(
        await app.request({ method: 'GET', url: '/api/me', token: p.token }),
        401,
        'unauthenticated',
      );
      expectProblem(
        await app.request({ method: 'GET', url: '/api/me', token: p.session }),
        401,
        'unauthenticated',
      );
      expect((await login(p.username)).statusCode).toBe(200);
    });
  });

  describe("rejects: tokens:write cannot revoke a stronger user's token (finding 2)", () => {
    it("the admin's token is out of reach; one's own and weaker users' are not", async () => {
      const revoker = await makePrincipal(app, { permissions: ['tokens:write'] });
      const adminTokens = (
        await app.request({ method: 'GET', url: `/api/tokens?user_id=${app.adminId}` })
      ).json().data as { id: string }[];
      for (const t of adminTokens)
        await refusedByRule(
          () => app.request({ method: 'DELETE', url: `/api/tokens/${t.id}`, token: revoker.token }),
          '*',
        );
      expect((await app.request({ method: 'GET', url: '/api/users' })).statusCode).toBe(200);
      const stronger = await makePrincipal(app, { permissions: ['tokens:write', 'audit:read'] });
      await refusedByRule(
        () => app.request({ method: 'DELETE', url: `/api/tokens/${stronger.tokenId}`, token: revoker.token }),
        'audit:read',
      );
      const weaker = await makePrincipal(app, { permissions: ['tokens:write'] });
      expect(
        (await app.request({ method: 'DELETE', url: `/api/tokens/${weaker.tokenId}`, token: revoker.token }))
          .statusCode,
      ).toBe(204);
      const own = (
        await app.request({
          method: 'POST',
          url: '/api/tokens',
          payload: { name: 'own', scopes: ['tokens:write'] },
          token: revoker.token,
        })
      ).json();
      expect(
        (await app.request({ method: 'DELETE', url: `/api/tokens/${own.id}`, token: revoker.token }))
          .statusCode,
      ).toBe(204);
    });
  });

  describe('rejects: nobody locks every admin out (finding 2)', () => {
    it('the only admin, without a password, cannot revoke its last token or lose its way in', async () => {
      const own = await createTestDatabase(dialect);
      const fresh = await startTestApp(own.url);
      try {
        const tokenId = (
          await fresh.request({ method: 'GET', url: `/api/tokens?user_id=${fresh.adminId}` })
        ).json().data[0].id as string;
        const p = expectProblem(
          await fresh.request({ method: 'DELETE', url: `/api/tokens/${tokenId}` }),
          409,
          'token.last_admin_credential',
        );
        expect(p.detail).toMatch(/lock everyone out/);
        expect((await fresh.request({ method: 'GET', url: '/api/users' })).statusCode).toBe(200);
        // With a password to sign in with, the token may go; then the password may not.
        expect(
          (
            await fresh.request({
              method: 'PUT',
              url: `/api/users/${fresh.adminId}`,
              payload: { password: PASSWORD },
            })
          ).statusCode,
        ).toBe(200);
        const session = (
          await fresh.request({
            method: 'POST',
            url: '/api/auth/login',
            token: null,
            payload: { username: 'admin', password: PASSWORD },
          })
        ).json().token as string;
        expect(
          (await fresh.request({ method: 'DELETE', url: `/api/tokens/${tokenId}`, token: session }))
            .statusCode,
        ).toBe(204);
        expectProblem(
          await fresh.request({
            method: 'PUT',
            url: `/api/users/${fresh.adminId}`,
            payload: { password: null },
            token: session,
          }),
          409,
          'token.last_admin_credential',
        );
        expect((await fresh.request({ method: 'GET', url: '/api/me', token: session })).statusCode).toBe(200);
      } finally {
        await fresh.close();
        await own.drop();
      }
    });
  });

  describe('rejects: roles:write cannot reach a stronger user (finding 11)', () => {
    it('cannot assign or take a role of the admin or a stronger user, nor delete a role holding permissions it lacks', async () => {
      const manager = await makePrincipal(app, { permissions: ['roles:read', 'roles:write', 'users:read'] });
      const viewer = (
        await app.request({
          method: 'POST',
          url: '/api/roles',
          payload: { name: `viewer-${process.pid}`, permissions: ['users:read'] },
        })
      ).json();
      await refusedByRule(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/users/${app.adminId}/roles/${viewer.id}`,
            token: manager.token,
          }),
        '*',
      );
      const stronger = await makePrincipal(app, { permissions: ['users:read', 'audit:read'] });
      await refusedByRule(
        () =>
          app.request({
            method: 'PUT',
            url: `/api/users/${stronger.userId}/roles/${viewer.id}`,
            token: manager.token,
          }),
        'audit:read',
      );
      await refusedByRule(
        () =>
          app.request({
            method: 'DELETE',
            url: `/api/users/${stronger.userId}/roles/${stronger.roleId!}`,
            token: manager.token,
          }),
        'audit:read',
      );
      const before = await counts(app);
      const p = expectProblem(
        await app.request({ method: 'DELETE', url: `/api/roles/${stronger.roleId!}`, token: manager.token }),
        403,
        'forbidden',
      );
      expect(p.required_permission).toBe('audit:read');
      expect((await counts(app)).outbox).toBe(before.outbox);
      expect((await app.request({ method: 'GET', url: `/api/roles/${stronger.roleId!}` })).statusCode).toBe(
        200,
      );
      // A weaker user is within reach.
      const weak = await makePrincipal(app, { permissions: ['users:read'] });
      expect(
        (
          await app.request({
            method: 'PUT',
            url: `/api/users/${weak.userId}/roles/${viewer.id}`,
            token: manager.token,
          })
        ).statusCode,
      ).toBe(204);
    });
  });

  describe('audit', () => {
    it('a refusal by the rule is one denied row naming the action; disabling notes what it revoked', async () => {
      const writer = await makePrincipal(app, { permissions: ['users:read', 'users:write'] });
      await app.request({
        method: 'PUT',
        url: `/api/users/${app.adminId}`,
        payload: { display_name: 'x' },
        token: writer.token,
        headers: { 'x-request-id': 'rule-denied-1' },
      });
      const denied = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'rule-denied-1')
        .execute();
      expect(denied.map((r) => [r.action, r.outcome, r.target_id])).toEqual([
        ['user.update', 'denied', app.adminId],
      ]);
      const p = await person(['users:read']);
      await app.request({
        method: 'PUT',
        url: `/api/users/${p.userId}`,
        payload: { disabled: true },
        headers: { 'x-request-id': 'rule-disable-1' },
      });
      const row = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'rule-disable-1')
        .executeTakeFirstOrThrow();
      expect(row.detail).toBe('disabled: 1 token(s) revoked, 1 session(s) ended');
    });
  });
});
