import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
    env = {
      PATH: process.env.PATH ?? '',
      DATA_DIR: dirname(database.url.replace('sqlite://', '')),
      // A home of its own: a profile in the developer's ~/.config/gatehouse would send these over the API.
      HOME: dirname(database.url.replace('sqlite://', '')),
      LOG_LEVEL: 'warn',
      GATEHOUSE_AUDIT_KEY: app.auditKey.toString('base64'),
    };
  });
  afterAll(async () => database?.drop());

  const cli = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: ROOT, env, timeout: 30_000 });

  it('verify reports an intact chain with exit 0', async () => {
    const { stdout } = await cli('audit', 'verify');
    expect(stdout).toMatch(/^ok: \d+ events, seq 1 to \d+, chain intact/);
  });

  it('export writes the filtered events as NDJSON to stdout', async () => {
    const { stdout, stderr } = await cli('audit', 'export', '--action', 'user.create');
    const events = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.action)).toEqual(Array(6).fill('user.create'));
    expect(stderr).toContain('exported 6 events');
  });

  it('export refuses a bad filter with exit 2 and says which', async () => {
    await expect(cli('audit', 'export', '--since', 'yesterday')).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--since'),
    });
  });

  it('checkpoint prints a signed checkpoint; verify --checkpoint holds the log against it', async () => {
    const { stdout } = await cli('audit', 'checkpoint');
    const checkpoint = JSON.parse(stdout) as { seq: number; signature: string };
    expect(checkpoint).toMatchObject({ version: 1, seq: expect.any(Number), signature: expect.any(String) });
    const file = join(dirname(database.url.replace('sqlite://', '')), 'checkpoint.json');
    writeFileSync(file, stdout);
    const ok = await cli('audit', 'verify', '--checkpoint', file);
    expect(ok.stdout).toContain(`checkpoint at seq ${checkpoint.seq}: ok`);

    // Issue #16: the newest events deleted and the head rewound verify as intact; the checkpoint shows the cut.
    const { createDb } = await import('../../src/db/create-db.js');
    const db = createDb(database.url);
    const keep = await db.db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '=', checkpoint.seq - 2)
      .executeTakeFirstOrThrow();
    await db.db.deleteFrom('audit_events').where('seq', '>', keep.seq).execute();
    await db.db
      .updateTable('audit_head')
      .set({ seq: keep.seq, hash: keep.hash, ts: keep.ts })
      .where('id', '=', 1)
      .execute();
    await db.close();
    await expect(cli('audit', 'verify', '--checkpoint', file)).rejects.toMatchObject({
      code: 3,
      stdout: expect.stringContaining('checkpoint_beyond_head'),
    });

    writeFileSync(file, '{"seq": 1}');
    await expect(cli('audit', 'verify', '--checkpoint', file)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('not an audit checkpoint'),
    });
  }, 120_000); // four CLI runs, each starting Node with tsx

  it('verify exits 3 and names the seq when a row was edited', async () => {
    const { createDb } = await import('../../src/db/create-db.js');
    const db = createDb(database.url);
    await db.db.updateTable('audit_events').set({ actor_name: 'mallory' }).where('seq', '=', 4).execute();
    await db.close();
    await expect(cli('audit', 'verify')).rejects.toMatchObject({
      code: 3,
      stdout: expect.stringContaining('BROKEN at seq 4'),
    });
  });
});
