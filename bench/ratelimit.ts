/**
 * Issue #5: throughput of `GET /api/users/{id}` with the rate limiter off, counting in memory, and counting in
 * Redis, in one run. Goal: in memory ≥ 90 % and Redis ≥ 70 % of limiter-off. `npm run bench:ratelimit`; see
 * bench/README.md.
 */
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { stopAllChildren, stopChild } from './lib/children.js';
import {
  compare,
  log,
  markdownTable,
  runBench,
  setUp,
  runInterleaved,
  selectVariants,
  statusProblems,
  textTable,
  writeReport,
  type Goal,
} from './lib/compare.js';
import { pidsNamed } from './lib/cpu.js';
import {
  BENCH_LIMIT,
  countRows,
  generateToken,
  patchConfig,
  startSeeded,
  type Instance,
} from './lib/gatehouse.js';
import { getByIdRequest } from './lib/load.js';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The RedisStore prefix Gatehouse uses (src/http/rate-limit-store.ts) and the by_token policy's name. */
const REDIS_KEY_PREFIX = 'gatehouse:rl:token:';

type Limited = Instance & { enabled: boolean };

/** Switches `rate_limits.enabled` through the config API (it applies to the very next request), only when it changes. */
async function setLimiter(inst: Limited, token: string, enabled: boolean): Promise<void> {
  if (inst.enabled === enabled) return;
  await patchConfig(inst.url, token, { rate_limits: { enabled } });
  inst.enabled = enabled;
}

/**
 * After each run, one more request: it must carry the RateLimit fields exactly when the limiter is on, with
 * nearly the whole bench limit left; on the Redis instance its counter must be in Redis (a silent fallback to
 * local counters, `store_failure: local`, would pass the load with in-memory figures).
 */
function limiterCheck(inst: Limited, token: string, redis: Redis | null) {
  return async (): Promise<string[]> => {
    const problems: string[] = [];
    const res = await fetch(`${inst.url}/api/users/${inst.ids[0] ?? ''}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await res.arrayBuffer();
    const fields = res.headers.get('ratelimit');
    if (res.status !== 200) problems.push(`check request answered ${res.status}`);
    if (inst.enabled !== (fields !== null))
      problems.push(
        `limiter ${inst.enabled ? 'on' : 'off'} but RateLimit field ${fields === null ? 'missing' : `present (${fields})`}`,
      );
    const remaining = Number(/r=(\d+)/.exec(fields ?? '')?.[1] ?? BENCH_LIMIT.max);
    if (remaining < BENCH_LIMIT.max / 2)
      problems.push(`only ${remaining} requests left in the window: the limit is close`);
    if (redis && inst.enabled) {
      const count = Number(await redis.get(`${REDIS_KEY_PREFIX}${inst.tokenId}`));
      if (!(count >= 1))
        problems.push(
          `no counter for the bench token in Redis (${REDIS_KEY_PREFIX}${inst.tokenId}): the limiter did not use Redis`,
        );
    }
    return problems;
  };
}

/** `gatehouse_rate_limit_store_failures_total` summed over its modes: must stay 0 on the Redis instance. */
async function storeFailures(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('gatehouse_rate_limit_store_failures_total'))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

const atLeast = (share: number): Goal => ({
  text: `≥ ${share * 100}% of off`,
  met: (s, base) => s.reqPerSecMedian >= share * base.reqPerSecMedian,
});

async function main(): Promise<number> {
  const setup = setUp(
    'bench:ratelimit',
    'Gatehouse rate limiter bench (issue #5)',
    `  (env BENCH_REDIS_URL: Redis for the Redis instance, default ${REDIS_URL})\n`,
  );
  if (!setup) return 0;
  const { options, startedAt, machine } = setup;
  const token = generateToken();
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown';
  const redisPids = pidsNamed('redis-server');
  log(
    `redis: ${REDIS_URL}, version ${redisVersion}, redis-server pid ${redisPids.join(', ') || 'not found'} (its CPU counts as the bench's)`,
  );
  const instances: Limited[] = [];
  try {
    const local: Limited = {
      ...(await startSeeded({ name: 'memory', token, seed: options.seed, tag: 'bench.rl' })),
      enabled: true,
    };
    instances.push(local);
    const shared: Limited = {
      ...(await startSeeded({
        name: 'redis',
        token,
        seed: options.seed,
        tag: 'bench.rl',
        env: { REDIS_URL },
      })),
      enabled: true,
    };
    instances.push(shared);
    log(
      `both instances: by_token limit for the bench token ${BENCH_LIMIT.max} per ${BENCH_LIMIT.window_s} s, so the limiter counts every request and refuses none`,
    );

    const variants = selectVariants([
      {
        key: 'off',
        title: 'limiter off (enabled: false)',
        url: local.url,
        request: getByIdRequest(token, local.ids),
        prepare: () => setLimiter(local, token, false),
        check: limiterCheck(local, token, null),
      },
      {
        key: 'memory',
        title: 'limiter on, in memory',
        url: local.url,
        request: getByIdRequest(token, local.ids),
        prepare: () => setLimiter(local, token, true),
        check: limiterCheck(local, token, null),
      },
      {
        key: 'redis',
        title: 'limiter on, Redis',
        url: shared.url,
        request: getByIdRequest(token, shared.ids),
        prepare: () => setLimiter(shared, token, true),
        check: limiterCheck(shared, token, redis),
      },
      {
        key: 'redis-off',
        title: 'limiter off, Redis instance (control)',
        url: shared.url,
        request: getByIdRequest(token, shared.ids),
        prepare: () => setLimiter(shared, token, false),
        check: limiterCheck(shared, token, null),
      },
    ]);
    log('');
    const { runs, problems } = await runInterleaved(
      variants,
      [...instances.map((i) => i.child.pid), ...redisPids],
      options,
    );
    const failures = await storeFailures(shared.url);
    if (failures !== 0)
      problems.push(
        `the Redis instance counted ${failures} rate-limit store failures (fell back to store_failure)`,
      );
    for (const inst of instances) await stopChild(inst.child);
    for (const inst of instances) {
      const counts = countRows(inst.dataDir);
      if (counts.auditOther !== 0)
        problems.push(`${inst.child.name}: ${counts.auditOther} denied/error audit rows`);
    }

    const rows = compare(variants, runs, { memory: atLeast(0.9), redis: atLeast(0.7) });
    problems.push(...statusProblems(rows));
    log(
      `\nGET /api/users/{id}: median of ${options.runs} rounds of ${options.duration} s; ratio and Δ p50 against limiter off\n`,
    );
    log(textTable(rows));
    const warnings = instances.flatMap((i) => i.child.warnings.map((w) => `${i.child.name}: ${w}`));
    if (warnings.length)
      log(
        `\nGatehouse logged ${warnings.length} warning/error lines; first ones:\n${warnings.slice(0, 5).join('\n')}`,
      );
    log(
      problems.length
        ? `\nPROBLEMS:\n- ${problems.join('\n- ')}`
        : '\nAll responses 200 (no 429), RateLimit fields as expected, counters in Redis on the Redis instance, no store failures.',
    );
    writeReport(
      'ratelimit',
      startedAt,
      {
        options,
        machine,
        redis: { url: REDIS_URL, version: redisVersion, pids: redisPids },
        summaries: rows,
        runs,
        warnings,
        problems,
      },
      markdownTable(rows),
    );
    return problems.length ? 1 : 0;
  } finally {
    redis.disconnect();
    await stopAllChildren();
    for (const inst of instances) rmSync(inst.dataDir, { recursive: true, force: true });
  }
}

runBench(main);
