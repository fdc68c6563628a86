import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook as Verifier } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, expectProblem, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

type Call = { body: Record<string, unknown>; headers: Record<string, string>; port: number | undefined };

/**
 * A remote http plugin: answers before-hooks with whatever `answer` says, records every call and the client
 * port it came from. `delayMs` delays the whole answer; with `stallBody`, the headers and the first bytes go
 * at once and the rest after `delayMs`.
 */
async function startHttpPlugin() {
  const calls: Call[] = [];
  let answer: { status?: number; body?: unknown; delayMs?: number; stallBody?: boolean } = {
    body: { allow: true },
  };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      calls.push({
        body: JSON.parse(raw) as Record<string, unknown>,
        headers: req.headers as Record<string, string>,
        port: req.socket.remotePort,
      });
      if (answer.stallBody) {
        const text = JSON.stringify(answer.body ?? {});
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' }).write(text.slice(0, 2));
        setTimeout(() => res.destroyed || res.end(text.slice(2)), answer.delayMs ?? 0);
        return;
      }
      const send = () => {
        if (res.destroyed) return;
        res
          .writeHead(answer.status ?? 200, { 'content-type': 'application/json' })
          .end(JSON.stringify(answer.body ?? {}));
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    calls,
    answer: (a: typeof answer) => (answer = a),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

forEachDialect((database) => {
  let app: TestApp;
  let remote: Awaited<ReturnType<typeof startHttpPlugin>>;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-plugins-'));
  beforeAll(async () => {
    // An operator-installed module plugin, in a folder under PLUGINS_DIR.
    mkdirSync(join(dir, 'no-weekend'));
    writeFileSync(
      join(dir, 'no-weekend', 'index.mjs'),
      `export default {
      name: 'no-weekend', version: '0.1.0', hooks: { before: ['role.assign'] },
      config_schema: { type: 'object', additionalProperties: false, properties: { closed: { type: 'boolean' } } },
      before(input, ctx) { return ctx.config.closed ? { allow: false, reason: 'role changes are closed' } : { allow: true }; },
    };`,
    );
    app = await startTestApp(database().url, { env: { PLUGINS_DIR: dir, DATA_DIR: dir } });
    remote = await startHttpPlugin();
    await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks: { allow_private_targets: true } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
  });
  afterAll(async () => {
    await app?.close();
    await remote?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const register = (payload: object) => app.request({ method: 'POST', url: '/api/plugins', payload });
  const newUser = (extra: Record<string, unknown> = {}) =>
    app.request({ method: 'POST', url: '/api/users', payload: makeUser(extra) });

  describe('succeeds', () => {
    it('registers the shipped username-policy, which vetoes with a reason; nothing changes; the denial is audited', async () => {
      const res = await register({
        kind: 'module',
        name: 'username-policy',
        config: { reserved: ['root', 'support'], min_length: 3 },
      });
      expect(res.statusCode, res.body).toBe(201);
      const plugin = res.json();
      expect(plugin).toMatchObject({
        id: expect.stringMatching(/^plugin_/),
        name: 'username-policy',
        kind: 'module',
        enabled: true,
        config_version: 1,
        manifest: { hooks: { before: ['user.create', 'user.update'] } },
      });
      const before = await counts(app);
      const denied = await app.request({
        method: 'POST',
        url: '/api/users',
        payload: { username: 'Root' },
        headers: { 'x-request-id': 'veto-1' },
      });
      const p = expectProblem(denied, 422, 'plugin.denied');
      expect(p.detail).toBe('username-policy: "root" is a reserved name');
      expect(denied.json()).toMatchObject({ plugin: 'username-policy', reason: '"root" is a reserved name' });
      const after = await counts(app);
      expect([after.users - before.users, after.outbox - before.outbox, after.audit - before.audit]).toEqual([
        0, 0, 1,
      ]);
      const row = await app.database.db
        .selectFrom('audit_events')
        .selectAll()
        .where('request_id', '=', 'veto-1')
        .executeTakeFirstOrThrow();
      expect(row).toMatchObject({ action: 'user.create', outcome: 'denied' });
      expectProblem(
        await app.request({ method: 'POST', url: '/api/users', payload: { username: 'ab' } }),
        422,
        'plugin.denied',
      );
      expect((await newUser()).statusCode).toBe(201);
      expect(
        (await app.request({ method: 'GET', url: `/api/plugins/${plugin.id}` })).json().health,
      ).toMatchObject({ calls: 3, failures: 0 });
    });

    it('a disabled plugin is never called; enabling brings it back', async () => {
      const { data } = (await app.request({ method: 'GET', url: '/api/plugins' })).json();
      const policy = data.find((p: { name: string }) => p.name === 'username-policy');
      expect(
        (await app.request({ method: 'POST', url: `/api/plugins/${policy.id}/disable` })).json().enabled,
      ).toBe(false);
      const calls = (await app.request({ method: 'GET', url: `/api/plugins/${policy.id}` })).json().health
        .calls;
      expect(
        (await app.request({ method: 'POST', url: '/api/users', payload: { username: 'support' } }))
          .statusCode,
      ).toBe(201);
      expect(
        (await app.request({ method: 'GET', url: `/api/plugins/${policy.id}` })).json().health.calls,
      ).toBe(calls);
      await app.request({ method: 'POST', url: `/api/plugins/${policy.id}/enable` });
      expectProblem(
        await app.request({ method: 'POST', url: '/api/users', payload: { username: 'root' } }),
        422,
        'plugin.denied',
      );
      expect((await app.request({ method: 'DELETE', url: `/api/plugins/${policy.id}` })).statusCode).toBe(
        204,
      );
      expect(
        (await app.request({ method: 'POST', url: '/api/users', payload: { username: 'root' } })).statusCode,
      ).toBe(201);
    });

    it('email-domain-allowlist refuses other domains', async () => {
      const res = await register({
        kind: 'module',
        name: 'email-domain-allowlist',
        config: { domains: ['corp.example'] },
      });
      expect(res.statusCode, res.body).toBe(201);
      expectProblem(await newUser({ email: 'x@evil.example' }), 422, 'plugin.denied');
      expect((await newUser({ email: 'x@eu.corp.example' })).statusCode).toBe(201);
      await app.request({ method: 'DELETE', url: `/api/plugins/${res.json().id}` });
    });

    it('a module plugin from PLUGINS_DIR, configured with a new version, vetoes role assignments', async () => {
      const plugin = (await register({ kind: 'module', name: 'no-weekend' })).json();
      const user = (await newUser()).json();
      const put = await app.request({
        method: 'PUT',
        url: `/api/plugins/${plugin.id}/config`,
        payload: { closed: true },
      });
      expect(put.json()).toMatchObject({ config: { closed: true }, config_version: 2 });
      expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/users/${user.id}/roles/role_0000000000e008000000000002`,
        }),
        422,
        'plugin.denied',
      );
      const dry = await app.request({
        method: 'PUT',
        url: `/api/plugins/${plugin.id}/config?dry_run=true`,
        payload: { closed: false },
      });
      expect(dry.json()).toMatchObject({ config: { closed: false }, config_version: 2 });
      expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/users/${user.id}/roles/role_0000000000e008000000000002`,
        }),
        422,
        'plugin.denied',
      );
      await app.request({ method: 'DELETE', url: `/api/plugins/${plugin.id}` });
    });

    it('an http plugin is called signed (Standard Webhooks), may deny, and its writeOnly config is never shown', async () => {
      const res = await register({
        kind: 'http',
        url: remote.url,
        manifest: {
          name: 'remote-policy',
          version: '1.0.0',
          hooks: { before: ['user.create'], after: ['user.*'] },
          timeout_ms: 300,
          failure_policy: 'fail',
          config_schema: {
            type: 'object',
            properties: { api_key: { type: 'string', writeOnly: true }, region: { type: 'string' } },
          },
        },
        config: { api_key: 'sk_live_123', region: 'eu' },
      });
      expect(res.statusCode, res.body).toBe(201);
      const plugin = res.json();
      expect(plugin.secret).toMatch(/^whsec_/);
      expect(plugin.config).toEqual({ region: 'eu' });
      expect(
        JSON.stringify((await app.request({ method: 'GET', url: '/api/plugins' })).json()),
      ).not.toContain('sk_live_123');

      remote.answer({ body: { allow: false, reason: 'not in HR system' } });
      const p = expectProblem(await newUser(), 422, 'plugin.denied');
      expect(p.detail).toBe('remote-policy: not in HR system');
      const call = remote.calls.at(-1)!;
      const verified = new Verifier(plugin.secret).verify(JSON.stringify(call.body), call.headers) as {
        hook: string;
        action: string;
        input: { username: string };
      };
      expect(verified).toMatchObject({
        hook: 'before',
        action: 'user.create',
        input: { username: expect.any(String) },
      });

      // Timeouts follow the failure policy: fail refuses with a 503 naming the plugin.
      remote.answer({ body: { allow: true }, delayMs: 1000 });
      const timedOut = expectProblem(await newUser(), 503, 'unavailable');
      expect(timedOut.detail).toMatch(/remote-policy/);
      remote.answer({ body: { allow: true } });

      // After-hooks: every committed user.* event arrives at least once, in order.
      const u = (await newUser()).json();
      await app.request({ method: 'PUT', url: `/api/users/${u.id}`, payload: { display_name: 'x' } });
      await app.plugins.runAfter();
      const afterCalls = remote.calls
        .filter((c) => c.body.hook === 'after')
        .map((c) => c.body.event as { type: string; data: { id: string } });
      expect(afterCalls.filter((e) => e.data.id === u.id).map((e) => e.type)).toEqual([
        'user.create',
        'user.update',
      ]);
      await app.request({ method: 'DELETE', url: `/api/plugins/${plugin.id}` });
    });

    it('a timed-out plugin with failure_policy ignore lets the change through', async () => {
      const plugin = (
        await register({
          kind: 'http',
          url: remote.url,
          manifest: {
            name: 'lenient',
            version: '1.0.0',
            hooks: { before: ['user.create'] },
            timeout_ms: 100,
            failure_policy: 'ignore',
          },
        })
      ).json();
      remote.answer({ body: { allow: false, reason: 'too late' }, delayMs: 500 });
      expect((await newUser()).statusCode).toBe(201);
      expect(
        (await app.request({ method: 'GET', url: `/api/plugins/${plugin.id}` })).json().health,
      ).toMatchObject({ failures: 1, last_error: expect.stringMatching(/timed? ?out|aborted/i) });
      remote.answer({ body: { allow: true } });
      await app.request({ method: 'DELETE', url: `/api/plugins/${plugin.id}` });
    });

    it('an http plugin is called over a kept-alive connection; any 2xx acknowledges an after-hook event', async () => {
      const plugin = (
        await register({
          kind: 'http',
          url: remote.url,
          manifest: {
            name: 'keep-alive',
            version: '1.0.0',
            hooks: { before: ['user.create'], after: ['user.create'] },
            timeout_ms: 1000,
            failure_policy: 'fail',
          },
        })
      ).json();
      const from = remote.calls.length;
      for (let i = 0; i < 4; i++) expect((await newUser()).statusCode).toBe(201);
      const befores = remote.calls.slice(from).filter((c) => c.body.hook === 'before');
      expect(befores).toHaveLength(4);
      expect(new Set(befores.map((c) => c.port)).size).toBe(1);

      remote.answer({ status: 204 });
      await app.plugins.runAfter();
      const afters = () => remote.calls.slice(from).filter((c) => c.body.hook === 'after').length;
      expect(afters()).toBe(4);
      await app.plugins.runAfter();
      expect(afters()).toBe(4);
      expect(
        (await app.request({ method: 'GET', url: `/api/plugins/${plugin.id}` })).json().health,
      ).toMatchObject({ calls: 8, failures: 0 });
      remote.answer({ body: { allow: true } });
      await app.request({ method: 'DELETE', url: `/api/plugins/${plugin.id}` });
    });

    it('two http plugins at one URL never share a connection', async () => {
      const manifest = (name: string) => ({
        name,
        version: '1.0.0',
        hooks: { before: ['user.create'] },
        timeout_ms: 1000,
        failure_policy: 'fail',
      });
      const a = (await register({ kind: 'http', url: remote.url, manifest: manifest('twin-a') })).json();
      const b = (await register({ kind: 'http', url: remote.url, manifest: manifest('twin-b') })).json();
      const from = remote.calls.length;
      for (let i = 0; i < 3; i++) expect((await newUser()).statusCode).toBe(201);
      const signedBy = (secret: string, c: Call) => {
        try {
          return Boolean(new Verifier(secret).verify(JSON.stringify(c.body), c.headers));
        } catch {
          return false;
        }
      };
      const ports = (secret: string) =>
        new Set(
          remote.calls
            .slice(from)
            .filter((c) => signedBy(secret, c))
            .map((c) => c.port),
        );
      expect([ports(a.secret).size, ports(b.secret).size]).toEqual([1, 1]);
      expect([...ports(a.secret)]).not.toEqual([...ports(b.secret)]);
      for (const p of [a, b]) await app.request({ method: 'DELETE', url: `/api/plugins/${p.id}` });
    });

    it('audit-forwarder appends every audit event, denials and sign-ins included, as NDJSON', async () => {
      const file = join(dir, 'exports', 'audit.ndjson');
      const plugin = (
        await register({ kind: 'module', name: 'audit-forwarder', config: { file: 'audit.ndjson' } })
      ).json();
      await newUser();
      await app.request({ method: 'GET', url: '/api/users', token: null });
      await app.request({
        method: 'POST',
        url: '/api/auth/login',
        payload: { username: 'nobody', password: 'wrong password!' },
        token: null,
      });
      await app.plugins.runAfter();
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; outcome: string });
      expect(lines.map((l) => `${l.type}:${l.outcome}`)).toEqual(
        expect.arrayContaining(['user.create:success', 'user.list:denied', 'auth.login:denied']),
      );
      await app.request({ method: 'DELETE', url: `/api/plugins/${plugin.id}` });
    });
  });

  describe('rejects', () => {
    it('config that breaks the schema: 400 with a pointer per error, nothing saved', async () => {
      const before = await counts(app);
      const p = expectProblem(
        await register({ kind: 'module', name: 'username-policy', config: { min_length: 'three' } }),
        400,
        'validation_failed',
      );
      expect(p.errors?.[0]?.pointer).toBe('/config/min_length');
      expect((await counts(app)).outbox).toBe(before.outbox);
      const ok = (await register({ kind: 'module', name: 'username-policy' })).json();
      const bad = expectProblem(
        await app.request({ method: 'PUT', url: `/api/plugins/${ok.id}/config`, payload: { colour: 'red' } }),
        400,
        'validation_failed',
      );
      expect(bad.errors?.[0]?.pointer).toBe('/colour');
      expectProblem(await register({ kind: 'module', name: 'username-policy' }), 409, 'conflict');
      await app.request({ method: 'DELETE', url: `/api/plugins/${ok.id}` });
    });

    it('an http plugin that answers too much, or too slowly once it has begun, fails: 503 under failure_policy fail, nothing changes', async () => {
      const plugin = (
        await register({
          kind: 'http',
          url: remote.url,
          manifest: {
            name: 'verbose',
            version: '1.0.0',
            hooks: { before: ['user.create'] },
            timeout_ms: 300,
            failure_policy: 'fail',
          },
        })
      ).json();
      const before = await counts(app);
      remote.answer({ body: { allow: true, padding: 'x'.repeat(70_000) } });
      expect(expectProblem(await newUser(), 503, 'unavailable').detail).toMatch(
        /verbose.*larger than 65536 bytes/,
      );
      // The headers arrive in time, the body does not: the timeout bounds the whole call, not each phase.
      remote.answer({ body: { allow: true }, delayMs: 1000, stallBody: true });
      expect(expectProblem(await newUser(), 503, 'unavailable').detail).toMatch(
        /verbose.*timed out after 300 ms/,
      );
      expect((await counts(app)).users).toBe(before.users);
      expect((await counts(app)).outbox).toBe(before.outbox);
      remote.answer({ body: { allow: true } });
      expect((await newUser()).statusCode).toBe(201);
      await app.request({ method: 'DELETE', url: `/api/plugins/${plugin.id}` });
    });

    it('unknown modules, bad manifests, remote $ref, internal URLs', async () => {
      expectProblem(await register({ kind: 'module', name: 'not-installed' }), 422, 'unprocessable');
      expectProblem(
        await register({ kind: 'http', url: remote.url, manifest: { name: 'Bad Name', version: '1.0.0' } }),
        400,
        'validation_failed',
      );
      expectProblem(
        await register({ kind: 'http', url: remote.url, manifest: { name: 'x-ok', version: 'one' } }),
        400,
        'validation_failed',
      );
      expectProblem(
        await register({
          kind: 'http',
          url: remote.url,
          manifest: { name: 'x-ok', version: '1.0.0', timeout_ms: 60_000 },
        }),
        400,
        'validation_failed',
      );
      const ref = expectProblem(
        await register({
          kind: 'http',
          url: remote.url,
          manifest: {
            name: 'remote-ref',
            version: '1.0.0',
            config_schema: { $ref: 'https://example.com/schema.json' },
          },
        }),
        400,
        'validation_failed',
      );
      expect(ref.errors?.[0]?.pointer).toBe('/manifest/config_schema');
      await app.request({
        method: 'PATCH',
        url: '/api/config',
        payload: JSON.stringify({ webhooks: { allow_private_targets: false } }),
        headers: { 'content-type': 'application/merge-patch+json' },
      });
      expectProblem(
        await register({
          kind: 'http',
          url: 'https://169.254.169.254/x',
          manifest: { name: 'metadata', version: '1.0.0' },
        }),
        400,
        'validation_failed',
      );
      await app.request({
        method: 'PATCH',
        url: '/api/config',
        payload: JSON.stringify({ webhooks: { allow_private_targets: true } }),
        headers: { 'content-type': 'application/merge-patch+json' },
      });
    });

    it('a plugin on a private address, once private targets are refused, is refused when connecting: its open connection is not reused', async () => {
      const privateTargets = (allowed: boolean) =>
        app.request({
          method: 'PATCH',
          url: '/api/config',
          payload: JSON.stringify({ webhooks: { allow_private_targets: allowed } }),
          headers: { 'content-type': 'application/merge-patch+json' },
        });
      const plugin = (
        await register({
          kind: 'http',
          url: remote.url,
          manifest: {
            name: 'loopback',
            version: '1.0.0',
            hooks: { before: ['user.create'] },
            timeout_ms: 1000,
            failure_policy: 'fail',
          },
        })
      ).json();
      expect((await newUser()).statusCode).toBe(201);
      const calls = remote.calls.length;
      await privateTargets(false);
      try {
        const before = await counts(app);
        expect(expectProblem(await newUser(), 503, 'unavailable').detail).toMatch(
          /loopback.*127\.0\.0\.1.*internal address/,
        );
        expect(remote.calls.length).toBe(calls);
        expect((await counts(app)).users).toBe(before.users);
      } finally {
        await privateTargets(true);
      }
      expect((await newUser()).statusCode).toBe(201);
      await app.request({ method: 'DELETE', url: `/api/plugins/${plugin.id}` });
    });
  });

  describe('audit', () => {
    it('register, configure, disable, enable and unregister: one audit row and one event each', async () => {
      const before = await counts(app);
      const plugin = (await register({ kind: 'module', name: 'username-policy' })).json();
      await app.request({
        method: 'PUT',
        url: `/api/plugins/${plugin.id}/config`,
        payload: { min_length: 2 },
      });
      await app.request({ method: 'POST', url: `/api/plugins/${plugin.id}/disable` });
      await app.request({ method: 'POST', url: `/api/plugins/${plugin.id}/enable` });
      await app.request({ method: 'DELETE', url: `/api/plugins/${plugin.id}` });
      const after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([5, 5]);
      const actions = (
        await app.database.db
          .selectFrom('audit_events')
          .select('action')
          .where('target_id', '=', plugin.id)
          .orderBy('seq')
          .execute()
      ).map((r) => r.action);
      expect(actions).toEqual([
        'plugin.register',
        'plugin.configure',
        'plugin.disable',
        'plugin.enable',
        'plugin.unregister',
      ]);
    });
  });
});
