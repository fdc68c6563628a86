/**
 * HTTP benchmark: a bare `node:http` baseline, then Gatehouse on SQLite, under the same autocannon load.
 * `npm run bench` builds first, then runs this file; see bench/README.md for the flags and how to read it.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startChild, stopAllChildren, stopChild, waitForHttp } from './lib/children.js';
import { runBench } from './lib/compare.js';
import {
  BENCH_LIMIT,
  MAIN,
  countRows,
  liftRateLimit,
  generateToken,
  sanityCheck,
  scrubInheritedEnv,
  seedUsers,
  startGatehouse,
  type DbCounts,
} from './lib/gatehouse.js';
import { createRequest, getByIdRequest, listRequest, measure, type Run, type Scenario } from './lib/load.js';
import { describeMachine, type Machine } from './lib/machine.js';
import { parseOptions, usage, type BenchOptions } from './lib/options.js';
import { runPostgresLeg, type PostgresLeg } from './lib/postgres-leg.js';
import { markdownTable, summarize, textTable, type Summary } from './lib/report.js';

const HOST = '127.0.0.1';
const OUT_DIR = 'bench/out';

const log = (line: string) => process.stdout.write(`${line}\n`);

type Expected = { createdCounted: number; inFlightAllowance: number };

type Report = {
  startedAt: string;
  finishedAt: string;
  options: BenchOptions;
  machine: Machine;
  loadavgAtEnd: number[];
  summaries: Summary[];
  runs: Record<string, Run[]>;
  dbCountsBeforeLoad: DbCounts;
  dbCounts: DbCounts;
  expectedCounts: Expected;
  gatehouseWarnings: string[];
  /** Resident memory of `gatehouse serve` after start and IDLE_S seconds with no request (a figure, not a goal check). */
  idleRss: IdleRss | null;
  problems: string[];
};

/** Seconds the freshly started server is left alone before its resident memory is read. */
const IDLE_S = 5;

type IdleRss = { afterS: number; vmRssMiB: number; rssAnonMiB: number; rssFileMiB: number };

/** VmRSS and its anonymous and file-backed parts from /proc (Linux only; null elsewhere). */
function residentMemory(pid: number): Omit<IdleRss, 'afterS'> | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const mib = (field: string) => Math.round((kib(field) / 1024) * 10) / 10;
    return { vmRssMiB: mib('VmRSS'), rssAnonMiB: mib('RssAnon'), rssFileMiB: mib('RssFile') };
  } catch {
    return null;
  }
}

/** Ids shaped like Gatehouse's, so the baseline's requests are the same size as the real GETs. */
function fakeIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `user_01m8g7gkxcfaq9w8bk${String(i).padStart(6, '0')}`);
}

async function runBaseline(options: BenchOptions, token: string): Promise<Run[]> {
  const port = await freePort(HOST);
  const child = startChild('baseline', process.execPath, ['--import', 'tsx', 'bench/baseline-server.ts'], {
    PORT: String(port),
    HOST,
  });
  try {
    const url = `http://${HOST}:${port}`;
    await waitForHttp(child, `${url}/healthz`);
    log(`\nbaseline: bare node:http (pid ${child.pid}) at ${url}`);
    return await measure(
      url,
      child.pid,
      'baseline',
      getByIdRequest(token, fakeIds(options.seed)),
      options,
      log,
    );
  } finally {
    await stopChild(child);
  }
}

type GatehouseOutcome = {
  runs: Record<string, Run[]>;
  scenarios: Scenario[];
  before: DbCounts;
  counts: DbCounts;
  warnings: string[];
  idleRss: IdleRss | null;
};

async function runGatehouse(options: BenchOptions, token: string, tag: string): Promise<GatehouseOutcome> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const port = await freePort(HOST);
  const url = `http://${HOST}:${port}`;
  try {
    const child = await startGatehouse({ host: HOST, port, dataDir, token });
    log(`\ngatehouse: ${MAIN} serve (pid ${child.pid}) at ${url}, SQLite in ${dataDir}`);
    await sleep(IDLE_S * 1000);
    const memory = residentMemory(child.pid);
    const idleRss = memory && { afterS: IDLE_S, ...memory };
    if (idleRss)
      log(
        `  idle RSS ${IDLE_S} s after start: ${idleRss.vmRssMiB} MiB (anonymous ${idleRss.rssAnonMiB}, file-backed ${idleRss.rssFileMiB})`,
      );
    const tokenId = await liftRateLimit(url, token);
    log(
      `  rate limit for the bench token ${tokenId}: ${BENCH_LIMIT.max} per ${BENCH_LIMIT.window_s} s (config by_token)`,
    );
    const ids = await seedUsers(url, token, options.seed, tag);
    await sanityCheck(url, token, ids);
    log(`  seeded ${ids.length} users; one GET, one list checked by hand`);
    // Read through a second SQLite connection (WAL lets it run beside the server's).
    const before = countRows(dataDir);

    const scenarios: Scenario[] = [
      { key: 'get', title: 'GET /api/users/{id}', goal: 0.5, request: getByIdRequest(token, ids) },
      { key: 'list', title: 'GET /api/users?limit=50', goal: null, request: listRequest(token) },
      { key: 'create', title: 'POST /api/users', goal: 0.2, request: createRequest(token, tag) },
    ];
    const runs: Record<string, Run[]> = {};
    for (const s of scenarios)
      runs[s.key] = await measure(url, child.pid, s.key.padEnd(8), s.request, options, log);

    await stopChild(child);
    return { runs, scenarios, before, counts: countRows(dataDir), warnings: child.warnings, idleRss };
  } finally {
    await stopAllChildren();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Every successful change writes one user (for a create), one audit row and one outbox row in one transaction,
 * so each table grows by the POSTs counted. autocannon stops counting at the end of a run while up to
 * `connections × pipelining` requests are still in flight; the server completes those, so the tables may hold
 * up to that many more rows per run than counted.
 */
function checkCounts(
  before: DbCounts,
  after: DbCounts,
  createRuns: Run[],
  options: BenchOptions,
  problems: string[],
): Expected {
  const counted = createRuns.reduce((n, r) => n + r.result['2xx'], 0);
  const inFlight = createRuns.length * options.connections * options.pipelining;
  const expected = { createdCounted: counted, inFlightAllowance: inFlight };
  const check = (what: string, from: number, to: number) => {
    const grew = to - from;
    if (grew < counted || grew > counted + inFlight)
      problems.push(`${what}: grew by ${grew} rows, expected ${counted} to ${counted + inFlight}`);
  };
  check('users', before.users, after.users);
  check('outbox', before.outbox, after.outbox);
  check('audit_events (success)', before.auditSuccess, after.auditSuccess);
  if (after.auditOther !== before.auditOther)
    problems.push(`audit_events: ${after.auditOther - before.auditOther} new rows with outcome denied/error`);
  if (after.users - before.users !== after.outbox - before.outbox) {
    problems.push(
      `users grew by ${after.users - before.users} but outbox by ${after.outbox - before.outbox}`,
    );
  }
  return expected;
}

/**
 * The PostgreSQL leg's tables grew by at least its counted POSTs (the warmup's and those in flight at each run's
 * end come on top), and each create wrote one user, one audit row and one outbox row.
 */
function checkPostgresCounts(leg: PostgresLeg, problems: string[]): void {
  const counted = leg.runs.reduce((n, r) => n + r.result['2xx'], 0);
  for (const [what, grew] of Object.entries(leg.grew))
    if (grew < counted)
      problems.push(`${leg.scenario.title} ${what}: grew by ${grew} rows, expected at least ${counted}`);
  if (leg.grew.users !== leg.grew.outbox || leg.grew.users !== leg.grew.auditSuccess)
    problems.push(
      `${leg.scenario.title}: users grew by ${leg.grew.users}, outbox by ${leg.grew.outbox}, audit by ${leg.grew.auditSuccess}`,
    );
}

function printMachine(m: Machine): void {
  log(`machine: ${m.nproc} cpus (${m.cpuModel}), ${m.memTotal} RAM, ${m.os}`);
  log(
    `         node ${m.node}, SQLite ${m.sqlite} (better-sqlite3 ${m.betterSqlite3}), autocannon ${m.autocannon}`,
  );
  log(`         load average at start: ${m.loadavgAtStart.join(' ')}`);
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm run bench does).`);
  scrubInheritedEnv();
  const startedAt = new Date();
  const machine = describeMachine();
  const tag = `bench.${startedAt.getTime().toString(36)}`;
  log(`Gatehouse HTTP bench, ${startedAt.toISOString()}`);
  printMachine(machine);
  log(
    `load: autocannon, ${options.connections} connections, pipelining ${options.pipelining}, ` +
      `${options.warmup} s warmup then ${options.runs} × ${options.duration} s measured per scenario`,
  );

  const token = generateToken();
  const baselineRuns = await runBaseline(options, token);
  const gh = await runGatehouse(options, token, tag);
  const pgLeg = await runPostgresLeg(options, token, tag, log);
  // The alternative measured in the same run: PostgreSQL with changes grouped as on SQLite.
  const pgGroupLeg = pgLeg && (await runPostgresLeg(options, token, tag, log, 'on'));
  const pgLegs = [pgLeg, pgGroupLeg].filter((l): l is PostgresLeg => l !== null);

  const baseline = summarize(
    { key: 'baseline', title: 'baseline: bare node:http', goal: null },
    baselineRuns,
    1,
  );
  const summaries = [
    { ...baseline, ratio: 1 },
    ...gh.scenarios.map((s) => summarize(s, gh.runs[s.key] ?? [], baseline.reqPerSecMedian)),
    ...pgLegs.map((l) => summarize(l.scenario, l.runs, baseline.reqPerSecMedian)),
  ];
  const problems: string[] = [];
  for (const s of summaries) {
    if (s.non2xx || s.errors || s.timeouts) {
      problems.push(
        `${s.title}: ${s.non2xx} non-2xx, ${s.errors} errors, ${s.timeouts} timeouts; status codes ${s.statusCodes}`,
      );
    }
  }
  const expectedCounts = checkCounts(gh.before, gh.counts, gh.runs.create ?? [], options, problems);
  for (const leg of pgLegs) checkPostgresCounts(leg, problems);

  log(
    `\nResults: median of ${options.runs} runs of ${options.duration} s each (req/s = autocannon's mean of per-second samples; latency in ms)\n`,
  );
  log(textTable(summaries));
  log(
    `\nSQLite after the run: ${gh.counts.users} users, ${gh.counts.outbox} outbox rows, ` +
      `${gh.counts.auditSuccess} audit rows (success), ${gh.counts.auditOther} other, ${(gh.counts.fileBytes / 2 ** 20).toFixed(1)} MiB`,
  );
  if (gh.warnings.length)
    log(
      `\nGatehouse logged ${gh.warnings.length} warning/error lines; first ones:\n${gh.warnings.slice(0, 5).join('\n')}`,
    );
  log(
    problems.length
      ? `\nPROBLEMS:\n- ${problems.join('\n- ')}`
      : '\nNo non-2xx responses, no errors, row counts as expected.',
  );

  const finishedAt = new Date();
  const loadavgAtEnd = loadavg().map((l) => Math.round(l * 100) / 100);
  log(
    `\nLoad average at start ${machine.loadavgAtStart.join(' ')}, at end ${loadavgAtEnd.join(' ')}; took ${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s`,
  );
  const report: Report = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    options,
    machine,
    loadavgAtEnd,
    summaries,
    runs: {
      baseline: baselineRuns,
      ...gh.runs,
      ...Object.fromEntries(pgLegs.map((l) => [l.scenario.key, l.runs])),
    },
    dbCountsBeforeLoad: gh.before,
    dbCounts: gh.counts,
    expectedCounts,
    gatehouseWarnings: gh.warnings,
    idleRss: gh.idleRss,
    problems,
  };
  mkdirSync(OUT_DIR, { recursive: true });
  const stem = join(OUT_DIR, `http-${startedAt.toISOString().replace(/[:.]/g, '-')}`);
  writeFileSync(`${stem}.json`, `${JSON.stringify(report, null, 2)}\n`);
  const rssLine = gh.idleRss
    ? `\nIdle RSS of \`gatehouse serve\` (SQLite) ${gh.idleRss.afterS} s after start: ${gh.idleRss.vmRssMiB} MiB.\n`
    : '';
  writeFileSync(`${stem}.md`, `${markdownTable(summaries)}\n${rssLine}`);
  log(`\nRaw results: ${stem}.json (Markdown table: ${stem}.md)`);
  return problems.length ? 1 : 0;
}

runBench(main);
