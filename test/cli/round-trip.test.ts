import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { createTestDatabase, postgresServerUrl, type TestDatabase } from '../helpers/databases.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { gatehouse } from './cli-process.js';

async function call(server: ServerProcess, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/**
 * Issue #19's round trip, through the CLI as a user runs it: export from a Gatehouse on SQLite, apply to a fresh
 * one on PostgreSQL, export again: the two documents are equal.
 */
describe.runIf(postgresServerUrl())('export from SQLite, apply to a fresh PostgreSQL, export again', () => {
  const tokenA = generateToken('gth');
  const tokenB = generateToken('gth');
  const home = mkdtempSync(join(tmpdir(), 'gatehouse-cli-home-'));
  let a: ServerProcess;
  let b: ServerProcess;
  let pg: TestDatabase;

  beforeAll(async () => {
    pg = await createTestDatabase('postgres');
    [a, b] = await Promise.all([
      startServer({ GATEHOUSE_BOOTSTRAP_TOKEN: tokenA }),
      startServer({ GATEHOUSE_BOOTSTRAP_TOKEN: tokenB, DATABASE_URL: pg.url }),
    ]);
    // A state worth carrying over: roles, users holding them, a webhook, a stream and settings.
    await call(a, tokenA, 'PATCH', '/api/config', {
      webhooks: { allow_private_targets: true },
      tokens: { default_ttl_days: 14 },
    });
    const role = await call(a, tokenA, 'POST', '/api/roles', {
      name: 'support',
      description: 'Help desk',
      permissions: ['users:read', 'users:write', 'roles:read'],
    });
    for (const username of ['ann', 'ben', 'cem']) {
      const user = await call(a, tokenA, 'POST', '/api/users', {
        username,
        email: `${username}@example.com`,
        display_name: username.toUpperCase(),
      });
      if (username !== 'cem')
        await call(a, tokenA, 'PUT', `/api/users/${String(user.id)}/roles/${String(role.id)}`);
    }
    await call(a, tokenA, 'POST', '/api/webhooks', {
      url: 'http://127.0.0.1:9/round-trip',
      events: ['user.*', 'role.assign'],
      description: 'carried over',
    });
    await call(a, tokenA, 'POST', '/api/audit/streams', {
      name: 'siem',
      url: 'http://127.0.0.1:9/siem',
      actions: ['user.*'],
    });
    await call(a, tokenA, 'PATCH', '/api/config', {
      rate_limits: { by_role: { [String(role.id)]: { max: 50, window_s: 60 } } },
    });
    // Webhook and stream URLs are checked against the settings in force before the apply, so the fresh
    // target must already allow the loopback receivers this machine can use (state/README.md, "Apply").
    await call(b, tokenB, 'PATCH', '/api/config', { webhooks: { allow_private_targets: true } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await pg?.drop();
    rmSync(home, { recursive: true, force: true });
  });

  it('gives two equal documents', async () => {
    const file = join(home, 'state.json');
    const envA = { HOME: home, GATEHOUSE_URL: a.url, GATEHOUSE_TOKEN: tokenA };
    const envB = { HOME: home, GATEHOUSE_URL: b.url, GATEHOUSE_TOKEN: tokenB };

    const exported = await gatehouse(['export', '--include-users', '-o', file], envA, '', 60_000);
    expect(exported.code, exported.stderr).toBe(0);
    const first = readFileSync(file, 'utf8');
    expect(JSON.parse(first).users.map((u: { username: string }) => u.username)).toEqual(
      expect.arrayContaining(['admin', 'ann', 'ben', 'cem']),
    );

    const planned = await gatehouse(['plan', '-f', file], envB);
    expect(planned.code, planned.stderr).toBe(2);
    const applied = await gatehouse(['apply', '-f', file, '--yes'], envB);
    expect(applied.code, `${applied.stdout}\n${applied.stderr}`).toBe(0);
    const again = await gatehouse(['plan', '-f', file], envB);
    expect(again.code, again.stdout).toBe(0);

    const second = join(home, 'state-b.json');
    const reexported = await gatehouse(['export', '--include-users', '-o', second], envB);
    expect(reexported.code, reexported.stderr).toBe(0);
    expect(JSON.parse(readFileSync(second, 'utf8'))).toEqual(JSON.parse(first));
    expect(readFileSync(second, 'utf8')).toBe(first);
    // Neither the documents nor what the commands printed hold a token.
    for (const text of [first, exported.stdout, applied.stdout, applied.stderr])
      expect(text).not.toMatch(/gth_[0-9A-Za-z]{38}/);
  }, 120_000);
});
