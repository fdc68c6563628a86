import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../src/lib/secret-token.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const README = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');

/** The fenced code block of this language whose text contains `marker`, exactly as the README shows it. */
function block(lang: string, marker: string): string {
  const blocks = [...README.matchAll(/```(\w+)\n([\s\S]*?)```/g)]
    .filter((m) => m[1] === lang)
    .map((m) => m[2]!);
  const found = blocks.find((b) => b.includes(marker));
  if (!found) throw new Error(`README has no ${lang} block containing ${marker}`);
  return found;
}

describe('README', () => {
  let server: ServerProcess;
  const token = generateToken('gth');
  const run = (cmd: string, args: string[], input?: string) =>
    execFileSync(cmd, args, {
      input,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', GATEHOUSE_TOKEN: token },
      timeout: 20_000,
    });
  // The examples target the default address; the test server listens on a free port instead.
  const local = (code: string) => code.replaceAll('http://127.0.0.1:8080', server.url);

  beforeAll(async () => {
    server = await startServer({ GATEHOUSE_BOOTSTRAP_TOKEN: token });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('opens with the install-and-start command and the test command', () => {
    const first = block('sh', 'npm ci');
    expect(first.split('\n')[0]).toMatch(/^npm ci && npm start\b/);
    expect(first.split('\n')[1]).toMatch(/^npm test\b/);
    expect(
      JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8')).scripts.start,
    ).toMatch(/build/);
  });

  it('the curl example creates alice', () => {
    const out = run('bash', ['-c', local(block('sh', 'curl -X POST'))]);
    expect(JSON.parse(out)).toMatchObject({ id: expect.stringMatching(/^user_/), username: 'alice' });
  });

  it('the Python requests example creates bob with 201', () => {
    const out = run('python3', ['-'], local(block('python', 'requests.post')));
    expect(out).toMatch(/^201 \{.*'username': 'bob'/);
    expect(out).toMatch(/'id': 'user_/);
  });

  it('the Node fetch example creates carol with 201', () => {
    const out = run(process.execPath, ['--input-type=module', '-'], local(block('js', 'fetch(')));
    expect(out).toMatch(/^201 \{/);
    expect(out).toMatch(/username: 'carol'/);
    expect(out).toMatch(/id: 'user_/);
  });
});
