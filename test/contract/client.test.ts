import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_SCHEMA_PATH, clientSchemaSource } from '../../scripts/gen-client.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('typed client (src/client)', () => {
  let app: TestApp;
  let database: TestDatabase;
  let url: string;

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    app = await startTestApp(database.url);
    url = await app.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  it('is generated from the current OpenAPI document (run `npm run gen:client` when this fails)', async () => {
    const committed = readFileSync(CLIENT_SCHEMA_PATH, 'utf8');
    expect(
      committed === (await clientSchemaSource()),
      'src/client/schema.ts is stale: run `npm run gen:client` and commit it',
    ).toBe(true);
  });

  it('runs the README example as written (gatehouse/client → src/client)', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .find((b) => b.includes("from 'gatehouse/client'"));
    expect(example, 'README has a ts block importing gatehouse/client').toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-readme-'));
    try {
      const file = join(dir, 'example.mts');
      writeFileSync(
        file,
        example!
          .replace("'gatehouse/client'", JSON.stringify(join(ROOT, 'src/client/index.ts')))
          .replace('http://127.0.0.1:8080', url),
      );
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], {
        cwd: ROOT,
        env: { ...process.env, GATEHOUSE_TOKEN: app.adminToken },
      });
      expect(stdout.trim()).toMatch(/^user_\w+ 1 null$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
