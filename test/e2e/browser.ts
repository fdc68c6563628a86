import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createClient, type GatehouseClient } from '../../src/client/index.js';
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

/** Builds the console with Vite when `dist/ui` is missing or older than its sources (`npm test` on a fresh clone). */
export async function ensureConsoleBuilt(): Promise<void> {
  const fresh = () => existsSync(UI_INDEX) && statSync(UI_INDEX).mtimeMs >= Math.max(newestMtime(join(ROOT, 'ui')), newestMtime(join(ROOT, 'src/client')));
  // Vite refuses to build while another build of this project runs (`npm run build` elsewhere); wait for it.
  for (let attempt = 0; !fresh(); attempt++) {
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'ui/vite.config.ts', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'pipe' });
    } catch (err) {
      const output = String((err as { stderr?: Buffer }).stderr ?? err);
      if (attempt >= 30 || !output.includes('Found another Vite')) throw new Error(`vite build failed:\n${output}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
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

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export type Console = { server: ServerProcess; api: GatehouseClient; adminToken: string; adminPassword: string; url: string };

/**
 * A real server on a temp SQLite database with the console built, an admin with a known token and password,
 * and rate limits high enough for a test that clicks fast.
 */
export async function startConsole(): Promise<Console> {
  await ensureConsoleBuilt();
  const adminToken = generateToken();
  const server = await startServer({ GATEHOUSE_BOOTSTRAP_TOKEN: adminToken }, 30_000);
  const api = createClient({ baseUrl: server.url, token: adminToken });
  const me = await api.GET('/api/me');
  const adminPassword = 'correct horse battery staple';
  await api.PUT('/api/users/{id}', { params: { path: { id: me.data!.user.id } }, body: { password: adminPassword } });
  const generous = { max: 100_000, window_s: 60 };
  await api.PATCH('/api/config', { body: { rate_limits: { default: generous, anonymous: generous, login: generous } } as never });
  return { server, api, adminToken, adminPassword, url: server.url };
}
