/**
 * `npm run bench:load`: a mixed workload (reads, writes, audit queries; every write a webhook delivery)
 * against two Gatehouse instances on one PostgreSQL and one Redis, beside one instance on SQLite, in one run.
 *
 * For each topology: a closed-loop phase finds the peak throughput, then an open-loop phase offers half of
 * it for `--seconds` and reports throughput, p50/p99, errors by status, and RSS per instance sampled every
 * second (first minute against last minute). Afterwards every write's event must have reached the receiver,
 * and no event may have been in flight at the receiver twice at once.
 *
 * Goal (issue 9): zero errors other than 429, no lost or duplicated-at-once delivery, p99 ≤ 100 ms at half of
 * the measured peak, memory flat over the run.
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { freePort, killAllChildrenNow, stopAllChildren, type Child } from './lib/children.js';
import {
  apiExpect,
  generateToken,
  liftRateLimit,
  scrubInheritedEnv,
  seedUsers,
  startGatehouse,
} from './lib/gatehouse.js';
import { describeMachine } from './lib/machine.js';
import { formatMarkdown } from './lib/report.js';

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOST = '127.0.0.1';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    'peak-seconds': { type: 'string', default: '15' },
    connections: { type: 'string', default: '32' },
    'pg-url': { type: 'string', default: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432' },
    'redis-url': { type: 'string', default: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/7' },
    'skip-sqlite': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  log(
    `Usage: npm run bench:load -- [--seconds 120] [--peak-seconds 15] [--connections 32] [--pg-url URL] [--redis-url URL] [--skip-sqlite]`,
  );
  process.exit(0);
}
const SECONDS = Number(args.seconds);
const PEAK_SECONDS = Number(args['peak-seconds']);
const CONNECTIONS = Number(args.connections);

/** A webhook receiver that records each event id and counts an id arriving while it is still in flight. */
async function startReceiver(): Promise<{
  server: Server;
  url: string;
  seen: Map<string, number>;
  concurrent: () => number;
}> {
  const seen = new Map<string, number>();
  const inFlight = new Set<string>();
  let concurrent = 0;
  const server = createServer((req, res) => {
    const id = String(req.headers['webhook-id']);
    if (inFlight.has(id)) concurrent += 1;
    inFlight.add(id);
    req.resume();
    req.on('end', () => {
      inFlight.delete(id);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, HOST, () => r()));
  return {
    server,
    url: `http://${HOST}:${(server.address() as AddressInfo).port}/hook`,
    seen,
    concurrent: () => concurrent,
  };
}

/** The mix, per 20 requests: 14 reads by id, 2 lists, 2 creates, 1 update, 1 audit query. */
const MIX = [
  'get',
  'get',
  'get',
  'get',
  'get',
  'get',
  'get',
  'list',
  'create',
  'get',
  'get',
  'get',
  'get',
  'audit',
  'get',
  'get',
  'list',
  'create',
  'get',
  'update',
] as const;

function mixedRequest(
  token: string,
  ids: readonly string[],
  tag: string,
  counts: Record<string, number>,
): autocannon.Request {
  let n = 0;
  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, 'content-type': 'application/json' };
  return {
    method: 'GET',
    headers: auth,
    setupRequest: (req) => {
      const i = n++;
      const kind = MIX[i % MIX.length] ?? 'get';
      counts[kind] = (counts[kind] ?? 0) + 1;
      const id = ids[(i * 7919) % ids.length] ?? '';
      switch (kind) {
        case 'list':
          return { ...req, method: 'GET', path: '/api/users?limit=20', headers: auth, body: undefined };
        case 'audit':
          return {
            ...req,
            method: 'GET',
            path: '/api/audit?limit=50&action=user.create',
            headers: auth,
            body: undefined,
          };
        case 'create':
          return {
            ...req,
            method: 'POST',
            path: '/api/users',
            headers: json,
            body: JSON.stringify({ username: `${tag}.${i}` }),
          };
        case 'update':
          return {
            ...req,
            method: 'PUT',
            path: `/api/users/${id}`,
            headers: json,
            body: JSON.stringify({ display_name: `load ${i}` }),
          };
        default:
          return { ...req, method: 'GET', path: `/api/users/${id}`, headers: auth, body: undefined };
      }
    },
  };
}

type Phase = {
  rps: number;
  p50: number;
  p99: number;
  total: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
};

/** One autocannon run per instance, at once; `rate` (requests/s over all instances) makes it open-loop. */
async function drive(
  bases: string[],
  token: string,
  ids: string[],
  tag: string,
  seconds: number,
  rate?: number,
): Promise<Phase> {
  const counts: Record<string, number> = {};
  const results = await Promise.all(
    bases.map((url, i) =>
      autocannon({
        url,
        connections: Math.max(1, Math.round(CONNECTIONS / bases.length)),
        duration: seconds,
        timeout: 10,
        requests: [mixedRequest(token, ids, `${tag}-${i}`, counts)],
        ...(rate ? { overallRate: Math.max(1, Math.round(rate / bases.length)) } : {}),
      }),
    ),
  );
  const statuses: Record<string, number> = {};
  for (const r of results)
    for (const [code, s] of Object.entries(r.statusCodeStats ?? {}))
      statuses[code] = (statuses[code] ?? 0) + Number(s.count ?? 0);
  const total = results.reduce((a, r) => a + r.requests.total, 0);
  // autocannon's percentiles are per instance; the larger of the two is the conservative figure.
  return {
    rps: Math.round(total / seconds),
    total,
    statuses,
    p50: Math.max(...results.map((r) => r.latency.p50)),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((a, r) => a + r.errors, 0),
    timeouts: results.reduce((a, r) => a + r.timeouts, 0),
  };
}

const rssMiB = (pid: number): number => {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
  } catch {
    return Number.NaN;
  }
};

type TopologyResult = {
  name: string;
  instances: number;
  peak: Phase;
  sustained: Phase;
  offered: number;
  rss: { pid: number; first: number; last: number; max: number }[];
  writes: number;
  delivered: number;
  lost: number;
  concurrent: number;
  receivedTwice: number;
};

async function runTopology(
  name: string,
  children: Child[],
  token: string,
  receiver: Awaited<ReturnType<typeof startReceiver>>,
): Promise<TopologyResult> {
  const bases = children.map((c) => c.name);
  const base = bases[0] ?? '';
  log(`\n== ${name}: ${children.length} instance(s) ${bases.join(', ')}`);
  await liftRateLimit(base, token);
  await apiExpect(base, token, {
    method: 'PATCH',
    path: '/api/config',
    body: { webhooks: { allow_private_targets: true } },
    expected: 200,
  });
  await apiExpect(base, token, {
    method: 'POST',
    path: '/api/webhooks',
    body: { url: receiver.url, events: ['user.*'] },
    expected: 201,
  });
  await sleep(1200); // the other instance picks up the config (polled every 500 ms)
  // From here on every user.create/update is an event for the receiver (the seeding included).
  const eventsBefore = await userEvents(children, token);
  const ids = await seedUsers(base, token, 500, `load${Date.now()}`);

  log(`  peak: closed loop, ${CONNECTIONS} connections, ${PEAK_SECONDS} s`);
  const peak = await drive(bases, token, ids, `peak-${Date.now()}`, PEAK_SECONDS);
  log(
    `    ${peak.rps} req/s, p50 ${peak.p50} ms, p99 ${peak.p99} ms, statuses ${JSON.stringify(peak.statuses)}`,
  );

  const offered = Math.max(1, Math.round(peak.rps / 2));
  log(`  sustained: open loop at ${offered} req/s (half the peak) for ${SECONDS} s`);
  const samples: number[][] = children.map(() => []);
  const sampler = setInterval(() => children.forEach((c, i) => samples[i]?.push(rssMiB(c.pid))), 1000);
  const sustained = await drive(bases, token, ids, `sus-${Date.now()}`, SECONDS, offered);
  clearInterval(sampler);
  log(
    `    ${sustained.rps} req/s, p50 ${sustained.p50} ms, p99 ${sustained.p99} ms, statuses ${JSON.stringify(sustained.statuses)}`,
  );
  const minute = Math.min(60, Math.floor(SECONDS / 2));
  const avg = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));
  const rss = children.map((c, i) => {
    const s = samples[i] ?? [];
    return { pid: c.pid, first: avg(s.slice(0, minute)), last: avg(s.slice(-minute)), max: Math.max(...s) };
  });

  // Every write's event reaches the receiver (at least once): the audit event's id is the webhook-id.
  const before = new Set(eventsBefore);
  const expected = (await userEvents(children, token)).filter((id) => !before.has(id));
  const deadline = Date.now() + 120_000;
  const missing = () => expected.filter((id) => !receiver.seen.has(id));
  while (missing().length > 0 && Date.now() < deadline) await sleep(250);
  const writes = expected.length;
  const delivered = writes - missing().length;
  log(`    writes ${writes}, delivered ${delivered}, in flight twice at once ${receiver.concurrent()}`);
  return {
    name,
    instances: children.length,
    peak,
    sustained,
    offered,
    rss,
    writes,
    delivered,
    lost: Math.max(0, writes - delivered),
    concurrent: receiver.concurrent(),
    receivedTwice: [...receiver.seen.values()].filter((n) => n > 1).length,
  };
}

/** Ids of the successful user.create and user.update events so far (each one a webhook event). */
async function userEvents(children: Child[], token: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { data: { id: string }[]; next_cursor: string | null } = await apiExpect(
      children[0]?.name ?? '',
      token,
      {
        method: 'GET',
        path: `/api/audit?action=user.create,user.update&outcome=success&limit=500${cursor ? `&cursor=${cursor}` : ''}`,
      },
    );
    ids.push(...page.data.map((e) => e.id));
    cursor = page.next_cursor;
  } while (cursor);
  return ids;
}

/** Data folders of the instances, deleted when the run ends. */
const dataDirs: string[] = [];

async function start(name: string, token: string, env: Record<string, string>): Promise<Child> {
  const port = await freePort(HOST);
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-load-'));
  dataDirs.push(dataDir);
  const child = await startGatehouse({
    host: HOST,
    port,
    dataDir,
    token,
    env,
    name: `http://${HOST}:${port}`,
  });
  log(`  started ${name} pid ${child.pid} at ${child.name}`);
  return child;
}

async function main(): Promise<void> {
  scrubInheritedEnv();
  const machine = describeMachine();
  log(
    `Gatehouse load bench ${new Date().toISOString()}: ${SECONDS} s sustained after a ${PEAK_SECONDS} s peak probe, ${CONNECTIONS} connections`,
  );
  log(
    `machine: ${JSON.stringify(machine)}; load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const receiver = await startReceiver();
  const results: TopologyResult[] = [];
  const pgUrl = String(args['pg-url']);
  const dbName = `gatehouse_bench_load_${Date.now()}`;
  const admin = new pg.Client({ connectionString: `${pgUrl}/postgres` });
  await admin.connect();
  try {
    if (!args['skip-sqlite']) {
      const token = generateToken();
      const one = await start('sqlite', token, {});
      results.push(await runTopology('sqlite, 1 instance', [one], token, receiver));
      await stopAllChildren();
    }
    await admin.query(`create database ${dbName}`);
    const token = generateToken();
    // Instances on one database share the audit key (each would otherwise make its own in its DATA_DIR).
    const env = {
      DATABASE_URL: `${pgUrl}/${dbName}`,
      REDIS_URL: String(args['redis-url']),
      GATEHOUSE_AUDIT_KEY: randomBytes(32).toString('base64'),
    };
    const a = await start('postgres A', token, env);
    const b = await start('postgres B', token, env);
    results.push(await runTopology('postgres + redis, 2 instances', [a, b], token, receiver));
  } finally {
    await stopAllChildren();
    await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await admin.end();
    receiver.server.close();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  }

  const header = [
    'topology',
    'peak req/s',
    'offered (½ peak)',
    'sustained req/s',
    'p50 / p99 ms',
    'errors (not 429)',
    'RSS first → last min, max (MiB)',
    'writes / delivered / lost / concurrent',
  ];
  const rows = results.map((r) => {
    const bad =
      Object.entries(r.sustained.statuses)
        .filter(([code]) => !code.startsWith('2') && code !== '429')
        .reduce((a, [, n]) => a + n, 0) +
      r.sustained.errors +
      r.sustained.timeouts;
    return [
      r.name,
      String(r.peak.rps),
      String(r.offered),
      String(r.sustained.rps),
      `${r.sustained.p50} / ${r.sustained.p99}`,
      String(bad),
      r.rss.map((m) => `${m.first} → ${m.last}, ${m.max}`).join('; '),
      `${r.writes} / ${r.delivered} / ${r.lost} / ${r.concurrent}`,
    ];
  });
  log(`\n${formatMarkdown(header, rows)}`);
  const goals = results.flatMap((r) => {
    const bad =
      Object.entries(r.sustained.statuses)
        .filter(([code]) => !code.startsWith('2') && code !== '429')
        .reduce((a, [, n]) => a + n, 0) +
      r.sustained.errors +
      r.sustained.timeouts;
    const grew = r.rss.filter((m) => m.last > m.first * 1.1 + 5);
    return [
      bad ? `${r.name}: ${bad} errors other than 429` : '',
      r.lost ? `${r.name}: ${r.lost} events not delivered` : '',
      r.concurrent ? `${r.name}: ${r.concurrent} deliveries in flight twice at once` : '',
      r.sustained.p99 > 100 ? `${r.name}: p99 ${r.sustained.p99} ms > 100 ms at half the peak` : '',
      grew.length
        ? `${r.name}: RSS grew from the first to the last minute (${grew.map((m) => `${m.first} → ${m.last} MiB`).join(', ')})`
        : '',
    ].filter(Boolean);
  });
  log(goals.length ? `\nGOALS MISSED:\n- ${goals.join('\n- ')}` : '\nAll goals met.');
  mkdirSync('bench/out', { recursive: true });
  const out = `bench/out/load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(out, JSON.stringify({ machine, seconds: SECONDS, results, goals }, null, 2));
  log(`raw: ${out}`);
}

process.on('SIGINT', () => {
  killAllChildrenNow();
  process.exit(130);
});
main().catch((err: unknown) => {
  killAllChildrenNow();
  console.error(err);
  process.exit(1);
});
