/**
 * Issue #16, finding 3: `/healthz` latency while requests carrying a catastrophic regular expression run,
 * against `/healthz` alone in the same run. Goal: p99 under 100 ms in every phase.
 *
 * Phases, each `--duration` seconds, `--runs` rounds in rotating order:
 * - `alone`: only the /healthz probe.
 * - `control`: the same requests as `schema` with a value that matches at once (`a` × 10,000; 200 each):
 *   what such a request costs when no pattern is catastrophic.
 * - `schema`: `--connections` clients send `PUT /api/plugins/{id}/config?dry_run=true` with a 10,000-character
 *   value against a `config_schema` pattern `^(a+)+$` (400 each).
 * - `username`: the shipped `username-policy` with `pattern: "(a+)+"`; clients create users named 63 × `a`
 *   plus `-` (422 each).
 * - `spin`: a module plugin from PLUGINS_DIR whose before-hook runs `while (true) {}` (timeout 100 ms, policy
 *   fail); clients create users (503 each, one worker restart per request).
 * The probe sends one `GET /healthz` every 10 ms on its own keep-alive connection without waiting for the last
 * one (an open loop, so a stalled server shows as latency, not as fewer samples). `npm run bench:redos`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort, removeOnInterrupt, stopAllChildren, stopChild } from './lib/children.js';
import { log, runBench, setUp, writeReport } from './lib/compare.js';
import { apiExpect, generateToken, liftRateLimit, patchConfig, startGatehouse } from './lib/gatehouse.js';
import { formatMarkdown, formatText, median } from './lib/report.js';

const HOST = '127.0.0.1';
const PROBE_EVERY_MS = 10;
const GOAL_P99_MS = 100;
const EVIL_VALUE = `${'a'.repeat(9_999)}!`;
const EVIL_USERNAME = `${'a'.repeat(63)}-`; // 64 characters: the longest username the service passes to hooks
const SPINNER = `export default {
  name: 'bench-spinner', version: '1.0.0', hooks: { before: ['user.create'] }, timeout_ms: 100, failure_policy: 'fail',
  before() { while (true) {} },
};`;

type Phase = 'alone' | 'control' | 'schema' | 'username' | 'spin';
type Probe = { samples: number; p50: number; p99: number; max: number; errors: number };
type Round = {
  phase: Phase;
  probe: Probe;
  load: { requests: number; statuses: Record<string, number> } | null;
};

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Number.NaN;

/** Probes /healthz every PROBE_EVERY_MS for `ms`, each request timed from its own send. */
async function probe(base: URL, ms: number): Promise<Probe> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const times: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  const one = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const req = request({ host: base.hostname, port: base.port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) times.push(performance.now() - started);
          else errors += 1;
          resolve();
        });
      });
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end();
    });
  const end = performance.now() + ms;
  while (performance.now() < end) {
    inflight.push(one());
    await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
  }
  await Promise.all(inflight);
  agent.destroy();
  const sorted = times.sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
    errors,
  };
}

/** The attack requests of a phase, from `connections` autocannon clients, for `seconds`. */
function attack(
  url: string,
  token: string,
  phase: Exclude<Phase, 'alone'>,
  ids: { schema: string },
  connections: number,
  seconds: number,
) {
  let n = 0;
  const dryRun = phase === 'schema' || phase === 'control';
  const body = dryRun ? JSON.stringify({ v: phase === 'schema' ? EVIL_VALUE : 'a'.repeat(10_000) }) : null;
  return autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      {
        method: dryRun ? 'PUT' : 'POST',
        path: dryRun ? `/api/plugins/${ids.schema}/config?dry_run=true` : '/api/users',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body ? { body } : {}),
        setupRequest: (req) =>
          dryRun
            ? req
            : {
                ...req,
                body: JSON.stringify({ username: phase === 'username' ? EVIL_USERNAME : `spin.${(n += 1)}` }),
              },
      },
    ],
  });
}

async function main(): Promise<number> {
  const setup = setUp(
    'bench:redos',
    'Gatehouse /healthz under catastrophic patterns (issue #16)',
    '  (--connections: attack clients; --seed is unused)\n',
  );
  if (!setup) return 0;
  const { options, startedAt, machine } = setup;
  const token = generateToken();
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-redos-'));
  const pluginsDir = join(dataDir, 'plugins');
  removeOnInterrupt(dataDir);
  mkdirSync(join(pluginsDir, 'bench-spinner'), { recursive: true });
  writeFileSync(join(pluginsDir, 'bench-spinner', 'index.mjs'), SPINNER);
  try {
    const port = await freePort(HOST);
    const url = `http://${HOST}:${port}`;
    const gh = await startGatehouse({
      host: HOST,
      port,
      dataDir,
      token,
      env: { PLUGINS_DIR: pluginsDir },
      name: 'redos',
    });
    await liftRateLimit(url, token);
    await patchConfig(url, token, { webhooks: { allow_private_targets: true } });
    const post = (body: unknown) =>
      apiExpect<{ id: string }>(url, token, { method: 'POST', path: '/api/plugins', body, expected: 201 });
    const schema = await post({
      kind: 'http',
      url: `http://${HOST}:9/unused`,
      manifest: {
        name: 'bench-redos-schema',
        version: '1.0.0',
        config_schema: { type: 'object', properties: { v: { type: 'string', pattern: '^(a+)+$' } } },
      },
    });
    const policy = await post({
      kind: 'module',
      name: 'username-policy',
      config: { pattern: '(a+)+' },
      enabled: false,
    });
    const spinner = await post({ kind: 'module', name: 'bench-spinner', enabled: false });
    const toggle = (id: string, on: boolean) =>
      apiExpect(url, token, { method: 'POST', path: `/api/plugins/${id}/${on ? 'enable' : 'disable'}` });
    log(
      `Gatehouse (pid ${gh.pid}) at ${url}; plugins: schema ${schema.id}, username-policy ${policy.id}, bench-spinner ${spinner.id}`,
    );

    const phases: Phase[] = ['alone', 'control', 'schema', 'username', 'spin'];
    const rounds: Round[] = [];
    for (let r = 0; r < options.runs; r++) {
      for (let i = 0; i < phases.length; i++) {
        const phase = phases[(i + r) % phases.length] as Phase;
        await toggle(policy.id, phase === 'username');
        await toggle(spinner.id, phase === 'spin');
        const load =
          phase === 'alone'
            ? null
            : attack(url, token, phase, { schema: schema.id }, options.connections, options.duration);
        const [p, result] = await Promise.all([probe(new URL(url), options.duration * 1000), load]);
        const statuses: Record<string, number> = {};
        for (const [code, stat] of Object.entries(result?.statusCodeStats ?? {}))
          statuses[code] = stat.count ?? 0;
        const round: Round = {
          phase,
          probe: p,
          load: result ? { requests: result.requests.total, statuses } : null,
        };
        rounds.push(round);
        log(
          `round ${r + 1} ${phase.padEnd(8)} /healthz p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, max ${p.max.toFixed(2)} ms (${p.samples} samples, ${p.errors} errors)` +
            (round.load ? `; attack ${round.load.requests} requests ${JSON.stringify(statuses)}` : ''),
        );
      }
    }
    await stopChild(gh);

    const expected: Record<Phase, string> = {
      alone: '',
      control: '200',
      schema: '400',
      username: '422',
      spin: '503',
    };
    const problems: string[] = [];
    const header = [
      'phase',
      'attack requests (median)',
      '/healthz p50 ms',
      '/healthz p99 ms',
      'max ms',
      `goal p99 < ${GOAL_P99_MS} ms`,
    ];
    const rows = phases.map((phase) => {
      const mine = rounds.filter((x) => x.phase === phase);
      const p99 = median(mine.map((x) => x.probe.p99));
      const wrong = mine.flatMap((x) =>
        Object.keys(x.load?.statuses ?? {}).filter((s) => s !== expected[phase]),
      );
      if (wrong.length)
        problems.push(`${phase}: statuses ${[...new Set(wrong)].join(', ')} besides ${expected[phase]}`);
      if (mine.some((x) => x.probe.errors > 0)) problems.push(`${phase}: /healthz errors`);
      return [
        phase,
        phase === 'alone' ? '—' : String(median(mine.map((x) => x.load?.requests ?? 0))),
        median(mine.map((x) => x.probe.p50)).toFixed(2),
        p99.toFixed(2),
        Math.max(...mine.map((x) => x.probe.max)).toFixed(2),
        p99 < GOAL_P99_MS ? 'met' : 'missed',
      ];
    });
    log(
      `\n/healthz every ${PROBE_EVERY_MS} ms, median of ${options.runs} rounds of ${options.duration} s; attack with ${options.connections} connections\n`,
    );
    log(formatText(header, rows));
    log(
      problems.length
        ? `\nPROBLEMS:\n- ${problems.join('\n- ')}`
        : '\nEvery attack request answered with its expected status; no /healthz error.',
    );
    writeReport('redos', startedAt, { options, machine, rounds, problems }, formatMarkdown(header, rows));
    return problems.length || rows.some((r) => r[5] !== 'met') ? 1 : 0;
  } finally {
    await stopAllChildren();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

runBench(main);
