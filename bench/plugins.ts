/**
 * Issue #7: `POST /api/users` with no plugin, with one module before-hook (the shipped `username-policy`), and
 * with one http before-hook on loopback (bench/plugins/hook-server.ts, its own process), in one run, under load
 * (`--connections`) and one request at a time. Goal: a module hook costs ≤ 5 % of throughput, an http hook adds
 * ≤ 2 ms at p50. Issue #16 adds a module plugin installed in PLUGINS_DIR (`FOLDER_PLUGIN`, the same rule),
 * which Gatehouse runs in a worker thread: what crossing the thread costs a before-hook call.
 * `npm run bench:plugins`; see bench/README.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startChild, stopAllChildren, stopChild, waitForHttp } from './lib/children.js';
import {
  compare,
  log,
  markdownTable,
  runBench,
  runInterleaved,
  setUp,
  selectVariants,
  statusProblems,
  textTable,
  writeReport,
  type Compared,
  type Goal,
} from './lib/compare.js';
import {
  apiExpect,
  countRows,
  generateToken,
  patchConfig,
  startSeeded,
  type Instance,
} from './lib/gatehouse.js';
import { createRequest, type Run } from './lib/load.js';
import type { BenchOptions } from './lib/options.js';
import { median } from './lib/report.js';

const HOST = '127.0.0.1';
const POLICY = {
  pattern: '[a-z0-9.]+',
  min_length: 3,
  max_length: 64,
  reserved: ['admin', 'root', 'system', 'postmaster'],
};
const HTTP_MANIFEST = {
  name: 'bench-allow',
  version: '1.0.0',
  hooks: { before: ['user.create'] },
  timeout_ms: 2000,
  failure_policy: 'fail',
};

/** The shipped username-policy's rule as an operator-installed plugin (PLUGINS_DIR/folder-policy/index.mjs). */
const FOLDER_PLUGIN = `export default {
  name: 'folder-policy', version: '1.0.0', hooks: { before: ['user.create', 'user.update'] }, timeout_ms: 2000, failure_policy: 'fail',
  before({ input }, { config }) {
    if (typeof input.username !== 'string') return { allow: true };
    const name = input.username.normalize('NFKC').toLowerCase();
    if (config.min_length !== undefined && name.length < config.min_length) return { allow: false, reason: 'too short' };
    if (config.max_length !== undefined && name.length > config.max_length) return { allow: false, reason: 'too long' };
    if ((config.reserved ?? []).includes(name)) return { allow: false, reason: 'reserved' };
    return new RegExp('^(?:' + config.pattern + ')$', 'u').test(name) ? { allow: true } : { allow: false, reason: 'pattern' };
  },
};`;

type Plugin = { id: string; enabled: boolean };
type Plugins = { module: Plugin; http: Plugin; folder: Plugin };

async function register(gh: Instance, token: string, hookUrl: string): Promise<Plugins> {
  // http://127.0.0.1 is refused unless the settings allow private targets (src/modules/plugins/service.ts).
  await patchConfig(gh.url, token, { webhooks: { allow_private_targets: true } });
  const post = (body: unknown) =>
    apiExpect<{ id: string }>(gh.url, token, { method: 'POST', path: '/api/plugins', body, expected: 201 });
  const module = await post({ kind: 'module', name: 'username-policy', config: POLICY, enabled: false });
  const http = await post({ kind: 'http', url: hookUrl, manifest: HTTP_MANIFEST, enabled: false });
  const folder = await post({ kind: 'module', name: 'folder-policy', config: POLICY, enabled: false });
  return {
    module: { id: module.id, enabled: false },
    http: { id: http.id, enabled: false },
    folder: { id: folder.id, enabled: false },
  };
}

/** Enables exactly the plugins listed (each switch is an audited change and reloads the plugin host). */
function only(gh: Instance, token: string, plugins: Plugins, wanted: (keyof Plugins)[]) {
  return async (): Promise<void> => {
    for (const key of ['module', 'http', 'folder'] as const) {
      const p = plugins[key];
      const on = wanted.includes(key);
      if (p.enabled === on) continue;
      await apiExpect(gh.url, token, {
        method: 'POST',
        path: `/api/plugins/${p.id}/${on ? 'enable' : 'disable'}`,
      });
      p.enabled = on;
    }
  };
}

type Health = { calls: number; failures: number; last_error: string | null; p99_ms: number | null };
const health = async (gh: Instance, token: string, id: string) =>
  (await apiExpect<{ health: Health }>(gh.url, token, { method: 'GET', path: `/api/plugins/${id}` })).health;
const hookCalls = async (url: string) =>
  ((await (await fetch(`${url}/count`)).json()) as { calls: number }).calls;

/**
 * Each run's 2xx must have passed the hook: its call count grows by at least the POSTs counted, and by at most
 * `connections` more (requests in flight when autocannon stops are still served). No call may fail.
 */
async function callCheck(count: () => Promise<{ calls: number; failures: number }>, connections: number) {
  let last = await count();
  return async (run: Run): Promise<string[]> => {
    const prev = last;
    last = await count();
    const calls = last.calls - prev.calls;
    const ok = run.result['2xx'];
    const problems =
      last.failures > prev.failures ? [`${last.failures - prev.failures} hook calls failed`] : [];
    if (calls < ok || calls > ok + connections * 2)
      problems.push(`hook called ${calls} times for ${ok} created users`);
    return problems;
  };
}

async function phase(
  ctx: { gh: Instance; token: string; plugins: Plugins; hookUrl: string; pids: number[]; tag: string },
  options: BenchOptions,
) {
  const { gh, token, plugins } = ctx;
  const c = options.connections;
  const variants = selectVariants([
    {
      key: `c${c}-none`,
      title: `c=${c}: no plugin`,
      url: gh.url,
      request: createRequest(token, `${ctx.tag}.c${c}.none`),
      prepare: only(gh, token, plugins, []),
    },
    {
      key: `c${c}-module`,
      title: `c=${c}: module before-hook (username-policy)`,
      url: gh.url,
      request: createRequest(token, `${ctx.tag}.c${c}.module`),
      prepare: only(gh, token, plugins, ['module']),
      check: await callCheck(async () => health(gh, token, plugins.module.id), c),
    },
    {
      key: `c${c}-http`,
      title: `c=${c}: http before-hook on loopback`,
      url: gh.url,
      request: createRequest(token, `${ctx.tag}.c${c}.http`),
      prepare: only(gh, token, plugins, ['http']),
      check: await callCheck(
        async () => ({
          calls: await hookCalls(ctx.hookUrl),
          failures: (await health(gh, token, plugins.http.id)).failures,
        }),
        c,
      ),
    },
    {
      key: `c${c}-folder`,
      title: `c=${c}: module before-hook from PLUGINS_DIR`,
      url: gh.url,
      request: createRequest(token, `${ctx.tag}.c${c}.folder`),
      prepare: only(gh, token, plugins, ['folder']),
      check: await callCheck(async () => health(gh, token, plugins.folder.id), c),
    },
  ]);
  if (variants.length === 0) return null;
  log(`\nphase: ${c} connection${c === 1 ? '' : 's'}`);
  const { runs, problems } = await runInterleaved(variants, ctx.pids, options);
  const goals: Record<string, Goal> = {
    [`c${c}-module`]: {
      text: '≤ 5% fewer req/s',
      met: (s, base) => s.reqPerSecMedian >= 0.95 * base.reqPerSecMedian,
    },
    [`c${c}-http`]: { text: '≤ +2 ms p50', met: (s, base) => s.p50Median - base.p50Median <= 2 },
    [`c${c}-folder`]: {
      text: '≤ 5% fewer req/s',
      met: (s, base) => s.reqPerSecMedian >= 0.95 * base.reqPerSecMedian,
    },
  };
  return { variants, runs, problems, rows: compare(variants, runs, goals) };
}

async function main(): Promise<number> {
  const setup = setUp(
    'bench:plugins',
    'Gatehouse plugin hooks bench (issue #7)',
    '  (two phases: --connections, then 1 connection)\n',
  );
  if (!setup) return 0;
  const { options, startedAt, machine } = setup;
  const token = generateToken();
  const tag = `bench.${startedAt.getTime().toString(36)}`;
  let gh: Instance | null = null;
  const pluginsDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-plugins-dir-'));
  try {
    const hookPort = await freePort(HOST);
    const hookUrl = `http://${HOST}:${hookPort}`;
    const hook = startChild(
      'hook-server',
      process.execPath,
      ['--import', 'tsx', 'bench/plugins/hook-server.ts'],
      { PORT: String(hookPort), HOST },
    );
    await waitForHttp(hook, `${hookUrl}/count`);
    log(`hook server: bare node:http (pid ${hook.pid}) at ${hookUrl}, answers {"allow":true}`);
    mkdirSync(join(pluginsDir, 'folder-policy'));
    writeFileSync(join(pluginsDir, 'folder-policy', 'index.mjs'), FOLDER_PLUGIN);
    gh = await startSeeded({
      name: 'plugins',
      token,
      seed: options.seed,
      tag,
      env: { PLUGINS_DIR: pluginsDir },
    });
    const plugins = await register(gh, token, `${hookUrl}/hook`);
    log(
      `plugins registered (disabled): username-policy ${plugins.module.id} (config ${JSON.stringify(POLICY)}), http bench-allow ${plugins.http.id}`,
    );
    const before = countRows(gh.dataDir);

    const ctx = { gh, token, plugins, hookUrl, pids: [gh.child.pid, hook.pid], tag };
    const phases = [
      await phase(ctx, options),
      options.connections === 1 ? null : await phase(ctx, { ...options, connections: 1 }),
    ].filter((p) => p !== null);
    // Gatehouse's own timing of each hook call (performance.now around it), over its last 1,000 calls.
    const hookHealth = {
      module: await health(gh, token, plugins.module.id),
      http: await health(gh, token, plugins.http.id),
      folder: await health(gh, token, plugins.folder.id),
    };
    await stopChild(gh.child);
    await stopChild(hook);
    const after = countRows(gh.dataDir);

    const problems = phases.flatMap((p) => [...p.problems, ...statusProblems(p.rows)]);
    const created = phases
      .flatMap((p) => Object.values(p.runs).flat())
      .reduce((n, r) => n + r.result['2xx'], 0);
    const grew = after.users - before.users;
    const allowance = phases.reduce(
      (n, p) => n + Object.values(p.runs).flat().length * options.connections,
      0,
    );
    if (grew < created || grew > created + allowance)
      problems.push(`users grew by ${grew}, autocannon counted ${created} 201s`);
    if (after.auditOther !== before.auditOther)
      problems.push(
        `${after.auditOther - before.auditOther} denied/error audit rows (a plugin refused or failed)`,
      );

    const rows: Compared[] = phases.flatMap((p) => p.rows);
    log(
      `\nPOST /api/users: median of ${options.runs} rounds of ${options.duration} s; ratio and Δ p50 against no plugin, per phase\n`,
    );
    for (const p of phases) log(`${textTable(p.rows)}\n`);
    log(
      `hook calls as Gatehouse timed them (p99 of the last 1,000): module ${String(hookHealth.module.p99_ms?.toFixed(3))} ms, http ${String(hookHealth.http.p99_ms?.toFixed(3))} ms, PLUGINS_DIR module ${String(hookHealth.folder.p99_ms?.toFixed(3))} ms`,
    );
    log('server CPU µs/req split (median over rounds): Gatehouse + hook server');
    const split = (runs: Run[], pid: number) =>
      median(
        runs.filter((r) => r.phase === 'measured').map((r) => r.cpuUsPerRequestByPid?.[pid] ?? Number.NaN),
      );
    for (const p of phases)
      for (const v of p.variants)
        log(
          `  ${v.title.padEnd(44)} ${split(p.runs[v.key] ?? [], gh.child.pid)} + ${split(p.runs[v.key] ?? [], hook.pid)}`,
        );
    if (gh.child.warnings.length)
      log(
        `Gatehouse logged ${gh.child.warnings.length} warning/error lines; first ones:\n${gh.child.warnings.slice(0, 5).join('\n')}`,
      );
    log(
      problems.length
        ? `\nPROBLEMS:\n- ${problems.join('\n- ')}`
        : `\nAll ${created} responses 201, every one through its hook, no hook failure, users grew by ${grew}.`,
    );
    writeReport(
      'plugins',
      startedAt,
      {
        options,
        machine,
        policy: POLICY,
        httpManifest: HTTP_MANIFEST,
        summaries: rows,
        hookHealth,
        runs: phases.map((p) => p.runs),
        dbCounts: { before, after },
        warnings: gh.child.warnings,
        problems,
      },
      phases.map((p) => markdownTable(p.rows)).join('\n\n'),
    );
    return problems.length ? 1 : 0;
  } finally {
    await stopAllChildren();
    if (gh) rmSync(gh.dataDir, { recursive: true, force: true });
    rmSync(pluginsDir, { recursive: true, force: true });
  }
}

runBench(main);
