import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePrincipal, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

const PASSWORD = 'Tr0ub4dor&3-very-long';

forEachDialect((database) => {
  let app: TestApp;
  const lines: string[] = [];
  const secrets: string[] = [];
  beforeAll(async () => {
    app = await startTestApp(database().url, { logLines: lines });
    secrets.push(app.adminToken);
  });
  afterAll(async () => app?.close());

  describe('rejects', () => {
    it('no token secret, session secret or password in a dump of every table or in the logs', async () => {
      const user = (
        await app.request({
          method: 'POST',
          url: '/api/users',
          payload: { username: 'secretive', password: PASSWORD },
        })
      ).json();
      await app.request({
        method: 'PUT',
        url: `/api/users/${user.id}`,
        payload: { password: `${PASSWORD}2` },
      });
      const session = (
        await app.request({
          method: 'POST',
          url: '/api/auth/login',
          payload: { username: 'secretive', password: `${PASSWORD}2` },
          token: null,
        })
      ).json();
      secrets.push(session.token);
      await app.request({
        method: 'POST',
        url: '/api/auth/login',
        payload: { username: 'secretive', password: PASSWORD },
        token: null,
      });
      const p = await makePrincipal(app, { permissions: ['users:read'] });
      secrets.push(p.token);
      const rotated = (
        await app.request({
          method: 'POST',
          url: `/api/tokens/${p.tokenId}/rotate`,
          payload: { grace_seconds: 60 },
        })
      ).json();
      secrets.push(rotated.secret);
      await app.request({ method: 'GET', url: '/api/me', token: rotated.secret });
      await app.request({ method: 'GET', url: '/api/me', token: `${rotated.secret.slice(0, -1)}x` });
      await app.request({ method: 'POST', url: '/api/auth/logout', token: session.token });

      const { db } = app.database;
      const tables = [
        'users',
        'tokens',
        'sessions',
        'roles',
        'user_roles',
        'audit_events',
        'audit_head',
        'outbox',
      ] as const;
      let dump = '';
      for (const t of tables) dump += JSON.stringify(await db.selectFrom(t).selectAll().execute());
      const logs = lines.join('');
      expect(dump.length).toBeGreaterThan(1000);
      expect(logs.length).toBeGreaterThan(1000);
      for (const needle of [...secrets, ...secrets.map((s) => s.slice(4, 36)), PASSWORD, `${PASSWORD}2`]) {
        expect(dump.includes(needle), `database contains ${needle.slice(0, 8)}…`).toBe(false);
        expect(logs.includes(needle), `logs contain ${needle.slice(0, 8)}…`).toBe(false);
      }
      expect(dump).toMatch(/\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    });
  });
});
