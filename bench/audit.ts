/**
 * Audit log benchmark: seeds N events with a bulk loader (valid hash chain, realistic mix), starts
 * Gatehouse on the seeded database, and measures the audit query shapes, the NDJSON export and the
 * chain verification over HTTP, on SQLite and/or PostgreSQL. `npm run bench:audit -- --help`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describeMachine, type Machine } from './audit/machine.js';
import { loadPostgres } from './audit/load-postgres.js';
import { loadSqlite } from './audit/load-sqlite.js';
import { measureExport, measureShapes, measureVerify } from './audit/measure.js';
import { parseOptions, usage, type AuditBenchOptions, type Dialect } from './audit/options.js';
import { Probe } from './audit/probe.js';
import { checkGoals, dialectMarkdown, plansText, type DialectReport } from './audit/report.js';
import { planSeed } from './audit/seed.js';
import { buildShapes } from './audit/shapes.js';
import { fmtDuration } from './audit/progress.js';
import {
  generateToken,
  killAllNow,
  MAIN,
  memoryOf,
  migrate,
  request,
  runCli,
  startServer,
  stopServer,
  type Server,
  type Storage,
} from './audit/server.js';

const OUT_DIR = 'bench/out';
const log = (line: string) => process.stdout.write(`${line}\n`);

/** Cleanups still owed, run on Ctrl-C too: a 10M-event database is several GB. */
const owed = new Set<() => Promise<void>>();

type Target = {
  storage: Storage;
  where: string;
  /** A database made for this run (migrated and seeded here), or one kept by an earlier run (`--reuse`). */
  fresh: boolean;
  /** Where a kept database's admin token is written, and a reused one's is read. */
  tokenFile: string;
  probe: () => Probe;
  cleanup: () => Promise<void>;
};

async function pgAdmin(options: AuditBenchOptions, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${options.pgUrl}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function prepareTarget(dialect: Dialect, options: AuditBenchOptions, stamp: string): Promise<Target> {
  const keep = options.keep || options.reuse !== null;
  if (dialect === 'sqlite') {
    mkdirSync(options.dataDir, { recursive: true });
    const dir = options.reuse ?? mkdtempSync(join(options.dataDir, 'gatehouse-bench-audit-'));
    const file = join(dir, 'gatehouse.db');
    return {
      storage: { DATA_DIR: dir },
      where: file,
      fresh: options.reuse === null,
      tokenFile: join(dir, 'bench-token'),
      probe: () => Probe.sqlite(file),
      cleanup: async () => {
        if (keep) log(`  kept ${dir} (measure it again: --dialect sqlite --reuse ${dir})`);
        else rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = options.reuse ?? `gatehouse_bench_audit_${stamp}`;
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`not a database name: ${name}`);
  if (options.reuse === null) await pgAdmin(options, `create database ${name}`);
  const url = `${options.pgUrl}/${name}`;
  return {
    storage: { DATABASE_URL: url },
    where: url,
    fresh: options.reuse === null,
    tokenFile: join(OUT_DIR, `${name}.token`),
    probe: () => Probe.postgres(url),
    cleanup: async () => {
      if (keep)
        log(
          `  kept database ${name} (measure it again: --dialect postgres --reuse ${name}; drop it with: dropdb -h 127.0.0.1 -U postgres ${name})`,
        );
      else await pgAdmin(options, `drop database if exists ${name} with (force)`);
    },
  };
}

/** Migrates and seeds a fresh target; the events come before the bootstrap's (see planSeed). */
async function seedTarget(
  dialect: Dialect,
  target: Target,
  options: AuditBenchOptions,
): Promise<DialectReport['seed']> {
  migrate(target.storage);
  // Seeded before the first start: the events span the past year, and `ts` may not go backwards along
  // `seq`, so they must come before the bootstrap's events (which are stamped now).
  const plan = planSeed(options, Date.now());
  const loaded =
    dialect === 'sqlite' ? loadSqlite(target.where, plan) : await loadPostgres(target.where, plan);
  const seed = {
    rows: loaded.rows,
    seconds: loaded.seconds,
    rowsPerSecond: Math.round(loaded.rows / loaded.seconds),
    extraWhat: loaded.extraWhat,
    extraSeconds: loaded.extraSeconds,
  };
  log(
    `  seeded ${loaded.rows.toLocaleString('en-US')} events in ${fmtDuration(loaded.seconds)} (${seed.rowsPerSecond.toLocaleString('en-US')} rows/s), ${loaded.extraWhat} ${loaded.extraSeconds.toFixed(1)} s`,
  );
  return seed;
}

/** User actors by number of events, busiest first, without the bench's own admin. */
async function actorsByActivity(probe: Probe, exclude: string): Promise<string[]> {
  const rows = await probe.all(
    "select actor, count(*) as n from audit_events where actor not in ('system', 'anonymous', ?) group by actor order by n desc",
    [exclude],
  );
  return rows.map((r) => String(r.actor));
}

async function api<T>(
  server: Server,
  token: string,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const res = await request(server.base, token, path, init);
  if (res.status !== 200)
    throw new Error(`${init.method ?? 'GET'} ${path} answered ${res.status}: ${res.body.slice(0, 500)}`);
  return JSON.parse(res.body) as T;
}

async function runDialect(
  dialect: Dialect,
  options: AuditBenchOptions,
  freshToken: string,
  stamp: string,
  version: string,
): Promise<DialectReport> {
  const target = await prepareTarget(dialect, options, stamp);
  owed.add(target.cleanup);
  let server: Server | null = null;
  let probe: Probe | null = null;
  try {
    log(`\n== ${dialect}: ${target.where}${target.fresh ? '' : ' (reused)'}`);
    let token = freshToken;
    let seed: DialectReport['seed'] = null;
    if (target.fresh) {
      seed = await seedTarget(dialect, target, options);
      if (options.keep) writeFileSync(target.tokenFile, `${token}\n`, { mode: 0o600 });
    } else {
      token = readFileSync(target.tokenFile, 'utf8').trim();
    }

    server = await startServer(target.storage, token);
    await sleep(1000);
    const rssAtStart = Math.round(memoryOf(server.pid).rssMiB);
    log(`  gatehouse pid ${server.pid} at ${server.base}, RSS ${rssAtStart} MiB`);
    // 600 requests/min per token by default; the bench sends thousands. The limiter stays in the path.
    await api(server, token, '/api/config', {
      method: 'PATCH',
      body: { rate_limits: { default: { max: 1_000_000, window_s: 60 } } },
    });
    const head =
      (await api<{ data: { seq: number }[] }>(server, token, '/api/audit?limit=1')).data[0]?.seq ?? 0;
    const me = await api<{ id?: string; user?: { id?: string } }>(server, token, '/api/me');
    probe = target.probe();
    const actors = await actorsByActivity(probe, me.user?.id ?? me.id ?? '');

    const shapes = await buildShapes(probe, actors, head, options.depth, Date.now());
    log(
      `  measuring ${shapes.length} shapes: ${options.warmup} warmup + ${options.samples} samples each, interleaved`,
    );
    const loadBefore = Math.round(loadavg()[0]! * 100) / 100;
    const results = await measureShapes(server, token, shapes, options.warmup, options.samples, log);
    const first = results.find((s) => s.key === 'first')!.stats;
    const deep = results.find((s) => s.key === 'deep')!.stats;
    const firstAction = results.find((s) => s.key === 'first_action')!.stats;
    const deepAction = results.find((s) => s.key === 'deep_action')!.stats;

    const memory = {
      idleAtStartMiB: rssAtStart,
      afterQueriesMiB: Math.round(memoryOf(server.pid).rssMiB),
      hwmAfterQueriesMiB: Math.round(memoryOf(server.pid).hwmMiB),
    };
    // A fresh process for the export, so its RSS figure is the export's and not what the queries left.
    await stopServer(server);
    server = await startServer(target.storage, token);

    let exportPath = '/api/audit/export';
    let expectRows = head;
    let exportFromSeq = 1;
    if (options.exportRows > 0 && options.exportRows < head) {
      exportFromSeq = head - options.exportRows + 1;
      const row = await probe.one('select ts from audit_events where seq = ?', [exportFromSeq]);
      exportPath += `?since=${new Date(Number(row?.ts)).toISOString()}`;
      expectRows = options.exportRows;
    }
    const exp = await measureExport(server, token, exportPath, expectRows, `  export ${dialect}`);
    log(
      `  export: ${exp.rows.toLocaleString('en-US')} rows in ${exp.seconds} s = ${exp.rowsPerSecond.toLocaleString('en-US')} rows/s, peak RSS ${exp.rssPeakSampledMiB} MiB`,
    );
    // Same run, same rows: the database writing the lines and this process reading them, no Gatehouse between.
    const exportBaseline = await probe.lineBaseline(exportFromSeq);
    log(
      `  export baseline (the database alone): ${exportBaseline.rows.toLocaleString('en-US')} rows in ${exportBaseline.seconds} s = ${exportBaseline.rowsPerSecond.toLocaleString('en-US')} rows/s`,
    );

    const loadAfter = Math.round(loadavg()[0]! * 100) / 100;
    let verify: DialectReport['verify'] = null;
    if (options.verify) {
      verify = await measureVerify(server, token);
      log(
        `  verify over HTTP: ${verify.status}, ${verify.checked.toLocaleString('en-US')} events in ${verify.seconds.toFixed(1)} s${verify.status === 'failed' ? ` (${verify.detail})` : ''}; /healthz meanwhile p50 ${verify.healthzDuring.p50} ms, max ${verify.healthzDuring.max} ms`,
      );
    }
    await stopServer(server);
    let verifyCli: DialectReport['verifyCli'] = null;
    if (options.verify) {
      // The same walk in-process, without HTTP and its timeouts: `gatehouse audit verify`.
      const cli = await runCli(target.storage, ['audit', 'verify']);
      verifyCli = { code: cli.code, output: cli.stdout.split('\n').pop() ?? '', seconds: cli.seconds };
      log(`  gatehouse audit verify: exit ${cli.code}, ${verifyCli.output} in ${cli.seconds.toFixed(1)} s`);
    }
    const serverWarnings = server.output.filter((l) => /"level":(40|50|60)/.test(l)).slice(0, 20);

    const plans: DialectReport['plans'] = [];
    if (options.explain) {
      for (const s of results) {
        const worst = [...s.byPath]
          .filter((p) => p.path.startsWith('/api/audit?') || p.path === '/api/audit')
          .sort((a, b) => b.p99 - a.p99)[0];
        if (worst) plans.push({ key: s.key, ...(await probe.explain(worst.path)) });
      }
    }
    // Gatehouse never runs ANALYZE on SQLite, so the plans above are made without statistics. The same
    // shapes again after `PRAGMA analysis_limit = 1000; ANALYZE` (what `PRAGMA optimize` would do):
    const plansAnalyzed: DialectReport['plans'] = [];
    if (options.explain && dialect === 'sqlite') {
      await probe.all('pragma analysis_limit = 1000');
      await probe.all('analyze');
      for (const p of plans) plansAnalyzed.push({ key: p.key, ...(await probe.explain(p.path)) });
      // Back to what Gatehouse has: no statistics (a --reuse run must plan as this one did).
      await probe.all('drop table if exists sqlite_stat1');
      await probe.all('drop table if exists sqlite_stat4');
    }
    const report: DialectReport = {
      dialect,
      version,
      events: options.events,
      seed,
      headSeqAtStart: head,
      memory,
      loadavg: { beforeQueries: loadBefore, afterExport: loadAfter },
      sizes: await probe.sizes(),
      shapes: results,
      deepRatio: { p50: deep.p50 / first.p50, p99: deep.p99 / first.p99 },
      deepActionRatio: { p50: deepAction.p50 / firstAction.p50, p99: deepAction.p99 / firstAction.p99 },
      export: exp,
      exportBaseline,
      verify,
      verifyCli,
      plans,
      plansAnalyzed,
      misses: [],
      problems: results.flatMap((s) => s.problems.map((p) => `${s.key}: ${p}`)),
      serverWarnings,
    };
    if (exp.status !== 200) report.problems.push(`export answered ${exp.status}`);
    if (exp.rows < expectRows)
      report.problems.push(`export streamed ${exp.rows} rows, expected at least ${expectRows}`);
    if (verify && verify.status !== 'ok')
      report.problems.push(
        `GET /api/audit/verify: ${verify.status} after ${verify.seconds.toFixed(1)} s: ${verify.detail}`,
      );
    if (verifyCli && verifyCli.code !== 0)
      report.problems.push(`gatehouse audit verify: exit ${verifyCli.code}: ${verifyCli.output}`);
    report.misses = checkGoals(report);
    return report;
  } finally {
    if (server) await stopServer(server);
    await probe?.close();
    owed.delete(target.cleanup);
    await target.cleanup();
  }
}

function machineMarkdown(m: Machine, options: AuditBenchOptions, started: Date, seconds: number): string {
  return [
    `Run ${started.toISOString()} (${fmtDuration(seconds)}): \`npm run bench:audit -- ${process.argv.slice(2).join(' ')}\`, ` +
      `${options.warmup} warmup + ${options.samples} sequential samples per query shape over one keep-alive connection, shapes interleaved.`,
    `Machine: ${m.nproc} vCPU (${m.cpu}), ${m.memGiB} GiB RAM, ${m.os}; Node ${m.node}; SQLite ${m.sqlite} (better-sqlite3); PostgreSQL ${m.postgres ?? 'not used'} on the same machine.`,
    `Load average at start: ${m.loadavg.join(' ')}.`,
  ].join('\n');
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm run bench:audit does).`);
  const started = new Date();
  const stamp = started.getTime().toString(36);
  const machine = await describeMachine(options.dialects.includes('postgres') ? options.pgUrl : null);
  log(
    `Gatehouse audit bench ${started.toISOString()}: ${options.reuse === null ? `${options.events.toLocaleString('en-US')} events` : `reusing ${options.reuse}`}, ${options.dialects.join(' + ')}`,
  );
  log(
    `machine: ${machine.nproc} vCPU ${machine.cpu}, ${machine.memGiB} GiB, node ${machine.node}, SQLite ${machine.sqlite}, PostgreSQL ${machine.postgres ?? '-'}`,
  );
  const token = generateToken();
  const reports: DialectReport[] = [];
  mkdirSync(OUT_DIR, { recursive: true });
  const label = options.reuse === null ? String(options.events) : 'reuse';
  const stem = join(OUT_DIR, `audit-${label}-${started.toISOString().replace(/[:.]/g, '-')}`);
  // Written after every dialect, so a failure in the second one keeps the first one's figures.
  const write = (): string => {
    const seconds = (Date.now() - started.getTime()) / 1000;
    const md = [
      machineMarkdown(machine, options, started, seconds),
      '',
      ...reports.map(dialectMarkdown),
    ].join('\n');
    writeFileSync(
      `${stem}.json`,
      `${JSON.stringify({ started: started.toISOString(), seconds, options, machine, reports }, null, 2)}\n`,
    );
    writeFileSync(`${stem}.md`, `${md}\n`);
    writeFileSync(`${stem}-plans.txt`, reports.map(plansText).join('\n'));
    return md;
  };
  let md = '';
  for (const dialect of options.dialects) {
    const version = dialect === 'sqlite' ? machine.sqlite : (machine.postgres ?? '?').split(' ')[0]!;
    reports.push(await runDialect(dialect, options, token, stamp, version));
    md = write();
  }
  log(`\n${md}`);
  const misses = reports.flatMap((r) => r.misses);
  const problems = reports.flatMap((r) => r.problems.map((p) => `${r.dialect}: ${p}`));
  log(misses.length ? `GOALS MISSED:\n- ${misses.join('\n- ')}` : 'Every goal met.');
  if (problems.length) log(`PROBLEMS:\n- ${problems.join('\n- ')}`);
  log(`\nReport: ${stem}.md, raw: ${stem}.json, query plans: ${stem}-plans.txt`);
  return problems.length ? 1 : 0;
}

process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`\n${signal}: stopping Gatehouse, removing the bench databases`);
    killAllNow();
    void Promise.allSettled([...owed].map((c) => c())).finally(() => process.exit(130));
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `bench:audit failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    killAllNow();
    process.exitCode = 1;
  },
);
