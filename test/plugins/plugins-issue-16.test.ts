import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { counts, expectProblem, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

/**
 * Issue #16, findings 3 and 15. A caller's regular expression (a plugin `config_schema` pattern, the
 * username policy's `pattern`) ran in V8's backtracking engine: `^(a+)+$` against 31 characters froze the
 * process. Module plugins' hooks ran on the main thread, so one that spins blocked every request past its
 * timeout. An unknown module plugin's 422 showed the absolute PLUGINS_DIR, and any installed package (`pino`)
 * was imported as a plugin. On the code before the fix the pattern and spin cases never finish (the event
 * loop is blocked, so no test timeout can fire); the others fail their assertions.
 */

const CATASTROPHIC = '^(a+)+$';
const EVIL_INPUT = `${'a'.repeat(9_999)}!`;

/** A plugin whose before-hook spins forever for usernames starting `spin`, after touching `config.marker`. */
const spinner = (name: string, policy: 'fail' | 'ignore') => `import { writeFileSync } from 'node:fs';
export default {
  name: '${name}', version: '1.0.0', hooks: { before: ['user.create'] }, timeout_ms: 2000, failure_policy: '${policy}',
  config_schema: { type: 'object', properties: { marker: { type: 'string' } } },
  before({ input }, { config, log }) {
    log.info('checking', { username: input.username });
    if (String(input.username).startsWith('spin')) { writeFileSync(config.marker, 'x'); while (true) {} }
    return { allow: true };
  },
};`;

/** A plugin package: `declared` lists the gatehouse-plugin keyword, the other one does not. */
function writePackage(dir: string, name: string, declared: boolean) {
  const root = join(dir, 'node_modules', name);
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({
      name,
      version: '1.0.0',
      type: 'module',
      exports: './main.js',
      ...(declared ? { keywords: ['gatehouse', 'gatehouse-plugin'] } : {}),
    }),
  );
  writeFileSync(
    join(root, 'main.js'),
    `export default { name: '${name}', version: '1.0.0', hooks: { before: ['user.create'] }, timeout_ms: 2000,
    before({ input }) { return input.username.startsWith('blocked') ? { allow: false, reason: 'blocked by ${name}' } : { allow: true }; } };`,
  );
}

forEachDialect((database) => {
  let app: TestApp;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-plugins-16-'));
  beforeAll(async () => {
    for (const [name, policy] of [
      ['spinner', 'fail'],
      ['spinner-lenient', 'ignore'],
    ] as const) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'index.mjs'), spinner(name, policy));
    }
    mkdirSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'broken', 'index.mjs'), 'export default {{{');
    writePackage(dir, 'declared-pkg', true);
    writePackage(dir, 'undeclared-pkg', false);
    app = await startTestApp(database().url, { env: { PLUGINS_DIR: dir } });
    await app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ webhooks: { allow_private_targets: true } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
  });
  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const register = (payload: object) => app.request({ method: 'POST', url: '/api/plugins', payload });
  const healthz = () => app.request({ method: 'GET', url: '/healthz', token: null });
  const remove = (id: string) => app.request({ method: 'DELETE', url: `/api/plugins/${id}` });
  const schemaPlugin = (name: string, config_schema: object) =>
    register({
      kind: 'http',
      url: 'http://127.0.0.1:9/hook',
      manifest: { name, version: '1.0.0', config_schema },
    });

  /** Starts a user creation that reaches a spinning hook, waits until the hook spins, and shows /healthz answers meanwhile. */
  async function createWhileSpinning(plugin: string) {
    const marker = join(dir, `${plugin}.${Date.now()}.spinning`);
    const registered = await register({ kind: 'module', name: plugin, config: { marker } });
    expect(registered.statusCode, registered.body).toBe(201);
    let settled = false;
    const create = app
      .request({ method: 'POST', url: '/api/users', payload: makeUser({ username: `spin${Date.now()}` }) })
      .finally(() => (settled = true));
    while (!existsSync(marker)) await sleep(10);
    expect((await healthz()).statusCode).toBe(200);
    expect(settled).toBe(false); // the hook still spins (in its worker) while the process answers
    return { res: await create, id: registered.json().id as string };
  }

  describe('succeeds', () => {
    it('finding 3: the catastrophic schema pattern against 10,000 characters answers at once, and /healthz with it', async () => {
      const res = await schemaPlugin('redos-schema', {
        type: 'object',
        properties: { v: { type: 'string', pattern: CATASTROPHIC } },
      });
      expect(res.statusCode, res.body).toBe(201);
      const { id } = res.json();
      const [dry, health] = await Promise.all([
        app.request({
          method: 'PUT',
          url: `/api/plugins/${id}/config?dry_run=true`,
          payload: { v: EVIL_INPUT },
        }),
        healthz(),
      ]);
      expect(expectProblem(dry, 400, 'validation_failed').errors?.[0]?.pointer).toBe('/v');
      expect(health.statusCode).toBe(200);
      const ok = await app.request({
        method: 'PUT',
        url: `/api/plugins/${id}/config?dry_run=true`,
        payload: { v: 'a'.repeat(10_000) },
      });
      expect(ok.statusCode, ok.body).toBe(200);
      // patternProperties and propertyNames run in the same engine.
      const props = await schemaPlugin('redos-props', {
        type: 'object',
        patternProperties: { [CATASTROPHIC]: { type: 'integer' } },
        propertyNames: { pattern: '^(a|a)+$|^x' },
      });
      expect(props.statusCode, props.body).toBe(201);
      const bad = await app.request({
        method: 'PUT',
        url: `/api/plugins/${props.json().id}/config?dry_run=true`,
        payload: { [EVIL_INPUT]: 1 },
      });
      expectProblem(bad, 400, 'validation_failed');
      for (const p of [id, props.json().id as string]) await remove(p);
    });

    it('finding 3: the username policy with a catastrophic pattern denies at once on user creation', async () => {
      const res = await register({ kind: 'module', name: 'username-policy', config: { pattern: '(a+)+' } });
      expect(res.statusCode, res.body).toBe(201);
      const [created, health] = await Promise.all([
        app.request({ method: 'POST', url: '/api/users', payload: { username: `${'a'.repeat(60)}-` } }),
        healthz(),
      ]);
      expect(expectProblem(created, 422, 'plugin.denied').detail).toMatch(/must match/);
      expect(health.statusCode).toBe(200);
      expect(
        (await app.request({ method: 'POST', url: '/api/users', payload: { username: 'a'.repeat(60) } }))
          .statusCode,
      ).toBe(201);
      await remove(res.json().id);
    });

    it('finding 3: a module plugin whose before-hook spins is stopped at its timeout: failure_policy fail answers 503; the next call runs', async () => {
      const before = await counts(app);
      const { res, id } = await createWhileSpinning('spinner');
      expect(expectProblem(res, 503, 'unavailable').detail).toMatch(/spinner.*timed out after 2000 ms/);
      expect((await counts(app)).users).toBe(before.users);
      const next = await app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
      expect(next.statusCode, next.body).toBe(201);
      expect((await app.request({ method: 'GET', url: `/api/plugins/${id}` })).json().health).toMatchObject({
        failures: 1,
        last_error: expect.stringMatching(/timed out/),
      });
      await remove(id);
    });

    it('finding 3: with failure_policy ignore, a spinning hook is stopped and the change goes through', async () => {
      const { res, id } = await createWhileSpinning('spinner-lenient');
      expect(res.statusCode, res.body).toBe(201);
      await remove(id);
    });

    it('finding 15: a package that declares the gatehouse-plugin keyword registers and runs', async () => {
      const res = await register({ kind: 'module', name: 'declared-pkg' });
      expect(res.statusCode, res.body).toBe(201);
      expect(
        expectProblem(
          await app.request({
            method: 'POST',
            url: '/api/users',
            payload: { username: `blocked${Date.now()}` },
          }),
          422,
          'plugin.denied',
        ).detail,
      ).toBe('declared-pkg: blocked by declared-pkg');
      expect((await app.request({ method: 'POST', url: '/api/users', payload: makeUser() })).statusCode).toBe(
        201,
      );
      await remove(res.json().id);
    });
  });

  describe('rejects', () => {
    it('finding 3: patterns RE2 cannot run (lookaround, backreferences) are refused with a 400 naming the field; nothing saved', async () => {
      const before = await counts(app);
      const look = expectProblem(
        await schemaPlugin('lookahead', {
          type: 'object',
          properties: { v: { type: 'string', pattern: '^(?=a)a+$' } },
        }),
        400,
        'validation_failed',
      );
      expect(look.errors?.[0]?.pointer).toBe('/manifest/config_schema/properties/v/pattern');
      const backref = expectProblem(
        await schemaPlugin('backref', { type: 'object', patternProperties: { '^(a)\\1$': {} } }),
        400,
        'validation_failed',
      );
      expect(backref.errors?.[0]?.pointer).toBe('/manifest/config_schema/patternProperties/^(a)\\1$');
      const policy = expectProblem(
        await register({ kind: 'module', name: 'username-policy', config: { pattern: '(?!admin).*' } }),
        400,
        'validation_failed',
      );
      expect(policy.errors?.[0]?.pointer).toBe('/config/pattern');
      let deep: object = { type: 'string' };
      for (let i = 0; i < 40; i++) deep = { type: 'object', properties: { x: deep } };
      // 40 schema levels nest the body 80 deep: the JSON nesting limit (64) refuses it before the schema is read.
      expect(expectProblem(await schemaPlugin('deep-schema', deep), 400, 'bad_request').detail).toMatch(
        /deeper than 64/,
      );
      const after = await counts(app);
      expect([after.audit - before.audit, after.outbox - before.outbox]).toEqual([0, 0]);
    });

    it('finding 3: a username-policy registered before RE2 (its stored schema lacks format "regex") is checked against the shipped schema', async () => {
      const old = (await register({ kind: 'module', name: 'username-policy' })).json();
      const manifest = {
        ...old.manifest,
        config_schema: { type: 'object', properties: { pattern: { type: 'string', maxLength: 500 } } },
      };
      await app.database.db
        .updateTable('plugins')
        .set({ manifest: JSON.stringify(manifest) })
        .where('id', '=', old.id)
        .execute();
      const stale = expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/plugins/${old.id}/config`,
          payload: { pattern: '(?=a)a' },
        }),
        400,
        'validation_failed',
      );
      expect(stale.errors?.[0]?.pointer).toBe('/pattern');
      await remove(old.id);
    });

    it('finding 15: unknown names and undeclared packages get a 422 that names no server path', async () => {
      for (const name of ['not-installed', 'pino', 'kysely', 'undeclared-pkg', 'broken']) {
        const p = expectProblem(await register({ kind: 'module', name }), 422, 'unprocessable');
        expect(p.detail).not.toContain(dir);
        expect(p.detail).not.toMatch(/\/(tmp|work|home|usr|node_modules)\b/);
      }
      expect(
        expectProblem(await register({ kind: 'module', name: 'not-installed' }), 422, 'unprocessable').detail,
      ).toMatch(/under the plugins folder/);
      for (const name of ['pino', 'kysely', 'undeclared-pkg']) {
        expect(expectProblem(await register({ kind: 'module', name }), 422, 'unprocessable').detail).toMatch(
          /is not a Gatehouse plugin.*gatehouse-plugin/,
        );
      }
      expectProblem(await register({ kind: 'module', name: '../spinner' }), 400, 'validation_failed');
    });
  });
});
