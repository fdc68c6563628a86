import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, verifyTokenChecksum } from '../../src/lib/secret-token.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { gatehouse, MAIN, transcript } from './cli-process.js';

/**
 * `gatehouse users|roles|tokens|login` over the HTTP API (issue #19 item 4): the built CLI as a process against
 * a real server (SQLite), with a temp HOME so profiles never touch the real one.
 */
describe('gatehouse CLI over the API', () => {
  const admin = generateToken('gth');
  const home = mkdtempSync(join(tmpdir(), 'gatehouse-cli-home-'));
  /** Secrets printed by design (tokens create / rotate): each may appear in its own stdout only. */
  const printed: string[] = [];
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
  const json = async <T>(...args: string[]) =>
    JSON.parse((await ok('--output', 'json', ...args)).stdout) as T;
  const me = (token: string) =>
    fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });

  describe('succeeds', () => {
    it('users: create, list, get, update, disable, delete', async () => {
      const created = await ok('users', 'create', 'cli-alice', '--email', 'alice@example.com');
      expect(created.stdout).toMatch(/username\s+cli-alice/);
      const list = await ok('users', 'list');
      const [heading, ...rows] = list.stdout.trimEnd().split('\n');
      expect(heading).toMatch(/^ID\s+USERNAME\s+KIND\s+DISABLED\s+EMAIL/);
      const row = rows.find((r) => r.includes('cli-alice'));
      // Aligned: every row's USERNAME column starts where the heading's does.
      expect(row?.indexOf('cli-alice')).toBe(heading?.indexOf('USERNAME'));
      const user = await json<{ id: string; email: string }>('users', 'get', 'cli-alice');
      expect(user.email).toBe('alice@example.com');
      expect((await json<{ id: string }>('users', 'get', user.id)).id).toBe(user.id);
      const updated = await json<{ display_name: string }>(
        'users',
        'update',
        'cli-alice',
        '--display-name',
        'Alice A.',
      );
      expect(updated.display_name).toBe('Alice A.');
      expect((await json<{ disabled: boolean }>('users', 'disable', user.id)).disabled).toBe(true);
      const deleted = await ok('users', 'delete', 'cli-alice');
      expect(deleted.stderr).toContain(`deleted user cli-alice (${user.id})`);
      const gone = await cli('users', 'get', user.id);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/error: .*\(404\)/);
    });

    it('roles: create, assign and unassign by names, update, delete', async () => {
      await ok('users', 'create', 'cli-bob');
      const role = await json<{ id: string; permissions: string[] }>(
        'roles',
        'create',
        'cli-editor',
        '--permission',
        'users:read,users:write',
        '--description',
        'edits users',
      );
      expect(role.permissions).toEqual(['users:read', 'users:write']);
      const assigned = await ok('roles', 'assign', 'cli-bob', 'cli-editor');
      expect(assigned.stderr).toContain('assigned role cli-editor to cli-bob');
      const bob = await json<{ id: string }>('users', 'get', 'cli-bob');
      const held = await fetch(`${server.url}/api/users/${bob.id}/roles`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(((await held.json()) as { data: { id: string }[] }).data.map((r) => r.id)).toContain(role.id);
      const list = await json<{ name: string }[]>('roles', 'list', '--all');
      expect(list.map((r) => r.name)).toEqual(expect.arrayContaining(['admin', 'auditor', 'cli-editor']));
      await ok('roles', 'unassign', bob.id, role.id);
      const updated = await json<{ permissions: string[] }>(
        'roles',
        'update',
        'cli-editor',
        '--permission',
        'users:read',
      );
      expect(updated.permissions).toEqual(['users:read']);
      await ok('roles', 'delete', 'cli-editor');
      expect((await cli('roles', 'get', 'cli-editor')).code).toBe(1);
    });

    it('tokens create prints exactly one line, a valid gth_ token, and nothing else on stdout; rotate and revoke', async () => {
      const created = await ok('tokens', 'create', '--name', 'cli-ci', '--scope', 'users:read');
      expect(created.stdout).toMatch(/^gth_[0-9A-Za-z]{38}\n$/);
      const secret = created.stdout.trim();
      printed.push(secret);
      expect(verifyTokenChecksum(secret)).toBe(true);
      expect(created.stderr).toContain('created token tok_');
      expect((await me(secret)).status).toBe(200);
      const tokens = await json<{ id: string; name: string }[]>('tokens', 'list', '--all');
      const id = tokens.find((t) => t.name === 'cli-ci')?.id;
      expect(id).toMatch(/^tok_/);
      const rotated = await ok('tokens', 'rotate', id!);
      expect(rotated.stdout).toMatch(/^gth_[0-9A-Za-z]{38}\n$/);
      const next = rotated.stdout.trim();
      printed.push(next);
      expect(next).not.toBe(secret);
      expect((await me(secret)).status).toBe(401);
      expect((await me(next)).status).toBe(200);
      await ok('tokens', 'revoke', id!);
      expect((await me(next)).status).toBe(401);
    });

    it('--output json prints JSON that parses', async () => {
      const users = await json<{ username: string }[]>('users', 'list', '--limit', '500');
      expect(users.map((u) => u.username)).toContain('admin');
      const after = await ok('users', 'list', '--output', 'json');
      expect(JSON.parse(after.stdout)).toEqual(users);
    });

    it('login saves a 0600 profile from stdin after GET /api/me; later commands use it; logout forgets it', async () => {
      const bare = { HOME: home };
      const login = await gatehouse(['login', '--url', server.url], bare, `${admin}\n`);
      expect(login.code, login.stderr).toBe(0);
      expect(login.stderr).toContain('Logged in to');
      expect(login.stderr).toContain('as admin');
      const file = join(home, '.config', 'gatehouse', 'config.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, '.config', 'gatehouse')).mode & 0o777).toBe(0o700);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
        profiles: { default: { url: server.url, token: admin } },
      });
      const list = await gatehouse(['users', 'list'], bare);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toContain('admin');
      // A named profile, under XDG_CONFIG_HOME.
      const xdg = { HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') };
      expect((await gatehouse(['--profile', 'ops', 'login', '--url', server.url], xdg, admin)).code).toBe(0);
      expect(statSync(join(home, 'xdg', 'gatehouse', 'config.json')).mode & 0o777).toBe(0o600);
      expect((await gatehouse(['--profile', 'ops', 'roles', 'list'], xdg)).code).toBe(0);
      const missing = await gatehouse(['--profile', 'nope', 'roles', 'list'], xdg);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('No profile "nope"');
      expect((await gatehouse(['logout'], bare)).code).toBe(0);
      const after = await gatehouse(['users', 'list'], bare);
      expect(after.code).toBe(1);
      expect(after.stderr).toContain('No server configured');
    });

    it('completion bash and zsh print scripts generated from the command tree', async () => {
      const bash = await ok('completion', 'bash');
      expect(bash.stdout).toContain('complete -o default -F _gatehouse gatehouse');
      expect(bash.stdout).toContain('"/roles/assign"');
      expect(bash.stdout).toMatch(/"\/tokens"\) words="create list rotate revoke /);
      const zsh = await ok('completion', 'zsh');
      expect(zsh.stdout.startsWith('#compdef gatehouse\n')).toBe(true);
      expect(zsh.stdout).toContain('"/audit/tail"');
      expect((await cli('completion', 'fish')).code).toBe(1);
    });
  });

  describe('rejects', () => {
    it('a duplicate username: the problem title and detail on stderr, nothing on stdout, exit 1', async () => {
      await ok('users', 'create', 'cli-dup');
      const dup = await cli('users', 'create', 'CLI-dup');
      expect(dup.code).toBe(1);
      expect(dup.stdout).toBe('');
      expect(dup.stderr).toMatch(
        /^error: Username already in use \(409\)\n {2}A user with this username already exists\.\n/,
      );
    });

    it('an invalid field: each field error as `in pointer: message`', async () => {
      const bad = await cli('users', 'create', 'cli-bad', '--email', 'not-an-email');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/\n {2}body \/email: .+/);
    });

    it('an unreachable server or a bad token: exit 1 and what to check', async () => {
      const down = await gatehouse(['users', 'list'], { ...env, GATEHOUSE_URL: 'http://127.0.0.1:1' });
      expect(down.code).toBe(1);
      expect(down.stderr).toContain('Could not reach http://127.0.0.1:1');
      const wrong = await gatehouse(['users', 'list'], { ...env, GATEHOUSE_TOKEN: generateToken('gth') });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('(401)');
      expect(wrong.stderr).toContain('Check the token');
    });

    it('no secret in any output but the one tokens create or rotate printed', () => {
      expect(transcript.length).toBeGreaterThan(10);
      for (const { stdout, stderr } of transcript) {
        expect(stdout + stderr).not.toContain(admin);
        for (const secret of printed) {
          if (stdout.includes(secret)) expect(stdout).toBe(`${secret}\n`);
          expect(stderr).not.toContain(secret);
        }
      }
    });
  });
});
