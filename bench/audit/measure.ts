/** Sequential latency samples per query shape, interleaved round by round, and the export stream. */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryOf, request, streamLines, type Server } from './server.js';

export type Shape = {
  key: string;
  title: string;
  /** Held to the page goal (p99 ≤ 25 ms): the five page queries. Others are context. */
  goal: boolean;
  /** Rotated through, one per round, so caching one parameter does not flatter the figure. */
  paths: string[];
  /** Optional check of a 200 answer's body; returns a problem or null. */
  check?: (body: string, path: string) => string | null;
};

export type Stats = {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  min: number;
};

export type ShapeResult = {
  key: string;
  title: string;
  goal: boolean;
  stats: Stats;
  cappedAt: number | null;
  problems: string[];
  /** Mean rows and bytes per answer. */
  rows: number;
  bytes: number;
  byPath: { path: string; p50: number; p99: number; max: number }[];
};

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    n: s.length,
    min: r(s[0] ?? NaN),
    p50: r(at(0.5)),
    p90: r(at(0.9)),
    p99: r(at(0.99)),
    max: r(s[s.length - 1] ?? NaN),
    mean: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
  };
}

/** Give up sampling a shape after this much time in it: a pathological query must not stall the run. */
const SHAPE_BUDGET_MS = 120_000;

/**
 * `warmup + samples` rounds; each round sends one request of every shape, one after another, over one
 * kept-alive connection. Interleaving spreads background noise (checkpoints, autovacuum) over all shapes.
 */
export async function measureShapes(
  server: Server,
  token: string,
  shapes: Shape[],
  warmup: number,
  samples: number,
  log: (s: string) => void,
): Promise<ShapeResult[]> {
  const state = shapes.map((shape) => ({
    shape,
    ms: [] as number[],
    spent: 0,
    capped: null as number | null,
    problems: [] as string[],
    rows: 0,
    bytes: 0,
    byPath: new Map<string, number[]>(shape.paths.map((p) => [p, []])),
  }));
  const rounds = warmup + samples;
  for (let round = 0; round < rounds; round++) {
    for (const st of state) {
      if (st.capped !== null) continue;
      const path = st.shape.paths[round % st.shape.paths.length]!;
      const answer = await request(server.base, token, path);
      if (answer.status !== 200) {
        if (st.problems.length < 5)
          st.problems.push(`${path} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
        continue;
      }
      const problem = st.shape.check?.(answer.body, path) ?? null;
      if (problem && st.problems.length < 5) st.problems.push(problem);
      if (round < warmup) continue;
      st.ms.push(answer.ms);
      st.byPath.get(path)?.push(answer.ms);
      st.spent += answer.ms;
      st.bytes += Buffer.byteLength(answer.body);
      if (path.startsWith('/api/audit'))
        st.rows += (JSON.parse(answer.body) as { data: unknown[] }).data.length;
      if (st.spent > SHAPE_BUDGET_MS) {
        st.capped = st.ms.length;
        log(
          `  ${st.shape.key}: over ${SHAPE_BUDGET_MS / 1000} s in total after ${st.ms.length} samples; stopped sampling it`,
        );
      }
    }
    if ((round + 1) % 50 === 0) process.stderr.write(`  round ${round + 1}/${rounds}\n`);
  }
  return state.map((st) => ({
    key: st.shape.key,
    title: st.shape.title,
    goal: st.shape.goal,
    stats: stats(st.ms),
    cappedAt: st.capped,
    problems: st.problems,
    rows: st.ms.length ? Math.round(st.rows / st.ms.length) : 0,
    bytes: st.ms.length ? Math.round(st.bytes / st.ms.length) : 0,
    byPath: [...st.byPath].map(([path, ms]) => {
      const s = stats(ms);
      return { path, p50: s.p50, p99: s.p99, max: s.max };
    }),
  }));
}

export type ExportResult = {
  path: string;
  status: number;
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSecond: number;
  mibPerSecond: number;
  rssBeforeMiB: number;
  /** Highest VmRSS sampled every 50 ms while streaming. */
  rssPeakSampledMiB: number;
  /** VmHWM after the export: the peak over the server's whole life, queries and export included. */
  hwmAfterMiB: number;
  /** GET /healthz on a second connection every 100 ms while the export streamed: is the server still responsive? */
  healthzDuring: Stats;
};

/**
 * Sends GET /healthz on its own connection every `everyMs` until stopped; the latencies show whether a
 * long request (export, verify) starves the event loop for everyone else.
 */
export function sideProbe(base: string, everyMs = 100): { stop(): Promise<Stats> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ms: number[] = [];
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const req = http.get(`${base}/healthz`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve());
          res.on('error', () => resolve());
        });
        req.on('error', () => resolve());
      });
      ms.push(performance.now() - t0);
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      state.running = false;
      await loop;
      agent.destroy();
      return stats(ms);
    },
  };
}

export async function measureExport(
  server: Server,
  token: string,
  path: string,
  expectRows: number,
  label: string,
): Promise<ExportResult> {
  const before = memoryOf(server.pid);
  let peak = before.rssMiB;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, memoryOf(server.pid).rssMiB);
    } catch {
      // exited
    }
  }, 50);
  let lastDraw = 0;
  const probe = sideProbe(server.base);
  try {
    const res = await streamLines(server.base, token, path, (lines) => {
      const now = performance.now();
      if (now - lastDraw < (process.stderr.isTTY ? 500 : 10_000)) return;
      lastDraw = now;
      const line = `${label}: ${lines.toLocaleString('en-US')}/${expectRows.toLocaleString('en-US')} rows, RSS peak ${peak.toFixed(0)} MiB`;
      process.stderr.write(process.stderr.isTTY ? `\r${line}\x1b[K` : `${line}\n`);
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    const seconds = res.ms / 1000;
    const after = memoryOf(server.pid);
    peak = Math.max(peak, after.rssMiB);
    return {
      path,
      status: res.status,
      rows: res.lines,
      bytes: res.bytes,
      seconds: Math.round(seconds * 100) / 100,
      rowsPerSecond: Math.round(res.lines / seconds),
      mibPerSecond: Math.round((res.bytes / 2 ** 20 / seconds) * 10) / 10,
      rssBeforeMiB: Math.round(before.rssMiB),
      rssPeakSampledMiB: Math.round(peak),
      hwmAfterMiB: Math.round(after.hwmMiB),
      healthzDuring: await probe.stop(),
    };
  } finally {
    clearInterval(sampler);
    await probe.stop();
  }
}

export type VerifyResult = {
  /** `ok`/`broken` from the answer, or what went wrong (status code, socket error). */
  status: string;
  checked: number;
  seconds: number;
  detail: string;
  healthzDuring: Stats;
};

/** GET /api/audit/verify over the whole chain, with the healthz side probe running. */
export async function measureVerify(server: Server, token: string): Promise<VerifyResult> {
  const probe = sideProbe(server.base);
  const t = performance.now();
  try {
    const res = await request(server.base, token, '/api/audit/verify');
    const seconds = (performance.now() - t) / 1000;
    let body: { status?: string; checked?: number } = {};
    try {
      body = JSON.parse(res.body) as typeof body;
    } catch {
      // not JSON
    }
    return {
      status: res.status === 200 ? (body.status ?? '?') : `HTTP ${res.status}`,
      checked: body.checked ?? 0,
      seconds,
      detail: res.body.slice(0, 300),
      healthzDuring: await probe.stop(),
    };
  } catch (err) {
    const seconds = (performance.now() - t) / 1000;
    return {
      status: 'failed',
      checked: 0,
      seconds,
      detail: err instanceof Error ? err.message : String(err),
      healthzDuring: await probe.stop(),
    };
  } finally {
    await probe.stop();
  }
}
