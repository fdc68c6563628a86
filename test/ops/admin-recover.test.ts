import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRecover, RECOVERY_TTL_MS } from '../../src/cli/admin.js';
import { loadEnv } from '../../src/env/load.js';
import { counts, makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TOKEN = /(gth_[0-9A-Za-z]{38})/;

/** Break-glass recovery from the database host: `gatehouse admin recover USERNAME` (issue #18). */
describe('gatehouse admin recover', () => {
  forEachDialect((database) => {
    let app: TestApp;
    const key = randomBytes(32);
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-recover-'));
    beforeAll(async () => {
      app = await startTestApp(database().url, { auditKey: key });
    });
    afterAll(async () => {
      await app?.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    const env = (auditKey = key) =>
      loadEnv({
        DATABASE_URL: database().url,
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        GATEHOUSE_AUDIT_KEY: auditKey.toString('base64'),
      });
    const run = async (username: string, options: { enable?: boolean; auditKey?: typeof key } = {}) => {
      const [out, err] = [new PassThrough(), new PassThrough()];
      const text = { out: '', err: '' };
      out.on('data', (d: Buffer) => (text.out += d.toString()));
      err.on('data', (d: Buffer) => (text.err += d.toString()));
      const code = await adminRecover(env(options.auditKey), username, {
        out,
        err,
        ...(options.enable ? { enable: true } : {}),
      });
      return { code, ...text };
    };
    const createUser = async (username: string, extra: Record<string, unknown> = {}) => {
      const res = await app.request({
        method: 'POST',
        url: '/api/users',
        payload: makeUser({ username, ...extra }),
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().id as string;
    };
    const auditOf = async (action: string) =>
      (await app.request({ method: 'GET', url: `/api/audit?action=${action}&limit=100` })).json().data as {
        actor: string;
        target: { id: string } | null;
        detail: string | null;
        outcome: string;
      }[];

    it('prints an admin token for 1 hour, gives the admin role when missing, and audits it all as system with the OS user', async () => {
      const id = await createUser('ops-recover');
      const { code, out, err } = await run('OPS-Recover');
      expect(code, err).toBe(0);
      const secret = TOKEN.exec(out)?.[1];
      expect(secret, out).toBeDefined();
      const me = await app.request({ method: 'GET', url: '/api/me', token: secret! });
      expect(me.statusCode, me.body).toBe(200);
      expect(me.json().user.id).toBe(id);
      expect(me.json().scopes).toEqual(['*']);
      const expires = Date.parse(me.json().token.expires_at as string);
      expect(Math.abs(expires - (Date.now() + RECOVERY_TTL_MS))).toBeLessThan(5 * 60_000);
      // The token can repair access: it may act as an admin.
      const fix = await app.request({ method: 'GET', url: '/api/users?limit=1', token: secret! });
      expect(fix.statusCode).toBe(200);

      const [recovered] = (await auditOf('admin.recover')).filter((e) => e.target?.id === id);
      expect(recovered).toMatchObject({ actor: 'system', outcome: 'success' });
      expect(recovered!.detail).toContain(userInfo().username);
      expect(recovered!.detail).toContain('the admin role was given');
      expect(recovered!.detail).not.toContain(secret);
      expect((await auditOf('role.assign')).some((e) => e.actor === 'system' && e.target?.id === id)).toBe(
        true,
      );
      expect((await auditOf('token.create')).some((e) => e.actor === 'system')).toBe(true);
      const verify = (await app.request({ method: 'GET', url: '/api/audit/verify' })).json();
      expect(verify).toMatchObject({ status: 'ok', broken: null });
      // Nowhere in the audit log is the secret.
      const exported = await app.request({ method: 'GET', url: '/api/audit/export' });
      expect(exported.body).not.toContain(secret);
    });

    it('the token stops working after its hour', async () => {
      await createUser('ops-expiry');
      const { code, out } = await run('ops-expiry');
      expect(code).toBe(0);
      const secret = TOKEN.exec(out)![1]!;
      app.clock.advance(RECOVERY_TTL_MS + 60_000);
      const me = await app.request({ method: 'GET', url: '/api/me', token: secret });
      expect(me.statusCode).toBe(401);
      app.clock.set(Date.now());
    });

    it('an unknown user: exit 2, a message saying what to check, nothing written', async () => {
      const before = await counts(app);
      const { code, out, err } = await run('nobody-here');
      expect(code).toBe(2);
      expect(out).toBe('');
      expect(err).toContain('No user is called "nobody-here"');
      expect(await counts(app)).toEqual(before);
    });

    it('a disabled user: refused without --enable (nothing written), enabled and given access with it', async () => {
      const id = await createUser('ops-disabled');
      const off = await app.request({ method: 'PUT', url: `/api/users/${id}`, payload: { disabled: true } });
      expect(off.statusCode, off.body).toBe(200);
      const before = await counts(app);
      const refused = await run('ops-disabled');
      expect(refused.code).toBe(2);
      expect(refused.err).toContain('--enable');
      expect(await counts(app)).toEqual(before);

      const { code, out } = await run('ops-disabled', { enable: true });
      expect(code).toBe(0);
      const me = await app.request({ method: 'GET', url: '/api/me', token: TOKEN.exec(out)![1]! });
      expect(me.statusCode, me.body).toBe(200);
      expect(me.json().user.disabled).toBe(false);
      const [event] = (await auditOf('admin.recover')).filter((e) => e.target?.id === id);
      expect(event!.detail).toContain('the user was enabled');
    });

    it('refuses to run with another audit key than the servers (it would break the chain), writing nothing', async () => {
      await createUser('ops-wrongkey');
      const before = await counts(app);
      await expect(run('ops-wrongkey', { auditKey: randomBytes(32) })).rejects.toThrow(/audit key/i);
      expect(await counts(app)).toEqual(before);
    });

    it('runs as a command: `gatehouse admin recover USERNAME` prints the token and exits 0', async () => {
      await createUser('ops-cli');
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/main.ts', 'admin', 'recover', 'ops-cli'],
        {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH ?? '',
            DATABASE_URL: database().url,
            DATA_DIR: dataDir,
            LOG_LEVEL: 'warn',
            GATEHOUSE_AUDIT_KEY: key.toString('base64'),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exit = await new Promise<number | null>((res) => child.on('exit', res));
      expect(exit, output).toBe(0);
      const me = await app.request({ method: 'GET', url: '/api/me', token: TOKEN.exec(output)![1]! });
      expect(me.statusCode).toBe(200);
    });
  });
});
