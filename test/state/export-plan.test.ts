import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { systemCtx } from '../../src/lib/request-ctx.js';
import {
  counts,
  expectProblem,
  makePrincipal,
  makeUser,
  rowCount,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

const WEBHOOK_URL = 'http://127.0.0.1:9/state-hook';
const CLIENT_SECRET = 'idp-client-secret-0123456789abcdef';
const PLUGIN_KEY = 'sk_live_state_0123456789';

forEachDialect((database) => {
  let app: TestApp;
  let alice: { id: string; username: string };
  let roleId: string;
  let webhookSecret: string;
  const roleName = `deployers-${process.pid}`;

  const exportDoc = async (query = '', headers: Record<string, string> = {}, token?: string) =>
    app.request({ method: 'GET', url: `/api/export${query}`, headers, ...(token ? { token } : {}) });
  const plan = (payload: unknown, token?: string) =>
    app.request({
      method: 'POST',
      url: '/api/plan',
      payload: payload as object,
      ...(token ? { token } : {}),
    });
  const tableCounts = async () => ({
    ...(await counts(app)),
    roles: await rowCount(app, 'roles'),
    user_roles: await rowCount(app, 'user_roles'),
    webhooks: await rowCount(app, 'webhooks'),
    providers: await rowCount(app, 'auth_providers'),
    config: await rowCount(app, 'config_versions'),
  });

  beforeAll(async () => {
    app = await startTestApp(database().url);
    await app.services.config.patch(
      systemCtx('test'),
      { webhooks: { allow_private_targets: true } },
      undefined,
      false,
    );
    const user = await app.request({
      method: 'POST',
      url: '/api/users',
      payload: makeUser({ email: 'alice@example.com', password: 'correct horse battery staple' }),
    });
    expect(user.statusCode, user.body).toBe(201);
    alice = user.json();
    const role = await app.request({
      method: 'POST',
      url: '/api/roles',
      payload: { name: roleName, description: 'Ships things', permissions: ['webhooks:read', 'users:read'] },
    });
    expect(role.statusCode, role.body).toBe(201);
    roleId = role.json().id;
    const put = await app.request({ method: 'PUT', url: `/api/users/${alice.id}/roles/${roleId}` });
    expect(put.statusCode, put.body).toBe(204);
    const hook = await app.request({
      method: 'POST',
      url: '/api/webhooks',
      payload: { url: WEBHOOK_URL, events: ['user.*'], description: 'state test' },
    });
    expect(hook.statusCode, hook.body).toBe(201);
    webhookSecret = hook.json().secret;
    const idp = await app.request({
      method: 'POST',
      url: '/api/auth/providers',
      payload: {
        name: 'corp-idp',
        issuer: 'http://127.0.0.1:9',
        client_id: 'gatehouse',
        client_secret: CLIENT_SECRET,
        scopes: ['openid', 'email'],
        role_mapping: [{ claim: 'groups', contains: 'ship', role: roleName }],
      },
    });
    expect(idp.statusCode, idp.body).toBe(201);
    const plugin = await app.request({
      method: 'POST',
      url: '/api/plugins',
      payload: {
        kind: 'http',
        url: 'http://127.0.0.1:9/plugin',
        manifest: {
          name: 'remote-policy',
          version: '1.0.0',
          hooks: { after: ['user.*'] },
          timeout_ms: 300,
          failure_policy: 'fail',
          config_schema: {
            type: 'object',
            properties: { api_key: { type: 'string', writeOnly: true }, region: { type: 'string' } },
          },
        },
        config: { api_key: PLUGIN_KEY, region: 'eu' },
      },
    });
    expect(plugin.statusCode, plugin.body).toBe(201);
    await app.services.config.patch(
      systemCtx('test'),
      { rate_limits: { by_role: { [roleId]: { max: 5, window_s: 60 } } } },
      undefined,
      false,
    );
  });
  afterAll(async () => app?.close());

  describe('export', () => {
    it('shows roles, assignments, users, webhooks, settings and providers by name, with no secret', async () => {
      const res = await exportDoc('?include=users');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const doc = res.json();
      expect(doc.version).toBe(1);
      expect(doc.roles).toContainEqual({
        name: roleName,
        description: 'Ships things',
        permissions: ['users:read', 'webhooks:read'],
        builtin: false,
      });
      expect(doc.roles.find((r: { name: string }) => r.name === 'admin')).toMatchObject({ builtin: true });
      expect(doc.assignments).toContainEqual({ user: alice.username, role: roleName });
      expect(doc.users).toContainEqual({
        username: alice.username,
        email: 'alice@example.com',
        display_name: null,
        kind: 'human',
        disabled: false,
      });
      expect(doc.webhooks).toEqual([
        {
          url: WEBHOOK_URL,
          description: 'state test',
          events: ['user.*'],
          enabled: true,
          retry_schedule_s: null,
          timeout_s: null,
        },
      ]);
      expect(doc.providers).toEqual([
        expect.objectContaining({
          name: 'corp-idp',
          client_id: 'gatehouse',
          role_mapping: [{ claim: 'groups', contains: 'ship', role: roleName }],
        }),
      ]);
      expect(doc.settings.webhooks.allow_private_targets).toBe(true);
      expect(doc.plugins).toEqual([
        {
          name: 'remote-policy',
          kind: 'http',
          url: 'http://127.0.0.1:9/plugin',
          enabled: true,
          config: { region: 'eu' },
        },
      ]);
      // Rate limits per role are keyed by the role's name, not its id.
      expect(doc.settings.rate_limits.by_role).toEqual({ [roleName]: { max: 5, window_s: 60 } });
      expect(doc.settings.rate_limits).not.toHaveProperty('by_token');
      expect(doc.streams).toEqual([]);
      // Never an id, never a secret.
      expect(res.body).not.toMatch(/"(user|role|idp|wh|tok)_[0-9a-z]{26}"/);
      for (const secret of [
        webhookSecret,
        CLIENT_SECRET,
        'whsec_',
        'argon2',
        '$argon',
        '"password"',
        '"password_hash"',
        'correct horse',
      ])
        expect(res.body).not.toContain(secret);
      expect(res.body).not.toContain('client_secret');
      // Deterministic: equal states export equal bytes.
      expect((await exportDoc('?include=users')).body).toBe(res.body);
    });

    it('leaves users out unless asked', async () => {
      const doc = (await exportDoc()).json();
      expect(doc).not.toHaveProperty('users');
      expect(doc.assignments).toContainEqual({ user: alice.username, role: roleName });
    });

    it('answers YAML that parses to the same document', async () => {
      const json = (await exportDoc('?include=users')).json();
      const res = await exportDoc('?include=users', { accept: 'application/yaml' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/yaml/);
      expect(parse(res.body)).toEqual(json);
    });

    it('has a JSON Schema that validates the export', async () => {
      const res = await app.request({ method: 'GET', url: '/api/export/schema' });
      expect(res.statusCode, res.body).toBe(200);
      const schema = res.json();
      expect(schema.type).toBe('object');
      const ajv = new Ajv2020({ strict: false });
      const validate = ajv.compile(schema);
      const doc = (await exportDoc('?include=users')).json();
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
      expect(validate({ ...doc, extra: 1 })).toBe(false);
    });

    it('the built-in auditor reads everything but tokens, identity providers included, so it can export', async () => {
      const roles = (await app.request({ method: 'GET', url: '/api/roles?limit=100' })).json().data as {
        id: string;
        name: string;
        permissions: string[];
      }[];
      const auditor = roles.find((r) => r.name === 'auditor')!;
      expect(auditor.permissions).toContain('auth:read');
      expect(auditor.permissions.filter((p) => p.endsWith(':write') || p.startsWith('tokens:'))).toEqual([]);
      const user = await app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
      const userId = user.json().id as string;
      const given = await app.request({ method: 'PUT', url: `/api/users/${userId}/roles/${auditor.id}` });
      expect(given.statusCode, given.body).toBe(204);
      const minted = await app.request({
        method: 'POST',
        url: '/api/tokens',
        payload: { name: 'auditor', scopes: auditor.permissions, user_id: userId },
      });
      expect(minted.statusCode, minted.body).toBe(201);
      const res = await app.request({
        method: 'GET',
        url: '/api/export',
        token: minted.json().secret as string,
      });
      expect(res.statusCode, res.body).toBe(200);
    });

    it('is audited as config.export', async () => {
      await exportDoc();
      const events = (await app.request({ method: 'GET', url: '/api/audit?action=config.export' })).json();
      expect(events.data.length).toBeGreaterThan(0);
    });
  });

  describe('plan', () => {
    it('of the current export is all unchanged, and writes nothing', async () => {
      const doc = (await exportDoc('?include=users')).json();
      const before = await tableCounts();
      const res = await plan({ document: doc });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body.snapshot).toMatch(/^sha256:/);
      expect(body.changes.length).toBeGreaterThan(0);
      expect(body.changes.filter((c: { op: string }) => c.op !== 'unchanged')).toEqual([]);
      expect(body.changes).toContainEqual({ kind: 'role', key: roleName, op: 'unchanged', diff: [] });
      expect(body.changes).toContainEqual({ kind: 'settings', key: 'settings', op: 'unchanged', diff: [] });
      const after = await tableCounts();
      // Only the plan's own audit row.
      expect(after).toEqual({ ...before, audit: before.audit + 1 });
      expect((await plan({ document: doc, prune: true })).json().snapshot).toBe(body.snapshot);
    });

    it('of an old export after changes shows exactly the changed fields; the snapshot moves', async () => {
      const old = (await exportDoc('?include=users')).json();
      const snap = (await plan({ document: old })).json().snapshot;
      const upd = await app.request({
        method: 'PUT',
        url: `/api/roles/${roleId}`,
        payload: { permissions: ['webhooks:read'] },
      });
      expect(upd.statusCode, upd.body).toBe(200);
      await app.services.config.patch(systemCtx('test'), { passwords: { min_length: 20 } }, undefined, false);
      try {
        const res = await plan({ document: old });
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json();
        expect(body.snapshot).not.toBe(snap);
        const changed = body.changes.filter((c: { op: string }) => c.op !== 'unchanged');
        expect(changed).toEqual([
          {
            kind: 'role',
            key: roleName,
            op: 'update',
            diff: [{ op: 'replace', path: '/permissions', value: ['users:read', 'webhooks:read'] }],
          },
          {
            kind: 'settings',
            key: 'settings',
            op: 'update',
            diff: [{ op: 'replace', path: '/passwords/min_length', value: 12 }],
          },
        ]);
      } finally {
        await app.request({
          method: 'PUT',
          url: `/api/roles/${roleId}`,
          payload: { permissions: ['webhooks:read', 'users:read'] },
        });
        await app.services.config.patch(
          systemCtx('test'),
          { passwords: { min_length: 12 } },
          undefined,
          false,
        );
      }
    });

    it('creates what is new; deletes only with prune (never a built-in role)', async () => {
      const doc = (await exportDoc()).json();
      const target = {
        ...doc,
        roles: [
          ...doc.roles.filter((r: { name: string }) => r.name !== roleName),
          { name: 'newcomers', permissions: [] },
        ],
        assignments: [],
        webhooks: [],
      };
      const kept = (await plan({ document: target })).json().changes;
      expect(kept).toContainEqual({
        kind: 'role',
        key: 'newcomers',
        op: 'create',
        diff: [{ op: 'add', path: '', value: { name: 'newcomers', permissions: [] } }],
      });
      expect(kept.filter((c: { op: string }) => c.op === 'delete')).toEqual([]);
      // Without prune a role the document leaves out stays, so the provider's mapping still resolves.
      // The settings' limit for the role goes too, or it would refer to a deleted role.
      const settings = { ...doc.settings, rate_limits: { ...doc.settings.rate_limits, by_role: {} } };
      const pruneTarget = { ...target, providers: [], settings };
      const pruned = await plan({ document: pruneTarget, prune: true });
      expect(pruned.statusCode, pruned.body).toBe(200);
      const deletes = pruned.json().changes.filter((c: { op: string }) => c.op === 'delete');
      expect(deletes).toEqual(
        expect.arrayContaining([
          { kind: 'role', key: roleName, op: 'delete', diff: [{ op: 'remove', path: '' }] },
          {
            kind: 'assignment',
            key: `${alice.username}/${roleName}`,
            op: 'delete',
            diff: [{ op: 'remove', path: '' }],
          },
          { kind: 'webhook', key: WEBHOOK_URL, op: 'delete', diff: [{ op: 'remove', path: '' }] },
          { kind: 'provider', key: 'corp-idp', op: 'delete', diff: [{ op: 'remove', path: '' }] },
        ]),
      );
      expect(deletes.filter((c: { key: string }) => c.key === 'admin' || c.key === 'auditor')).toEqual([]);
    });

    it('refuses references to unknown names: 422 with a pointer per error', async () => {
      const before = await tableCounts();
      const res = await plan({
        document: {
          version: 1,
          assignments: [
            { user: 'nobody-here', role: roleName },
            { user: alice.username, role: 'no-such-role' },
          ],
          providers: [
            {
              name: 'p',
              issuer: 'http://127.0.0.1:9',
              client_id: 'c',
              role_mapping: [{ claim: 'g', equals: 'x', role: 'ghost' }],
            },
          ],
        },
      });
      const problem = expectProblem(res, 422, 'unprocessable');
      expect(problem.errors?.map((e: { pointer: string }) => e.pointer)).toEqual([
        '/document/assignments/0/user',
        '/document/assignments/1/role',
        '/document/providers/0/role_mapping/0/role',
      ]);
      // With prune a role the document drops is no longer there to refer to.
      const doc = (await exportDoc()).json();
      const dropped = {
        ...doc,
        roles: doc.roles.filter((r: { name: string }) => r.name !== roleName),
      };
      const pruned = expectProblem(await plan({ document: dropped, prune: true }), 422, 'unprocessable');
      expect(pruned.errors?.map((e: { pointer: string }) => e.pointer)).toEqual([
        `/document/assignments/${doc.assignments.findIndex((a: { role: string }) => a.role === roleName)}/role`,
        '/document/providers/0/role_mapping/0/role',
        `/document/settings/rate_limits/by_role/${roleName}`,
      ]);
      expect((await plan({ document: dropped })).statusCode).toBe(200);
      // The export's and the plan's own audit rows: refusals write nothing.
      expect(await tableCounts()).toEqual({ ...before, audit: before.audit + 2 });
    });

    it('refuses invalid documents: 400 with a pointer', async () => {
      const before = await tableCounts();
      const cases: [unknown, string][] = [
        [{ document: { version: 2 } }, '/document/version'],
        [
          { document: { version: 1, roles: [{ name: 'x', permissions: [], secret: 'y' }] } },
          '/document/roles/0/secret',
        ],
        [{ document: { version: 1 }, extra: true }, '/extra'],
        [
          { document: { version: 1, users: [{ username: 'a', password_hash: 'x' }] } },
          '/document/users/0/password_hash',
        ],
        [
          {
            document: {
              version: 1,
              roles: [
                { name: 'a', permissions: [] },
                { name: 'a', permissions: [] },
              ],
            },
          },
          '/document/roles/1/name',
        ],
      ];
      for (const [body, pointer] of cases) {
        const problem = expectProblem(await plan(body), 400, 'validation_failed');
        expect(problem.errors?.[0]?.pointer, JSON.stringify(body)).toBe(pointer);
      }
      const tooMany = {
        version: 1,
        users: Array.from({ length: 10_001 }, (_, i) => ({ username: `u${i}` })),
      };
      expectProblem(await plan({ document: tooMany }), 400, 'validation_failed');
      // Hostile shapes: nesting too deep for the parser, and a plugin config nested within it.
      const deep = '['.repeat(10_000) + ']'.repeat(10_000);
      expect(
        (
          await app.request({
            method: 'POST',
            url: '/api/plan',
            headers: { 'content-type': 'application/json' },
            payload: `{"document":{"version":1,"plugins":[{"name":"x","kind":"module","config":{"a":${deep}}}]}}`,
          })
        ).statusCode,
      ).toBe(400);
      const nested = {
        version: 1,
        // A plugin name as POST /api/plugins takes it (2 to 63 characters): the document states that limit.
        plugins: [{ name: 'xx', kind: 'module', config: { a: { b: { c: [1, { d: 2 }] } } } }],
      };
      const ok = await plan({ document: nested });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json().changes).toContainEqual(
        expect.objectContaining({ kind: 'plugin', key: 'xx', op: 'create' }),
      );
      expectProblem(
        await app.request({
          method: 'POST',
          url: '/api/plan',
          headers: { 'content-type': 'application/json' },
          payload: '{"document":' + ' '.repeat(9 * 1024 * 1024) + '{}}',
        }),
        413,
        'payload_too_large',
      );
      // Only the one accepted plan left a row (its audit); refusals nothing.
      expect(await tableCounts()).toEqual({ ...before, audit: before.audit + 1 });
    });

    it('needs config:read and the reads of what it shows: weaker tokens get 403', async () => {
      const weak = await makePrincipal(app, { permissions: ['users:read', 'roles:read'] });
      expectProblem(await exportDoc('', {}, weak.token), 403, 'forbidden');
      expectProblem(
        await app.request({ method: 'GET', url: '/api/export/schema', token: weak.token }),
        403,
        'forbidden',
      );
      expectProblem(await plan({ document: { version: 1 } }, weak.token), 403, 'forbidden');
      const configOnly = await makePrincipal(app, { permissions: ['config:read'] });
      const denied = expectProblem(await exportDoc('?include=users', {}, configOnly.token), 403, 'forbidden');
      expect(denied.required_permission).toBeDefined();
      expectProblem(await plan({ document: { version: 1, users: [] } }, configOnly.token), 403, 'forbidden');
      expect((await plan({ document: { version: 1 } }, configOnly.token)).statusCode).toBe(200);
    });
  });
});
