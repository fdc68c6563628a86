import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser, startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

describe('gatehouse audit (CLI)', () => {
  let database: TestDatabase;
  let app: TestApp;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    app = await startTestApp(database.url);
    for (let i = 0; i < 5; i++) await app.request({ method: 'POST', url: '/api/users', payload: makeUser() });
    await app.close();
    env = { PATH: process.env.PATH ?? '', DATA_DIR: dirname(database.url.replace('sqlite://', '')), LOG_LEVEL: 'warn', GATEHOUSE_AUDIT_KEY: app.auditKey.toString('base64') };
  });
  afterAll(async () => database?.drop());

  const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env, timeout: 30_000 });

  it('verify reports an intact chain with exit 0', async () => {
    const { stdout } = await cli('audit', 'verify');
    expect(stdout).toMatch(/^ok: \d+ events, seq 1 to \d+, chain intact/);
  });

  it('export writes the filtered events as NDJSON to stdout', async () => {
    const { stdout, stderr } = await cli('audit', 'export', '--action', 'user.create');
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.action)).toEqual(Array(6).fill('user.create'));
    expect(stderr).toContain('exported 6 events');
  });

  it('export refuses a bad filter with exit 2 and says which', async () => {
    await expect(cli('audit', 'export', '--since', 'yesterday')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--since') });
  });

  it('verify exits 3 and names the seq when a row was edited', async () => {
    const { createDb } = await import('../../src/db/create-db.js');
    const db = createDb(database.url);
    await db.db.updateTable('audit_events').set({ actor_name: 'mallory' }).where('seq', '=', 4).execute();
    await db.close();
    await expect(cli('audit', 'verify')).rejects.toMatchObject({ code: 3, stdout: expect.stringContaining('BROKEN at seq 4') });
  });
});
