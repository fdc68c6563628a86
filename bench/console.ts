/**
 * bench:console: the admin console's initial JavaScript (gzip and brotli, as served) and the time until the
 * users page is interactive in headless Chromium against 10,000 users, with two floors measured in the same
 * run: the list request alone (from Node) and the same browser navigating to a tiny static answer.
 *
 * Goals (issue #8): initial JS ≤ 350 kB gzip; users page interactive ≤ 1 s.
 * `BENCH_CONSOLE_USERS` (10000) and `BENCH_CONSOLE_RUNS` (7) change the size of the run.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { launchChromium, chromiumPath } from '../test/e2e/browser.js';
import { stopChild } from './lib/children.js';
import { log, runBench, writeReport } from './lib/compare.js';
import { generateToken, scrubInheritedEnv, startSeeded } from './lib/gatehouse.js';
import { describeMachine } from './lib/machine.js';
import { median } from './lib/report.js';

const USERS = Number(process.env.BENCH_CONSOLE_USERS ?? 10_000);
const RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 7);
const UI = 'dist/ui';
const GOAL_JS_GZIP_KB = 350;
const GOAL_INTERACTIVE_MS = 1000;

type Asset = { file: string; bytes: number; gzip: number; brotli: number };

/** The JS a first visit must fetch before anything renders: the entry script and what index.html preloads. */
function initialJs(): Asset[] {
  const html = readFileSync(join(UI, 'index.html'), 'utf8');
  const files = [
    ...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\/([^"]+\.js)"/g),
  ].map((m) => m[1]!);
  return files.map((file) => {
    const body = readFileSync(join(UI, file));
    return {
      file,
      bytes: body.length,
      gzip: gzipSync(body, { level: 9 }).length,
      brotli: readFileSync(join(UI, `${file}.br`)).length,
    };
  });
}

type Load = {
  firstRowMs: number;
  interactiveMs: number;
  jsWireBytes: number;
  jsBytes: number;
  requests: number;
  mainThreadMs: number;
  scriptMs: number;
};

/** One visit to /users with a token already in sessionStorage: navigation start → first user row → first idle. */
async function visitUsers(
  browser: Browser,
  url: string,
  token: string,
  firstSeeded: string,
  warm: boolean,
): Promise<Load> {
  const context = await browser.newContext();
  try {
    await context.addInitScript(
      `sessionStorage.setItem('gatehouse.credential', ${JSON.stringify(JSON.stringify({ token, kind: 'token' }))})`,
    );
    const page = await context.newPage();
    if (warm) await page.goto(`${url}/users`).then(() => page.getByText(firstSeeded).first().waitFor());
    // The renderer's main-thread busy time (CDP Performance metrics): what the page itself cost, which other
    // processes on the machine stretch far less than they stretch wall time.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const busy = async () => {
      const { metrics } = await cdp.send('Performance.getMetrics');
      const get = (name: string) => (metrics.find((m) => m.name === name)?.value ?? 0) * 1000;
      return { task: get('TaskDuration'), script: get('ScriptDuration') };
    };
    const before = await busy();
    await page.goto(`${url}/users`, { waitUntil: 'commit' });
    await page
      .getByRole('table', { name: 'Users' })
      .getByText(firstSeeded, { exact: true })
      .waitFor({ timeout: 30_000 });
    // Interactive: the row is there and the main thread has gone idle (nothing left to run before input is handled).
    const timing = await page.evaluate<{
      firstRow: number;
      idle: number;
      js: { wire: number; bytes: number; n: number };
    }>(`(async () => {
      const firstRow = performance.now();
      const idle = await new Promise((r) => requestIdleCallback(() => r(performance.now())));
      const scripts = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.js'));
      return { firstRow, idle, js: { wire: scripts.reduce((n, e) => n + e.transferSize, 0), bytes: scripts.reduce((n, e) => n + e.decodedBodySize, 0), n: scripts.length } };
    })()`);
    const after = await busy();
    return {
      firstRowMs: timing.firstRow,
      interactiveMs: timing.idle,
      jsWireBytes: timing.js.wire,
      jsBytes: timing.js.bytes,
      requests: timing.js.n,
      mainThreadMs: after.task - before.task,
      scriptMs: after.script - before.script,
    };
  } finally {
    await context.close();
  }
}

/** The floor of any page load here: a fresh context fetching a tiny answer from the same server. */
async function visitStatic(browser: Browser, url: string): Promise<number> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${url}/healthz`);
    return await page.evaluate<number>('performance.now()');
  } finally {
    await context.close();
  }
}

async function listFromNode(url: string, token: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/api/users?limit=50`, { headers: { authorization: `Bearer ${token}` } });
  await res.json();
  return performance.now() - started;
}

const kb = (n: number) => Math.round(n / 102.4) / 10;
const ms = (n: number) => Math.round(n);
const spread = (values: number[]) =>
  `median ${ms(median(values))} ms (min ${ms(Math.min(...values))}, max ${ms(Math.max(...values))})`;

async function main(): Promise<number> {
  scrubInheritedEnv();
  const startedAt = new Date();
  const machine = { ...describeMachine(), chromium: chromiumPath() };
  const assets = initialJs();
  const gzip = assets.reduce((n, a) => n + a.gzip, 0);
  const brotli = assets.reduce((n, a) => n + a.brotli, 0);
  const raw = assets.reduce((n, a) => n + a.bytes, 0);
  log(
    `Initial JS: ${assets.length} file(s), ${kb(raw)} kB raw, ${kb(gzip)} kB gzip -9, ${kb(brotli)} kB brotli (served) — goal ≤ ${GOAL_JS_GZIP_KB} kB gzip: ${kb(gzip) <= GOAL_JS_GZIP_KB ? 'met' : 'MISSED'}`,
  );

  const token = generateToken();
  log(`Seeding ${USERS.toLocaleString()} users through the API…`);
  const instance = await startSeeded({ name: 'console', token, seed: USERS, tag: 'bench' });
  const browser = await launchChromium();
  const samples: Record<'cold' | 'warm', Load[]> = { cold: [], warm: [] };
  const floors: { static: number[]; list: number[] } = { static: [], list: [] };
  try {
    const firstSeeded = `bench.console.seed.0`; // on the first page: users are listed in creation order
    const probe = await visitUsers(browser, instance.url, token, firstSeeded, false); // warm the server and the OS cache
    log(`Probe visit: first row ${ms(probe.firstRowMs)} ms`);
    for (let i = 0; i < RUNS; i++) {
      // Interleaved, so a change in the machine's load touches every measurement alike.
      floors.list.push(await listFromNode(instance.url, token));
      floors.static.push(await visitStatic(browser, instance.url));
      samples.cold.push(await visitUsers(browser, instance.url, token, firstSeeded, false));
      samples.warm.push(await visitUsers(browser, instance.url, token, firstSeeded, true));
      log(
        `run ${i + 1}/${RUNS}: cold ${ms(samples.cold.at(-1)!.interactiveMs)} ms (main thread ${ms(samples.cold.at(-1)!.mainThreadMs)} ms), warm ${ms(samples.warm.at(-1)!.interactiveMs)} ms, static floor ${ms(floors.static.at(-1)!)} ms, list ${ms(floors.list.at(-1)!)} ms`,
      );
    }
  } finally {
    await browser.close();
    await stopChild(instance.child);
    rmSync(instance.dataDir, { recursive: true, force: true });
  }
  const cold = samples.cold.map((s) => s.interactiveMs);
  const met = median(cold) <= GOAL_INTERACTIVE_MS;
  const lines = [
    `Users page, cold cache: first row ${spread(samples.cold.map((s) => s.firstRowMs))}; interactive ${spread(cold)} — goal ≤ ${GOAL_INTERACTIVE_MS} ms: ${met ? 'met' : 'MISSED'}`,
    `Users page, cold cache: renderer main thread busy ${spread(samples.cold.map((s) => s.mainThreadMs))}, of which script ${spread(samples.cold.map((s) => s.scriptMs))}`,
    `Users page, warm cache: interactive ${spread(samples.warm.map((s) => s.interactiveMs))}; main thread busy ${spread(samples.warm.map((s) => s.mainThreadMs))}`,
    `JS fetched by a cold /users visit: ${samples.cold[0]?.requests ?? 0} files, ${kb(samples.cold[0]?.jsWireBytes ?? 0)} kB on the wire (${kb(samples.cold[0]?.jsBytes ?? 0)} kB decoded)`,
    `Floors: static page in a fresh context ${spread(floors.static)}; GET /api/users?limit=50 from Node ${spread(floors.list)}`,
  ];
  for (const line of lines) log(line);
  const markdown = [
    `# bench:console ${startedAt.toISOString()}`,
    '',
    `${USERS} users, ${RUNS} runs; machine ${JSON.stringify(machine)}`,
    '',
    ...assets.map((a) => `- ${a.file}: ${kb(a.bytes)} kB, ${kb(a.gzip)} kB gzip, ${kb(a.brotli)} kB br`),
    '',
    ...lines.map((l) => `- ${l}`),
  ].join('\n');
  writeReport('console', startedAt, { machine, users: USERS, runs: RUNS, assets, samples, floors }, markdown);
  return 0;
}

runBench(main);
