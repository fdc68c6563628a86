import { Webhook as Verifier } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { startReceiver, type Receiver } from '../helpers/receiver.js';

type Doc = Record<string, unknown> & {
  roles: { name: string; permissions: string[]; description?: string; builtin?: boolean }[];
  assignments: { user: string; role: string }[];
  users: { username: string; email?: string | null; display_name?: string | null }[];
  webhooks: Record<string, unknown>[];
  streams: Record<string, unknown>[];
  providers: Record<string, unknown>[];
  settings: { rate_limits: { default: { max: number; window_s: number } } } & Record<string, unknown>;
};
type Change = {
  kind: string;
  key: string;
  op: string;
  diff: { op: string; path: string; value?: unknown }[];
};

const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const STREAM_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const CLIENT_SECRET = 'apply-client-secret-0123456789abcdef';

forEachDialect((database) => {
  let app: TestApp;
  let rx: Receiver;
  let run = 0;
  const name = (base: string) => `${base}-${process.pid}-${(run += 1)}`;

  const exportDoc = async (token?: string): Promise<Doc> => {
    const res = await app.request({
      method: 'GET',
      url: '/api/export?include=users',
      ...(token ? { token } : {}),
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const plan = async (document: unknown, prune = false, token?: string) =>
    app.request({
      method: 'POST',
      url: '/api/plan',
      payload: { document, prune },
      ...(token ? { token } : {}),
    });
  const apply = (document: unknown, ifMatch: string | undefined, prune = false, token?: string) =>
    app.request({
      method: 'POST',
      url: '/api/apply',
      payload: { document, prune },
      headers: ifMatch === undefined ? {} : { 'if-match': `"${ifMatch}"` },
      ...(token ? { token } : {}),
    });
  const snapshotOf = async (document: unknown, prune = false) => {
    const res = await plan(document, prune);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ snapshot: string; changes: Change[] }>();
  };
  const tables = async () => ({
    ...(await counts(app)),
    roles: await rowCount(app, 'roles'),
    user_roles: await rowCount(app, 'user_roles'),
    webhooks: await rowCount(app, 'webhooks'),
    streams: await rowCount(app, 'audit_streams'),
    config: await rowCount(app, 'config_versions'),
    providers: await rowCount(app, 'auth_providers'),
  });

  beforeAll(async () => {
    rx = await startReceiver();
    app = await startTestApp(database().url);
    await app.services.config.patch(
      systemCtx('test'),
      { webhooks: { allow_private_targets: true } },
      undefined,
      false,
    );
    const alice = await app.request({
      method: 'POST',
      url: '/api/users',
      payload: makeUser({ username: `alice-${process.pid}` }),
    });
    expect(alice.statusCode, alice.body).toBe(201);
  });
  afterAll(async () => {
    await app?.close();
    await rx?.close();
  });

  describe('succeeds', () => {
    it('applies creates, updates and assignments of every kind at once; a second plan is all unchanged', async () => {
      const doc = await exportDoc();
      const role = name('editors');
      const bob = name('bob');
      const hookUrl = `http://127.0.0.1:9/${name('hook')}`;
      doc.roles.push({ name: role, description: 'Edits', permissions: ['users:read', 'roles:read'] });
      doc.users.push({ username: bob, email: `${bob}@example.com`, display_name: 'Bob' });
      doc.assignments.push({ user: bob, role });
      doc.users[0]!.display_name = 'Changed by apply';
      doc.webhooks.push({
        url: hookUrl,
        events: ['user.*'],
        description: 'from apply',
        secret: WEBHOOK_SECRET,
      });
      doc.streams.push({
        name: name('siem'),
        url: 'http://127.0.0.1:9/siem',
        actions: ['user.*'],
        secret: STREAM_SECRET,
      });
      doc.providers.push({
        name: name('idp'),
        issuer: 'http://127.0.0.1:9',
        client_id: 'gatehouse',
        client_secret: CLIENT_SECRET,
        role_mapping: [{ claim: 'groups', equals: 'eds', role }],
      });
      doc.settings.rate_limits.default.max -= 1;
      (doc.settings.rate_limits as Record<string, unknown>).by_role = { [role]: { max: 7, window_s: 60 } };

      const planned = await snapshotOf(doc);
      const ops = planned.changes.filter((c) => c.op !== 'unchanged');
      expect(ops.map((c) => `${c.op} ${c.kind}`).sort()).toEqual(
        [
          'create assignment',
          'create provider',
          'create role',
          'create stream',
          'create user',
          'create webhook',
          'update settings',
          'update user',
        ].sort(),
      );
      const before = await tables();
      const res = await apply(doc, planned.snapshot);
      expect(res.statusCode, res.body).toBe(200);
      const answer = res.json();
      expect(answer.previous).toBe(planned.snapshot);
      expect(answer.event_id).toMatch(/^evt_/);
      expect(answer.changes).toEqual(planned.changes);

      const after = await tables();
      expect(after.roles - before.roles).toBe(1);
      expect(after.users - before.users).toBe(1);
      expect(after.user_roles - before.user_roles).toBe(1);
      expect(after.webhooks - before.webhooks).toBe(1);
      expect(after.streams - before.streams).toBe(1);
      expect(after.providers - before.providers).toBe(1);
      expect(after.config - before.config).toBe(1);
      // One audit row and one outbox event per change, plus the config.apply that ties them.
      expect(after.audit - before.audit).toBe(ops.length + 1);
      expect(after.outbox - before.outbox).toBe(ops.length + 1);

      const again = await snapshotOf(doc);
      expect(again.changes.filter((c) => c.op !== 'unchanged')).toEqual([]);
      expect(again.snapshot).not.toBe(planned.snapshot);
      // The settings name the new role by name again (its id was drawn during the apply).
      const exported = await exportDoc();
      expect((exported.settings.rate_limits as Record<string, unknown>).by_role).toEqual({
        [role]: { max: 7, window_s: 60 },
      });
    });

    it('deletes with prune, what the document leaves out of a listed kind (never a built-in role)', async () => {
      const extra = name('temp');
      const created = await app.request({
        method: 'POST',
        url: '/api/roles',
        payload: { name: extra, permissions: ['users:read'] },
      });
      expect(created.statusCode).toBe(201);
      const doc = await exportDoc();
      doc.roles = doc.roles.filter((r) => r.name !== extra && r.builtin !== true);
      doc.assignments = doc.assignments.filter((a) => a.role !== extra);
      const planned = await snapshotOf({ version: 1, roles: doc.roles, assignments: doc.assignments }, true);
      expect(planned.changes.filter((c) => c.op === 'delete').map((c) => c.key)).toEqual([extra]);
      const res = await apply(
        { version: 1, roles: doc.roles, assignments: doc.assignments },
        planned.snapshot,
        true,
      );
      expect(res.statusCode, res.body).toBe(200);
      const gone = await app.request({ method: 'GET', url: `/api/roles/${created.json().id}` });
      expect(gone.statusCode).toBe(404);
      const roles = (await exportDoc()).roles.map((r) => r.name);
      expect(roles).toEqual(expect.arrayContaining(['admin', 'auditor']));
    });

    it('with an Idempotency-Key, a retry answers the first apply again and writes nothing', async () => {
      const doc = { version: 1, roles: [{ name: name('idem'), permissions: ['users:read'] }] };
      const planned = await snapshotOf(doc);
      const send = () =>
        app.request({
          method: 'POST',
          url: '/api/apply',
          payload: { document: doc },
          headers: { 'if-match': `"${planned.snapshot}"`, 'idempotency-key': name('key') + 'x' },
        });
      const key = name('key');
      const once = () =>
        app.request({
          method: 'POST',
          url: '/api/apply',
          payload: { document: doc },
          headers: { 'if-match': `"${planned.snapshot}"`, 'idempotency-key': key },
        });
      const first = await once();
      expect(first.statusCode, first.body).toBe(200);
      const before = await tables();
      const again = await once();
      expect(again.statusCode).toBe(200);
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(again.json()).toEqual(first.json());
      expect(await tables()).toEqual(before);
      // Under another key the same request is judged afresh: its plan is stale now.
      expectProblem(await send(), 412, 'precondition_failed');
    });
  });

  describe('rejects', () => {
    it('a stale If-Match: 412 with the current snapshot, nothing written; none at all: 428', async () => {
      const doc = await exportDoc();
      doc.roles.push({ name: name('late'), permissions: ['users:read'] });
      const planned = await snapshotOf(doc);
      const alice = doc.users.find((u) => u.username.startsWith('alice'))!;
      const id = (await app.request({ method: 'GET', url: `/api/users?q=${alice.username}` })).json().data[0]
        .id;
      const moved = await app.request({
        method: 'PUT',
        url: `/api/users/${id}`,
        payload: { display_name: name('moved') },
      });
      expect(moved.statusCode, moved.body).toBe(200);
      const before = await tables();
      const stale = await apply(doc, planned.snapshot);
      expectProblem(stale, 412, 'precondition_failed');
      expect(stale.json().snapshot).toMatch(/^sha256:/);
      expect(stale.json().snapshot).not.toBe(planned.snapshot);
      expectProblem(await apply(doc, undefined), 428, 'precondition_required');
      expect(await tables()).toEqual(before);
    });

    it('a plugin veto of one resource rolls back the whole apply and names the resource', async () => {
      const reg = await app.request({
        method: 'POST',
        url: '/api/plugins',
        payload: { kind: 'module', name: 'username-policy', config: { min_length: 6 } },
      });
      expect(reg.statusCode, reg.body).toBe(201);
      try {
        const doc = await exportDoc();
        const role = name('vetoed');
        const longName = name('longname');
        doc.roles.push({ name: role, permissions: ['users:read'] });
        doc.users.push({ username: longName }, { username: 'abc' });
        doc.assignments.push({ user: longName, role });
        const planned = await snapshotOf(doc);
        const before = await tables();
        const res = await apply(doc, planned.snapshot);
        expectProblem(res, 422, 'plugin.denied');
        expect(res.json().detail).toContain('user abc');
        expect(res.json().resource).toBe('user abc');
        const after = await tables();
        // Nothing changed; one `denied` row records the refused apply.
        expect({ ...after, audit: after.audit - 1 }).toEqual(before);
        const denied = await app.request({
          method: 'GET',
          url: '/api/audit?action=config.apply&outcome=denied&limit=1',
        });
        expect(denied.json().data[0].detail).toContain('user abc');
      } finally {
        const del = await app.request({ method: 'DELETE', url: `/api/plugins/${reg.json().id}` });
        expect(del.statusCode).toBe(204);
      }
    });

    it('a failure inside the transaction after other writes rolls them all back and names the resource', async () => {
      // The caller may write roles and users, but may not grant `admin` (which it does not hold): the role and
      // the user are written first, then the assignment is refused inside the same transaction.
      const weak = await makePrincipal(app, {
        permissions: [
          'config:read',
          'config:write',
          'roles:read',
          'roles:write',
          'users:read',
          'users:write',
          'webhooks:read',
          'plugins:read',
          'auth:read',
          'audit:read',
        ],
      });
      const doc = await exportDoc();
      const role = name('partial');
      const carol = name('carol');
      const partial = {
        version: 1,
        roles: [...doc.roles, { name: role, permissions: ['users:read'] }],
        users: [...doc.users, { username: carol }],
        assignments: [...doc.assignments, { user: carol, role }, { user: carol, role: 'admin' }],
      };
      const planned = await snapshotOf(partial);
      const before = await tables();
      const res = await apply(partial, planned.snapshot, false, weak.token);
      expectProblem(res, 403, 'forbidden');
      expect(res.json().resource).toBe(`assignment ${carol}/admin`);
      const after = await tables();
      expect({ ...after, audit: after.audit - 1 }).toEqual(before);
    });

    it('acts on principals by the one rule: a weaker caller cannot change the admin; nobody disables the last admin', async () => {
      const weak = await makePrincipal(app, {
        permissions: ['config:read', 'config:write', 'users:read', 'users:write'],
      });
      const target = { version: 1, users: [{ username: 'admin', display_name: name('renamed') }] };
      const planned = await snapshotOf(target);
      const before = await tables();
      const refused = await apply(target, planned.snapshot, false, weak.token);
      expectProblem(refused, 403, 'forbidden');
      expect(refused.json().resource).toBe('user admin');
      const last = { version: 1, users: [{ username: 'admin', disabled: true }] };
      const lastPlan = await snapshotOf(last);
      const kept = await apply(last, lastPlan.snapshot);
      expectProblem(kept, 409, 'user.last_admin');
      expect(kept.json().resource).toBe('user admin');
      const after = await tables();
      // Nothing changed; each refused apply is one audit row, and the second plan one more.
      expect({ ...after, audit: after.audit - 3 }).toEqual(before);
    });

    it('a webhook or stream at a loopback address is refused while private targets are not allowed, naming the item', async () => {
      await app.services.config.patch(
        systemCtx('test'),
        { webhooks: { allow_private_targets: false } },
        undefined,
        false,
      );
      try {
        for (const [list, item] of [
          ['webhooks', { url: 'https://[::ffff:127.0.0.1]/hook', events: ['user.*'] }],
          ['streams', { name: name('loop'), url: 'https://127.0.0.2/siem', actions: ['user.*'] }],
        ] as const) {
          const doc = { version: 1, [list]: [item] };
          const planned = await snapshotOf(doc);
          const before = await tables();
          const res = await apply(doc, planned.snapshot);
          expect(res.statusCode, res.body).toBe(400);
          expect(res.json().resource).toMatch(list === 'webhooks' ? /^webhook / : /^stream /);
          const after = await tables();
          expect(after).toEqual(before);
        }
      } finally {
        await app.services.config.patch(
          systemCtx('test'),
          { webhooks: { allow_private_targets: true } },
          undefined,
          false,
        );
      }
    });

    it('needs the write permission of each kind it changes', async () => {
      const reader = await makePrincipal(app, {
        permissions: [
          'config:read',
          'config:write',
          'roles:read',
          'users:read',
          'webhooks:read',
          'plugins:read',
          'auth:read',
          'audit:read',
        ],
      });
      const doc = await exportDoc();
      doc.users.push({ username: name('dave') });
      const planned = await snapshotOf(doc);
      const res = await apply(doc, planned.snapshot, false, reader.token);
      expectProblem(res, 403, 'forbidden');
      expect(res.json().required_permission).toBe('users:write');
    });

    it('items held to their own API: a bad username or role name is a 400 with a pointer', async () => {
      // The role name's pattern is in the document's schema (its API's own); the stored form of a username is
      // checked by the plan.
      const cases: [unknown, string][] = [
        [{ version: 1, users: [{ username: 'Bad Name' }] }, '/document/users/0/username'],
        [{ version: 1, roles: [{ name: 'No Caps', permissions: [] }] }, '/document/roles/0/name'],
      ];
      for (const [document, pointer] of cases) {
        const res = await plan(document);
        expectProblem(res, 400, 'validation_failed');
        expect(res.json().errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
      }
    });
  });

  describe('audit', () => {
    it('each change is its own event with before and after; config.apply names them; no secret anywhere', async () => {
      const doc = await exportDoc();
      const bob = doc.users[doc.users.length - 1]!;
      bob.display_name = name('audited');
      const hookUrl = rx.url(`/${name('secret-hook')}`);
      doc.webhooks.push({ url: hookUrl, events: ['role.*'], secret: WEBHOOK_SECRET });
      const planned = await snapshotOf(doc);
      expect(JSON.stringify(planned)).not.toContain(WEBHOOK_SECRET);
      const res = await apply(doc, planned.snapshot);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.body).not.toContain(WEBHOOK_SECRET);
      const tie = await app.request({ method: 'GET', url: `/api/audit/${res.json().event_id}` });
      expect(tie.statusCode).toBe(200);
      const events: string[] = tie.json().changes.after.events;
      expect(events).toHaveLength(2);
      const rows = await Promise.all(
        events.map((id) => app.request({ method: 'GET', url: `/api/audit/${id}` })),
      );
      const byAction = Object.fromEntries(rows.map((r) => [r.json().action, r.json()]));
      expect(byAction['user.update'].changes.before.display_name).not.toBe(bob.display_name);
      expect(byAction['user.update'].changes.after.display_name).toBe(bob.display_name);
      expect(byAction['webhook.create'].changes.before).toBeNull();
      expect(byAction['webhook.create'].detail).toContain(res.json().event_id);
      const exported = await app.request({
        method: 'GET',
        url: '/api/audit/export?action=webhook.create,config.apply',
      });
      expect(exported.body).not.toContain(WEBHOOK_SECRET);
      expect(exported.body).not.toContain(CLIENT_SECRET);
      expect(exported.body).not.toContain(STREAM_SECRET);
      // The secret given is the one the endpoint signs with.
      const hooks = (await app.request({ method: 'GET', url: '/api/webhooks?limit=500' })).json().data;
      const hook = hooks.find((h: { url: string }) => h.url === hookUrl);
      const sent = await app.request({ method: 'POST', url: `/api/webhooks/${hook.id}/test` });
      expect(sent.statusCode, sent.body).toBeLessThan(300);
      await app.worker.runOnce();
      const [got] = rx.at(new URL(hookUrl).pathname);
      expect(got, 'the test delivery arrived').toBeDefined();
      expect(() =>
        new Verifier(WEBHOOK_SECRET).verify(got!.body, got!.headers as Record<string, string>),
      ).not.toThrow();
    });
  });
});
