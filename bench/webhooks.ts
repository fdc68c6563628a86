/**
 * `npm run bench:webhooks`: webhook delivery throughput and commit-to-delivery latency, on SQLite and on
 * PostgreSQL (see bench/README.md, "Webhook delivery benchmark"). For each dialect, against a fresh
 * database, one Gatehouse (`node dist/src/main.js serve`) and one receiver (bench/webhooks/receiver.ts):
 *
 * 1. throughput: `--events` events committed to the outbox in one transaction, timed until all arrived;
 *    then the same receiver driven by a plain undici loop at `--baseline-concurrency` (the transport alone);
 * 2. latency: `--rate` POST /api/users a second for `--warmup` + `--duration` seconds, 201 → arrival.
 *
 * Every child is stopped by pid, and every PostgreSQL database it made is dropped, on success, on failure
 * and on Ctrl-C.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { runBaseline } from './webhooks/baseline.js';
import {
  createPgDatabase,
  databaseUrlFor,
  dropPgDatabase,
  openBenchDb,
  type BenchDb,
  type Counts,
  type Dialect,
} from './webhooks/db.js';
import { runLatency } from './webhooks/latency.js';
import { describeMachine, loadavg } from './webhooks/machine.js';
import {
  cpuSeconds,
  freePort,
  killAllNow,
  schedSeconds,
  startReceiver,
  stopAll,
  stopProc,
  type Proc,
} from './webhooks/procs.js';
import { machineLine, table, type CpuWindow, type DialectResult } from './webhooks/report.js';
import { configure, generateToken, startGatehouse } from './webhooks/server.js';
import { runThroughput } from './webhooks/throughput.js';

const HELP = `npm run bench:webhooks -- [options]

  --dialect sqlite|postgres|both   default both
  --events N                       throughput: events committed at once (default 20000)
  --retained N                     sent events already in the outbox, as webhooks.retention_days keeps them
                                   for recover (default 0; a month at 1 event/s is ~2,600,000)
  --baseline-concurrency A,B       undici loop concurrencies for the transport baseline (default 8,64)
  --rate R                         latency: POST /api/users per second (default 500)
  --duration S                     latency: measured seconds (default 20)
  --warmup S                       latency: seconds sent first and not counted (default 2)
  --skip-latency / --skip-throughput
  --poll-ms N                      what-if: run the worker with start(N) instead of 200 ms (bench/webhooks/serve-variant.ts)
  --pg-admin-url URL               default postgres://postgres@127.0.0.1:5432/postgres
  --timeout S                      give up waiting for a phase's deliveries after S seconds (default 180)
`;

const { values: args } = parseArgs({
  options: {
    dialect: { type: 'string', default: 'both' },
    events: { type: 'string', default: '20000' },
    retained: { type: 'string', default: '0' },
    'baseline-concurrency': { type: 'string', default: '8,64' },
    rate: { type: 'string', default: '500' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    'skip-latency': { type: 'boolean', default: false },
    'skip-throughput': { type: 'boolean', default: false },
    'poll-ms': { type: 'string' },
    'pg-admin-url': {
      type: 'string',
      default: process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
    timeout: { type: 'string', default: '180' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const positive = (name: string, v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not ${v}`);
  return n;
};
if (!['sqlite', 'postgres', 'both'].includes(args.dialect))
  throw new Error(`--dialect must be sqlite, postgres or both, not ${args.dialect}`);
const dialects: Dialect[] = args.dialect === 'both' ? ['sqlite', 'postgres'] : [args.dialect as Dialect];
const opts = {
  events: Math.round(positive('events', args.events)),
  retained: args.retained === '0' ? 0 : Math.round(positive('retained', args.retained)),
  concurrencies: args['baseline-concurrency']
    .split(',')
    .map((c) => Math.round(positive('baseline-concurrency', c))),
  rate: positive('rate', args.rate),
  durationS: positive('duration', args.duration),
  warmupS: Number(args.warmup),
  pollMs: args['poll-ms'] === undefined ? null : positive('poll-ms', args['poll-ms']),
  timeoutMs: positive('timeout', args.timeout) * 1000,
};
const HOST = '127.0.0.1';
const RUN = `${Date.now().toString(36)}${process.pid.toString(36)}`;
const log = (s: string) => process.stdout.write(`${s}\n`);
/** One line rewritten in place (a terminal), or nothing (a log file: the final line says it). */
const progress = (s: string) => {
  if (process.stdout.isTTY) process.stdout.write(`\r${s}`);
};

const pgDatabases = new Set<string>();
const tempDirs = new Set<string>();

async function cleanup(): Promise<void> {
  await stopAll();
  for (const name of pgDatabases) {
    await dropPgDatabase(args['pg-admin-url'], name).catch((err: unknown) =>
      log(`could not drop database ${name}: ${String(err)}`),
    );
    pgDatabases.delete(name);
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`\n${signal}: stopping children and dropping databases…`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.on('exit', killAllNow);

/** Waits until the server has recorded `expected` succeeded deliveries (it records each just after the 2xx). */
async function settle(db: BenchDb, expected: number): Promise<Counts> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const c = await db.counts();
    if ((c.deliveries.succeeded ?? 0) >= expected || Date.now() > deadline) return c;
    await sleep(200);
  }
}

function cpuWindow(server: Proc, receiver: Proc) {
  const s0 = cpuSeconds(server.pid);
  const r0 = cpuSeconds(receiver.pid);
  const q0 = schedSeconds(server.pid);
  const t0 = performance.now();
  return (): CpuWindow => {
    const q = schedSeconds(server.pid);
    return {
      serverCpuS: cpuSeconds(server.pid) - s0,
      receiverCpuS: cpuSeconds(receiver.pid) - r0,
      wallS: (performance.now() - t0) / 1000,
      loopRunS: q.runS - q0.runS,
      loopWaitS: q.waitS - q0.waitS,
    };
  };
}

async function runDialect(dialect: Dialect): Promise<DialectResult> {
  log(`\n== ${dialect}${opts.pollMs === null ? '' : ` (worker poll ${opts.pollMs} ms, what-if)`} ==`);
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-wh-'));
  tempDirs.add(dataDir);
  let databaseUrl: string | undefined;
  if (dialect === 'postgres') {
    const name = `gatehouse_bench_wh_${RUN}`;
    pgDatabases.add(name);
    await createPgDatabase(args['pg-admin-url'], name);
    databaseUrl = databaseUrlFor(args['pg-admin-url'], name);
  }
  const receiver = await startReceiver(HOST);
  const g = await startGatehouse({
    host: HOST,
    port: await freePort(HOST),
    token: generateToken(),
    dataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(opts.pollMs === null ? {} : { pollMs: opts.pollMs }),
  });
  const db = openBenchDb(
    databaseUrl ? { dialect: 'postgres', url: databaseUrl } : { dialect: 'sqlite', dataDir },
  );
  const problems: string[] = [];
  try {
    if (opts.retained) {
      const t0 = performance.now();
      await db.insertSent(opts.retained, (done) =>
        progress(
          `  retained events: ${done.toLocaleString('en-US')} of ${opts.retained.toLocaleString('en-US')}`,
        ),
      );
      log(
        `\n  ${opts.retained.toLocaleString('en-US')} sent events retained in the outbox (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
    }
    await configure(g, receiver.url);
    await sleep(5); // events created strictly after the endpoint
    let expected = 0;
    let throughput = null;
    let throughputCpu: CpuWindow | null = null;
    const baselines = [];
    if (!args['skip-throughput']) {
      log(`throughput: ${opts.events} events`);
      const cpu = cpuWindow(g.proc, receiver.proc);
      throughput = await runThroughput({
        receiver,
        db,
        n: opts.events,
        tag: `wh${RUN}`,
        timeoutMs: opts.timeoutMs,
        log,
      });
      throughputCpu = cpu();
      expected += throughput.delivered;
      log(
        `  ${throughput.delivered} delivered: ${Math.round(throughput.perSecond)}/s commit → last, ${Math.round(throughput.sendPerSecond)}/s first → last, first after ${Math.round(throughput.firstMs)} ms`,
      );
      if (!throughput.complete)
        problems.push(`throughput: ${throughput.delivered} of ${throughput.n} delivered before the timeout`);
      if (throughput.duplicates) problems.push(`throughput: ${throughput.duplicates} duplicate deliveries`);
      await settle(db, expected);
      for (const c of opts.concurrencies) {
        const b = await runBaseline(receiver, opts.events, c);
        log(
          `  baseline undici loop, concurrency ${c}: ${Math.round(b.perSecond)}/s (${b.connectionsUsed} connections)`,
        );
        if (b.non2xx || b.errors) problems.push(`baseline c=${c}: ${b.non2xx} non-2xx, ${b.errors} errors`);
        baselines.push(b);
      }
    }
    let latency = null;
    let latencyCpu = null;
    if (!args['skip-latency']) {
      log(`latency: ${opts.rate}/s for ${opts.warmupS} s warmup + ${opts.durationS} s`);
      const cpu = cpuWindow(g.proc, receiver.proc);
      latency = await runLatency({
        g,
        receiver,
        db,
        rate: opts.rate,
        warmupS: opts.warmupS,
        durationS: opts.durationS,
        tag: `wh${RUN}`,
        timeoutMs: opts.timeoutMs,
        log,
      });
      latencyCpu = cpu();
      expected += latency.created;
      const c = latency.commitToDelivery;
      log(
        `  commit → delivery p50 ${c.p50} ms, p99 ${c.p99} ms, max ${c.max} ms over ${c.n} events (${latency.missing} missing)`,
      );
      if (latency.missing) problems.push(`latency: ${latency.missing} events never arrived`);
      if (latency.non201 || latency.errors)
        problems.push(`latency: ${latency.non201} non-201 answers, ${latency.errors} request errors`);
      if (latency.duplicates) problems.push(`latency: ${latency.duplicates} duplicate deliveries`);
    }
    const counts = await settle(db, expected);
    if ((counts.deliveries.succeeded ?? 0) !== expected)
      problems.push(
        `database: ${counts.deliveries.succeeded ?? 0} succeeded deliveries, expected ${expected}`,
      );
    if (counts.attempts !== expected || counts.failedAttempts)
      problems.push(
        `database: ${counts.attempts} attempts (${counts.failedAttempts} failed), expected ${expected}, none failed`,
      );
    if (counts.outboxPending)
      problems.push(`database: ${counts.outboxPending} outbox events never fanned out`);
    return {
      dialect,
      dbVersion: await db.version(),
      pollMs: opts.pollMs,
      throughput,
      throughputCpu,
      baselines,
      latency,
      latencyCpu,
      counts,
      problems,
      serverWarnings: g.proc.output.filter((l) => /"level":(40|50|60)|warn|error/i.test(l)).slice(0, 50),
    };
  } finally {
    await db.close();
    await stopProc(g.proc);
    await stopProc(receiver.proc);
    if (databaseUrl) {
      for (const name of pgDatabases) await dropPgDatabase(args['pg-admin-url'], name);
      pgDatabases.clear();
    }
    rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
  }
}

async function main(): Promise<number> {
  const machine = describeMachine();
  const results: DialectResult[] = [];
  for (const d of dialects) results.push(await runDialect(d));
  const versions: Record<string, string> = {};
  for (const r of results) versions[r.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'] = r.dbVersion;
  const retained = opts.retained
    ? `; ${opts.retained.toLocaleString('en-US')} sent events retained in the outbox`
    : '';
  const md = `${machineLine(machine, versions)}; load average at end ${loadavg().join(' ')}${retained}\n\n${table(results)}\n`;
  log(`\n${md}`);
  for (const r of results) {
    for (const p of r.problems) log(`PROBLEM (${r.dialect}): ${p}`);
    if (r.serverWarnings.length) log(`Gatehouse (${r.dialect}) logged:\n${r.serverWarnings.join('\n')}`);
  }
  mkdirSync('bench/out', { recursive: true });
  const stamp = machine.date.replace(/[:.]/g, '-');
  const base = `bench/out/webhooks-${stamp}`;
  writeFileSync(
    `${base}.json`,
    JSON.stringify({ options: opts, machine, loadavgAtEnd: loadavg(), results }, null, 2),
  );
  writeFileSync(`${base}.md`, md);
  log(`wrote ${base}.json and ${base}.md`);
  return results.some((r) => r.problems.length) ? 1 : 0;
}

// After Ctrl-C the signal handler cleans up and exits; whatever the interrupted run does next is moot.
main()
  .then(async (code) => {
    if (interrupted) return;
    await cleanup();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    if (interrupted) return;
    log(`bench:webhooks failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanup();
    process.exit(1);
  });
