import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { AUDIT_KEY, startServer, type ServerProcess } from '../helpers/server-process.js';
import { finished, gatehouse, MAIN } from './cli-process.js';

type Event = { seq: number; action: string; actor: string; target: { type: string; id: string | null } };

/**
 * `gatehouse audit query|tail|export|verify` and `export|plan|apply` over the HTTP API (issue #19 item 4),
 * the built CLI against a real server (SQLite).
 */
describe('gatehouse audit and plan over the API', () => {
  const admin = generateToken('gth');
  const home = mkdtempSync(join(tmpdir(), 'gatehouse-cli-audit-'));
  let server: ServerProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startServer({ GATEHOUSE_BOOTSTRAP_TOKEN: admin }, 60_000, { entry: MAIN });
    env = { HOME: home, GATEHOUSE_URL: server.url, GATEHOUSE_TOKEN: admin };
  });
  afterAll(async () => {
    await server?.stop(); // undefined when it failed to start
    rmSync(home, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => gatehouse(args, env);
  const ok = async (...args: string[]) => {
    const result = await cli(...args);
    expect(result.code, result.stderr).toBe(0);
    return result;
  };
  const createUser = async (username: string) => {
    const res = await fetch(`${server.url}/api/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  const file = (name: string, text: string) => {
    const path = join(home, name);
    writeFileSync(path, text);
    return path;
  };

  describe('succeeds', () => {
    it('audit tail prints an event written after it started, not one from before; SIGINT stops it with 0', async () => {
      const before = await createUser('tail-before');
      const child = spawn(process.execPath, [MAIN, 'audit', 'tail', '--interval', '200'], {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const done = finished(child, 60_000);
      let out = '';
      let err = '';
      const seen = (check: () => boolean) =>
        new Promise<void>((res) => {
          const test = () => check() && res();
          child.stdout.on('data', (d: Buffer) => ((out += d.toString()), test()));
          child.stderr.on('data', (d: Buffer) => ((err += d.toString()), test()));
          test();
        });
      await seen(() => err.includes('following the audit log'));
      const after = await createUser('tail-after');
      await seen(() => out.includes(after));
      child.kill('SIGINT');
      const result = await done;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`user\\.create\\s+user:${after}\\s+success`));
      expect(result.stdout).not.toContain(before);
    });

    it('audit query filters by action, target and actor; --output json parses', async () => {
      const id = await createUser('query-target');
      const table = await ok('audit', 'query', '--action', 'user.create', '--target', `user:${id}`);
      const rows = table.stdout.trimEnd().split('\n');
      expect(rows[0]).toMatch(/^SEQ\s+TIME\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME$/);
      expect(rows).toHaveLength(2);
      expect(rows[1]).toContain(`user:${id}`);
      const events = JSON.parse(
        (await ok('--output', 'json', 'audit', 'query', '--action', 'user.create', '--all')).stdout,
      ) as Event[];
      expect(events.length).toBeGreaterThanOrEqual(3);
      expect(new Set(events.map((e) => e.action))).toEqual(new Set(['user.create']));
      const system = JSON.parse(
        (await ok('--output', 'json', 'audit', 'query', '--actor', 'system', '--limit', '500')).stdout,
      ) as Event[];
      expect(system.every((e) => e.actor === 'system')).toBe(true);
      const bad = await cli('audit', 'query', '--since', 'yesterday');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/query \/since: /);
    });

    it('audit export streams NDJSON over the API; verify and checkpoint too; --local still uses the database', async () => {
      const exported = await ok('audit', 'export', '--action', 'user.create');
      const lines = exported.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Event);
      expect(lines.length).toBeGreaterThanOrEqual(3);
      expect(lines.every((e) => e.action === 'user.create')).toBe(true);
      expect(lines.map((e) => e.seq)).toEqual([...lines.map((e) => e.seq)].sort((a, b) => a - b));
      expect(exported.stderr).toContain(`exported ${lines.length} events`);
      const verified = await ok('audit', 'verify');
      expect(verified.stdout).toMatch(/^ok: \d+ events, seq 1 to \d+, chain intact\n$/);
      const checkpoint = await ok('audit', 'checkpoint');
      const path = file('checkpoint.json', checkpoint.stdout);
      expect((await ok('audit', 'verify', '--checkpoint', path)).stdout).toMatch(/checkpoint at seq \d+: /);
      // The same command on the database: the server's DATA_DIR and audit key, the URL ignored.
      const local = await gatehouse(['audit', 'verify', '--local'], {
        ...env,
        DATA_DIR: server.dataDir,
        GATEHOUSE_AUDIT_KEY: AUDIT_KEY,
        LOG_LEVEL: 'warn',
      });
      expect(local.code, local.stderr).toBe(0);
      expect(local.stdout).toMatch(/^ok: \d+ events/);
    });

    it('export prints the state document (JSON or YAML, to a file)', async () => {
      const doc = JSON.parse((await ok('export')).stdout) as { roles: { name: string }[]; users?: unknown };
      expect(doc.roles.map((r) => r.name)).toEqual(expect.arrayContaining(['admin', 'auditor']));
      expect(doc.users).toBeUndefined();
      const withUsers = JSON.parse((await ok('export', '--include-users')).stdout) as {
        users: { username: string }[];
      };
      expect(withUsers.users.map((u) => u.username)).toContain('admin');
      const out = join(home, 'state.yaml');
      await ok('export', '--yaml', '-o', out);
      expect(readFileSync(out, 'utf8')).toMatch(/^roles:\n/m);
    });

    it('plan exits 2 with changes (a diff per change) and 0 without; ${NAME} comes from the environment', async () => {
      const yaml = file(
        'plan.yaml',
        [
          'version: 1',
          'roles:',
          '  - name: plan-viewer',
          '    description: "${PLAN_DESC} and $${LITERAL}"',
          '    permissions: [users:read]',
        ].join('\n'),
      );
      const changed = await gatehouse(['plan', '-f', yaml], { ...env, PLAN_DESC: 'Readers' });
      expect(changed.code, changed.stderr).toBe(2);
      expect(changed.stdout).toContain('+ create role plan-viewer');
      expect(changed.stdout).toContain('Plan: 1 to create, 0 to update, 0 to delete.');
      expect(changed.stdout).not.toContain('\u001b['); // not a terminal: no colour
      const asJson = await gatehouse(['plan', '-f', yaml, '--json'], { ...env, PLAN_DESC: 'Readers' });
      const plan = JSON.parse(asJson.stdout) as { changes: { op: string; diff: { value?: unknown }[] }[] };
      const create = plan.changes.find((c) => c.op === 'create');
      expect(create?.diff[0]?.value).toMatchObject({ description: 'Readers and ${LITERAL}' });
      // The current state, as exported, plans to nothing.
      const current = file('current.json', (await ok('export')).stdout);
      const same = await cli('plan', '-f', current);
      expect(same.code, same.stderr).toBe(0);
      expect(same.stdout).toContain('No changes');
      const missing = await cli('plan', '-f', yaml);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('PLAN_DESC is not set');
    });

    it('plan shows an update with each RFC 6902 operation on its own line', async () => {
      await createUser('plan-carol');
      const doc = file(
        'users.json',
        JSON.stringify({ version: 1, users: [{ username: 'plan-carol', display_name: 'Carol' }] }),
      );
      const result = await cli('plan', '-f', doc);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stdout).toMatch(/^~ update user plan-carol\n {4}replace \/display_name "Carol"\n/m);
    });
    it('apply --yes shows the plan, applies it against its snapshot, and a second apply has nothing to do', async () => {
      const doc = file(
        'apply-yes.yaml',
        'version: 1\nroles:\n  - name: apply-reader\n    description: "${APPLY_DESC}"\n    permissions: [users:read]\n',
      );
      const applyEnv = { ...env, APPLY_DESC: 'from the environment' };
      const applied = await gatehouse(['apply', '-f', doc, '--yes'], applyEnv);
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toContain('+ create role apply-reader');
      expect(applied.stdout).toMatch(/Applied 1 change to sha256:\S+ \(audit event evt_\w+\)\./);
      const role = JSON.parse((await ok('--output', 'json', 'roles', 'get', 'apply-reader')).stdout) as {
        description: string;
      };
      expect(role.description).toBe('from the environment');
      const again = await gatehouse(['apply', '-f', doc], applyEnv);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('No changes');
    });
  });

  describe('rejects', () => {
    it('apply without a terminal and without --yes: exit 1, says to pass --yes, applies nothing', async () => {
      const doc = file(
        'apply.json',
        JSON.stringify({ version: 1, roles: [{ name: 'apply-x', permissions: ['users:read'] }] }),
      );
      const refused = await cli('apply', '-f', doc);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toContain('+ create role apply-x');
      expect(refused.stderr).toContain('pass --yes');
      expect((await cli('roles', 'get', 'apply-x')).code).toBe(1);
    });

    it('an unreadable or malformed document: exit 1 naming the file', async () => {
      const broken = file('broken.json', '{"version": 1,');
      const result = await cli('plan', '-f', broken);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${broken}: not valid JSON`);
      expect((await cli('plan', '-f', join(home, 'absent.yaml'))).stderr).toContain('cannot read');
    });
  });
});
