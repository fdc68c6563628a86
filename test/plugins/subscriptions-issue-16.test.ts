import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { startReceiver, type Receiver } from '../helpers/receiver.js';

/**
 * Issue #16, findings 4 and 5: a plugin's after-hooks receive only what its creator may read now, and the audit
 * feed (`audit_stream`, the audit-forwarder) needs audit:read; the forwarder writes only under
 * `<DATA_DIR>/exports` and its syslog host passes the SSRF guard.
 */
forEachDialect((database) => {
  let app: TestApp;
  let rx: Receiver;
  let n = 0;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-subs-'));
  beforeAll(async () => {
    app = await startTestApp(database().url, { env: { DATA_DIR: dir } });
    rx = await startReceiver();
    await privateTargets(true);
  });
  afterAll(async () => {
    await app?.close();
    await rx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function privateTargets(allow: boolean) {
    const res = await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks: { allow_private_targets: allow } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(res.statusCode, res.body).toBe(200);
  }
  const register = (payload: object, token?: string) =>
    app.request({ method: 'POST', url: '/api/plugins', payload, ...(token ? { token } : {}) });
  const pluginsOnly = (extra: string[] = []) =>
    makePrincipal(app, { permissions: ['plugins:read', 'plugins:write', ...extra] });
  const httpPlugin = (path: string, extra: object = {}) => ({
    kind: 'http',
    url: rx.url(path),
    manifest: { name: `sub${n++}`, version: '1.0.0', hooks: { after: ['*'] }, ...extra },
  });
  const typesAt = (path: string) =>
    rx.at(path).map((r) => (JSON.parse(r.body) as { event: { type: string } }).event.type);

  describe('succeeds', () => {
    it("an http plugin's after-hooks get only what its creator may read; nothing once the creator is disabled, and its health says why", async () => {
      const caller = await pluginsOnly(['roles:read']);
      const path = `/after${n++}`;
      const res = await register(httpPlugin(path), caller.token);
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().created_by).toBe(caller.userId);
      await app.request({
        method: 'POST',
        url: '/api/users',
        payload: makeUser({ email: 'leak@example.test' }),
      });
      await app.request({
        method: 'POST',
        url: '/api/roles',
        payload: { name: `seen${n++}`, permissions: ['users:read'] },
      });
      await app.plugins.runAfter();
      expect(typesAt(path)).toEqual(['plugin.register', 'role.create']); // its own registration: plugins:read

      const off = await app.request({
        method: 'PUT',
        url: `/api/users/${caller.userId}`,
        payload: { disabled: true },
      });
      expect(off.statusCode, off.body).toBe(200);
      await app.request({
        method: 'POST',
        url: '/api/roles',
        payload: { name: `unseen${n++}`, permissions: ['users:read'] },
      });
      await app.plugins.runAfter();
      expect(typesAt(path)).toEqual(['plugin.register', 'role.create']);
      const plugin = (await app.request({ method: 'GET', url: `/api/plugins/${res.json().id}` })).json();
      expect(plugin.health.last_error).toMatch(/disabled or deleted/);
      await app.request({ method: 'DELETE', url: `/api/plugins/${plugin.id}` });
    });

    it('audit-forwarder, set up by a caller with audit:read, appends to a file name under DATA_DIR/exports', async () => {
      const caller = await pluginsOnly(['audit:read']);
      const res = await register(
        { kind: 'module', name: 'audit-forwarder', config: { file: 'siem.ndjson' } },
        caller.token,
      );
      expect(res.statusCode, res.body).toBe(201);
      await app.request({ method: 'GET', url: '/api/users', token: null });
      await app.plugins.runAfter();
      const lines = readFileSync(join(dir, 'exports', 'siem.ndjson'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; outcome: string });
      expect(lines.map((l) => `${l.type}:${l.outcome}`)).toContain('user.list:denied');
      await app.request({ method: 'DELETE', url: `/api/plugins/${res.json().id}` });
    });
  });

  describe('rejects', () => {
    it("a before-hook on an action whose resource the caller cannot read: 403 (it would receive each change's input)", async () => {
      const caller = await pluginsOnly();
      const before = await counts(app);
      const p = expectProblem(
        await register(httpPlugin('/before', { hooks: { before: ['user.create'] } }), caller.token),
        403,
        'forbidden',
      );
      expect(p.required_permission).toBe('users:read');
      expect((await counts(app)).outbox).toBe(before.outbox);
    });

    it('an audit feed without audit:read: registering an audit_stream http plugin or the audit-forwarder, enabling or configuring it: 403', async () => {
      const caller = await pluginsOnly();
      const before = await counts(app);
      const http = expectProblem(
        await register(httpPlugin('/stream', { audit_stream: true }), caller.token),
        403,
        'forbidden',
      );
      expect(http.required_permission).toBe('audit:read');
      const fwd = expectProblem(
        await register(
          { kind: 'module', name: 'audit-forwarder', config: { file: 'a.ndjson' } },
          caller.token,
        ),
        403,
        'forbidden',
      );
      expect(fwd.required_permission).toBe('audit:read');
      expect((await counts(app)).outbox).toBe(before.outbox);

      const parked = (
        await register({
          kind: 'module',
          name: 'audit-forwarder',
          enabled: false,
          config: { file: 'a.ndjson' },
        })
      ).json();
      const enable = expectProblem(
        await app.request({ method: 'POST', url: `/api/plugins/${parked.id}/enable`, token: caller.token }),
        403,
        'forbidden',
      );
      expect(enable.required_permission).toBe('audit:read');
      const configure = expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/plugins/${parked.id}/config`,
          payload: { file: 'mine.ndjson' },
          token: caller.token,
        }),
        403,
        'forbidden',
      );
      expect(configure.required_permission).toBe('audit:read');
      const after = (await app.request({ method: 'GET', url: `/api/plugins/${parked.id}` })).json();
      expect(after).toMatchObject({ enabled: false, config: { file: 'a.ndjson' }, config_version: 1 });
      await app.request({ method: 'DELETE', url: `/api/plugins/${parked.id}` });
    });

    it('an explicit after-hook on a type the caller cannot read: 403', async () => {
      const caller = await pluginsOnly();
      const p = expectProblem(
        await register(httpPlugin('/x', { hooks: { after: ['token.create'] } }), caller.token),
        403,
        'forbidden',
      );
      expect(p.required_permission).toBe('tokens:read');
    });

    it('audit-forwarder files outside DATA_DIR/exports: absolute paths, .. and folders are 400', async () => {
      const before = await counts(app);
      for (const file of [
        '/tmp/gatehouse-audit.log',
        '../audit.log',
        '../../etc/cron.d/x.log',
        'sub/audit.log',
        '.hidden.log',
        'a..log',
      ]) {
        const p = expectProblem(
          await register({ kind: 'module', name: 'audit-forwarder', config: { file } }),
          400,
          'validation_failed',
        );
        expect(p.errors?.[0]?.pointer, file).toBe('/config/file');
      }
      expect((await counts(app)).outbox).toBe(before.outbox);
    });

    it("a symlink in place of the export file is not followed: nothing written outside, the failure in the plugin's health", async () => {
      mkdirSync(join(dir, 'exports'), { recursive: true });
      const outside = join(dir, 'outside.ndjson');
      symlinkSync(outside, join(dir, 'exports', 'link.ndjson'));
      const plugin = (
        await register({ kind: 'module', name: 'audit-forwarder', config: { file: 'link.ndjson' } })
      ).json();
      await app.request({ method: 'GET', url: '/api/users', token: null });
      await app.plugins.runAfter();
      expect(existsSync(outside)).toBe(false);
      const health = (await app.request({ method: 'GET', url: `/api/plugins/${plugin.id}` })).json().health;
      expect(health.failures).toBeGreaterThan(0);
      expect(health.last_error).toMatch(/ELOOP|symbolic link/);
      await app.request({ method: 'DELETE', url: `/api/plugins/${plugin.id}` });
    });

    it('a syslog host on loopback, by address or by name, while private targets are off: 400 on register and on configure', async () => {
      await privateTargets(false);
      try {
        for (const host of ['127.0.0.1', '::ffff:127.0.0.1', '[::1]', '::127.0.0.1', 'localhost']) {
          const p = expectProblem(
            await register({
              kind: 'module',
              name: 'audit-forwarder',
              config: { syslog: { host, port: 5514 } },
            }),
            400,
            'validation_failed',
          );
          expect(p.errors?.[0]?.pointer, host).toBe('/config/syslog/host');
        }
        const ok = (
          await register({ kind: 'module', name: 'audit-forwarder', config: { file: 'x.ndjson' } })
        ).json();
        const p = expectProblem(
          await app.request({
            method: 'PUT',
            url: `/api/plugins/${ok.id}/config`,
            payload: { syslog: { host: '127.0.0.1' } },
          }),
          400,
          'validation_failed',
        );
        expect(p.errors?.[0]?.pointer).toBe('/syslog/host');
        await app.request({ method: 'DELETE', url: `/api/plugins/${ok.id}` });
      } finally {
        await privateTargets(true);
      }
      // Allowed again: a loopback syslog host is accepted.
      const allowed = await register({
        kind: 'module',
        name: 'audit-forwarder',
        config: { syslog: { host: '127.0.0.1', port: 5514 } },
      });
      expect(allowed.statusCode, allowed.body).toBe(201);
      await app.request({ method: 'DELETE', url: `/api/plugins/${allowed.json().id}` });
    });
  });

  describe('audit', () => {
    it('a refused audit feed leaves one denied audit row and no event', async () => {
      const caller = await pluginsOnly();
      const before = await counts(app);
      expectProblem(
        await register(
          { kind: 'module', name: 'audit-forwarder', config: { file: 'b.ndjson' } },
          caller.token,
        ),
        403,
        'forbidden',
      );
      expect(await counts(app)).toEqual({ ...before, audit: before.audit + 1 });
      const row = await app.database.db
        .selectFrom('audit_events')
        .select(['action', 'outcome', 'actor'])
        .orderBy('seq', 'desc')
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ action: 'plugin.register', outcome: 'denied', actor: caller.userId });
    });
  });
});
