import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createClient, type GatehouseClient } from '@gatehouse/client';
import { generateToken } from '../../src/lib/secret-token.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const ROOT = resolve(import.meta.dirname, '../..');
const UI_INDEX = join(ROOT, 'dist/ui/index.html');
export const SCREENSHOTS = join(ROOT, 'test-results/e2e');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function runBuild(args: string[]): void {
  // Vite refuses to build while another build of this project runs (`npm run build` elsewhere); wait for it.
  for (let attempt = 0; ; attempt++) {
    try {
      execFileSync(process.execPath, args, { cwd: ROOT, stdio: 'pipe' });
      return;
    } catch (err) {
      const output =
        String((err as { stderr?: Buffer; stdout?: Buffer }).stderr ?? '') +
        String((err as { stdout?: Buffer }).stdout ?? '');
      if (attempt >= 30 || !output.includes('Found another Vite'))
        throw new Error(`${args.join(' ')} failed:\n${output}`);
      execFileSync('sleep', ['2']);
    }
  }
}

const isFresh = (built: string, ...sources: string[]) =>
  existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources.map((s) => newestMtime(join(ROOT, s))));

/**
 * The server and console as `npm run build` makes them, rebuilt when older than their sources (`npm test` on a
 * fresh clone), then copied to a folder of this run's own: a build elsewhere (another `npm run build` in the
 * same checkout) replaces dist/ui's hashed files, which would break a page already loaded from the old ones.
 */
export function snapshotBuild(): string {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  // The server imports the client package from its dist/ (node_modules/@gatehouse/client): build it first.
  if (!isFresh(join(ROOT, 'packages/client/dist/index.js'), 'packages/client/src'))
    runBuild([tsc, '-p', 'packages/client/tsconfig.json']);
  if (!isFresh(join(ROOT, 'dist/src/main.js'), 'src', 'packages/client/src'))
    runBuild([tsc, '-p', 'tsconfig.build.json']);
  if (!isFresh(UI_INDEX, 'ui', 'packages/client/src'))
    runBuild([
      join(ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--config',
      'ui/vite.config.ts',
      '--logLevel',
      'warn',
    ]);
  const dir = join(ROOT, 'test-results/e2e-server', String(process.pid));
  rmSync(dir, { recursive: true, force: true });
  // Inside the project, so the copy resolves node_modules exactly as dist/ does.
  cpSync(join(ROOT, 'dist/src'), join(dir, 'dist/src'), { recursive: true });
  cpSync(join(ROOT, 'dist/ui'), join(dir, 'dist/ui'), { recursive: true });
  return join(dir, 'dist/src/main.js');
}

/** Debian's Chromium (found on PATH, never downloaded), headless. */
export function chromiumPath(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    for (const name of ['chromium', 'chromium-browser']) {
      const path = join(dir, name);
      if (existsSync(path)) return path;
    }
  }
  throw new Error('Chromium is not installed: apt-get install -y chromium (.ci/run does this)');
}

/** `args`: more Chromium switches (a test on http://localhost maps it with `--host-resolver-rules`). */
export function launchChromium(args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      ...args,
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export type Console = {
  server: ServerProcess;
  api: GatehouseClient;
  adminToken: string;
  adminPassword: string;
  url: string;
  close: () => Promise<void>;
};

/**
 * A real server on a temp SQLite database with the console built, an admin with a known token and password,
 * and rate limits high enough for a test that clicks fast.
 */
export async function startConsole(): Promise<Console> {
  const entry = snapshotBuild();
  const adminToken = generateToken();
  const server = await startServer({ GATEHOUSE_BOOTSTRAP_TOKEN: adminToken }, 30_000, { entry });
  const api = createClient({ baseUrl: server.url, token: adminToken });
  const me = await api.GET('/api/me');
  const adminPassword = 'correct horse battery staple';
  await api.PUT('/api/users/{id}', {
    params: { path: { id: me.data!.user.id } },
    body: { password: adminPassword },
  });
  const generous = { max: 100_000, window_s: 60 };
  await api.PATCH('/api/config', {
    body: { rate_limits: { default: generous, anonymous: generous, login: generous } } as never,
  });
  const close = async () => {
    await server.stop();
    rmSync(join(entry, '../../..'), { recursive: true, force: true });
  };
  return { server, api, adminToken, adminPassword, url: server.url, close };
}
