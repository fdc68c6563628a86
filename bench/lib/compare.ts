/**
 * Variants of one request compared in one run: every variant is warmed up, then measured round by round in
 * rotating order (round 1: A B C, round 2: B C A, …), so a change in the machine's load during the run hits
 * every variant alike instead of the last one. Used by bench/auth.ts, bench/ratelimit.ts, bench/plugins.ts.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { killAllChildrenNow, removeTempDirsNow, stopAllChildren } from './children.js';
import { describeRun, fire, type Request, type Run } from './load.js';
import { MAIN, scrubInheritedEnv } from './gatehouse.js';
import { describeMachine, type Machine } from './machine.js';
import { parseOptions, usage, type BenchOptions } from './options.js';
import { formatMarkdown, formatText, median, summarize, type Row, type Summary } from './report.js';

export const log = (line: string): void => void process.stdout.write(`${line}\n`);

export type Variant = {
  key: string;
  title: string;
  url: string;
  request: Request;
  /** Before each of this variant's runs (warmup included): e.g. a config switch or enabling a plugin. */
  prepare?: () => Promise<void>;
  /** After each run: checks that must hold (a hook called once per request…); returns problems found. */
  check?: (run: Run) => Promise<string[]>;
};

/** `BENCH_VARIANTS=key,key`: run only those variants (e.g. one at a time under `BENCH_CPU_PROF`); the first kept is the reference. */
export function selectVariants(variants: Variant[]): Variant[] {
  const wanted = process.env.BENCH_VARIANTS?.split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  return wanted?.length ? variants.filter((v) => wanted.includes(v.key)) : variants;
}

/** `pids`: every process under test (servers, Redis, plugin server); their CPU is not counted as others'. */
export async function runInterleaved(
  variants: readonly Variant[],
  pids: readonly number[],
  options: BenchOptions,
): Promise<{ runs: Record<string, Run[]>; problems: string[] }> {
  const runs: Record<string, Run[]> = {};
  const problems: string[] = [];
  const width = Math.max(...variants.map((v) => v.key.length));
  const once = async (v: Variant, phase: Run['phase'], index: number, seconds: number) => {
    await v.prepare?.();
    const run: Run = { phase, index, ...(await fire(v.url, v.request, options, seconds, pids)) };
    (runs[v.key] ??= []).push(run);
    log(
      `  ${v.key.padEnd(width)} ${phase === 'warmup' ? 'warmup   ' : `round ${index}/${options.runs}`}  ${describeRun(run)}`,
    );
    if (v.check) problems.push(...(await v.check(run)).map((p) => `${v.title}, ${phase} ${index}: ${p}`));
  };
  if (options.warmup > 0) for (const v of variants) await once(v, 'warmup', 0, options.warmup);
  for (let round = 1; round <= options.runs; round++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(round - 1 + i) % variants.length];
      if (v) await once(v, 'measured', round, options.duration);
    }
  }
  return { runs, problems };
}

/** A goal on one variant, judged against the first variant (the baseline). */
export type Goal = { text: string; met: (s: Summary, base: Summary) => boolean };

/**
 * `cpuUsPerRequest`: median over the rounds of the CPU the processes under test spent per response;
 * `cpuShare`: the first variant's over this one's, i.e. the req/s ratio a CPU-bound server would show.
 */
export type Compared = Summary & {
  deltaP50: number;
  goalText: string;
  met: boolean | null;
  cpuUsPerRequest: number;
  cpuShare: number;
};

const cpuPerRequest = (runs: readonly Run[]) =>
  median(runs.filter((r) => r.phase === 'measured').map((r) => r.serverCpuUsPerRequest ?? Number.NaN));

/** Summaries against the first variant: ratio of median req/s, and the difference of median p50. */
export function compare(
  variants: readonly Pick<Variant, 'key' | 'title'>[],
  runs: Record<string, Run[]>,
  goals: Record<string, Goal> = {},
): Compared[] {
  const first = variants[0];
  if (!first) return [];
  const base = summarize({ ...first, goal: null }, runs[first.key] ?? [], 1);
  const baseSummary = { ...base, ratio: 1 };
  return variants.map((v, i) => {
    const s =
      i === 0 ? baseSummary : summarize({ ...v, goal: null }, runs[v.key] ?? [], base.reqPerSecMedian);
    const goal = goals[v.key];
    const cpuUsPerRequest = cpuPerRequest(runs[v.key] ?? []);
    const cpuShare = cpuPerRequest(runs[first.key] ?? []) / cpuUsPerRequest;
    return {
      ...s,
      deltaP50: s.p50Median - base.p50Median,
      goalText: goal?.text ?? '—',
      met: goal ? goal.met(s, baseSummary) : null,
      cpuUsPerRequest,
      cpuShare,
    };
  });
}

/** Every non-2xx, connection error and timeout over warmup and measured runs: none may hide in the numbers. */
export function statusProblems(rows: readonly Compared[]): string[] {
  return rows
    .filter((s) => s.non2xx || s.errors || s.timeouts)
    .map(
      (s) =>
        `${s.title}: ${s.non2xx} non-2xx, ${s.errors} errors, ${s.timeouts} timeouts; status codes ${s.statusCodes}`,
    );
}

const HEADER = [
  'Variant',
  'req/s (median)',
  'req/s per round',
  'p50 ms',
  'p99 ms',
  'vs first',
  'Δ p50 ms',
  'server CPU µs/req',
  'CPU vs first',
  'goal',
  'met',
  'non-2xx/err',
  'others cpu',
];

function rows(list: readonly Compared[]): Row[] {
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  return list.map((s, i) => [
    s.title,
    int(s.reqPerSecMedian),
    s.reqPerSecRuns.map(int).join(' / '),
    s.p50Median.toFixed(2),
    s.p99Median.toFixed(2),
    i === 0 ? '1.00' : `${s.ratio.toFixed(2)} (${(s.ratio * 100).toFixed(0)}%)`,
    i === 0 ? '—' : `${s.deltaP50 >= 0 ? '+' : ''}${s.deltaP50.toFixed(2)}`,
    int(s.cpuUsPerRequest),
    i === 0 ? '1.00' : `${s.cpuShare.toFixed(2)} (${(s.cpuShare * 100).toFixed(0)}%)`,
    s.goalText,
    s.met === null ? '—' : s.met ? 'yes' : 'NO',
    `${s.non2xx}/${s.errors + s.timeouts}`,
    s.othersCoresMedian === null ? '?' : s.othersCoresMedian.toFixed(2),
  ]);
}

export const textTable = (list: readonly Compared[]): string => formatText(HEADER, rows(list));
export const markdownTable = (list: readonly Compared[]): string => formatMarkdown(HEADER, rows(list));

export type Setup = { options: BenchOptions; startedAt: Date; machine: Machine };

/**
 * The common start of a variant bench: flags (`--help` prints the usage with `extraHelp` and yields null),
 * the built server present, no DATABASE_URL/REDIS_URL inherited, the machine described and printed.
 */
export function setUp(script: string, title: string, extraHelp = ''): Setup | null {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(`${usage().replace('npm run bench', `npm run ${script}`)}${extraHelp}`);
    return null;
  }
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm run ${script} does).`);
  scrubInheritedEnv();
  const startedAt = new Date();
  const machine = describeMachine();
  printMachine(title, machine, options);
  return { options, startedAt, machine };
}

function printMachine(title: string, m: Machine, options: BenchOptions): void {
  log(`${title}, ${new Date().toISOString()}`);
  log(`machine: ${m.nproc} cpus (${m.cpuModel}), ${m.memTotal} RAM, ${m.os}`);
  log(
    `         node ${m.node}, SQLite ${m.sqlite} (better-sqlite3 ${m.betterSqlite3}), autocannon ${m.autocannon}`,
  );
  log(`         load average at start: ${m.loadavgAtStart.join(' ')}`);
  log(
    `load: autocannon, ${options.connections} connections, pipelining ${options.pipelining}; ` +
      `${options.warmup} s warmup per variant, then ${options.runs} rounds of ${options.duration} s per variant, variants in rotating order`,
  );
}

/** Writes `bench/out/<name>-<time>.json` and `.md` (git-ignored); the load average at the end goes in the JSON. */
export function writeReport(
  name: string,
  startedAt: Date,
  report: Record<string, unknown>,
  markdown: string,
): void {
  const finishedAt = new Date();
  const loadavgAtEnd = loadavg().map((l) => Math.round(l * 100) / 100);
  log(
    `\nLoad average at end ${loadavgAtEnd.join(' ')}; took ${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s`,
  );
  mkdirSync('bench/out', { recursive: true });
  const stem = join('bench/out', `${name}-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
  writeFileSync(
    `${stem}.json`,
    `${JSON.stringify({ startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(), loadavgAtEnd, ...report }, null, 2)}\n`,
  );
  writeFileSync(`${stem}.md`, `${markdown}\n`);
  log(`Raw results: ${stem}.json (Markdown: ${stem}.md)`);
}

/** Runs a bench's `main`, stopping every child by pid on exit, failure and Ctrl-C; exit code 1 on problems. */
export function runBench(main: () => Promise<number>): void {
  process.on('exit', killAllChildrenNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      log(`\n${signal}: stopping the servers`);
      void stopAllChildren().finally(() => {
        removeTempDirsNow();
        process.exit(130);
      });
    });
  }
  main()
    .then((code) => {
      process.exitCode = code;
    })
    .catch(async (err: unknown) => {
      process.stderr.write(
        `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      await stopAllChildren();
      process.exitCode = 1;
    });
}
