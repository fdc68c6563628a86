import autocannon from 'autocannon';
import { cpuSnapshot, cpuUse, procTicks, type CpuUse } from './cpu.js';

/** USER_HZ: /proc/<pid>/stat counts CPU time in these (100 a second on every Linux build in use). */
const TICKS_PER_SECOND = 100;
import type { BenchOptions } from './options.js';

export type Result = autocannon.Result;
export type Request = autocannon.Request;

/** One kind of request the bench measures; `goal` is the throughput ratio to the baseline to meet. */
export type Scenario = {
  key: string;
  title: string;
  goal: number | null;
  /** The autocannon request, built against a running server. */
  request: Request;
};

/** Latency of every response (2xx or not) at autocannon's float-ms precision; its own histogram is whole ms. */
export type Latency = {
  samples: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
};

/**
 * `cpu`: cores busy during the run, split into the bench (load generator + server) and everything else.
 * `serverCpuUsPerRequest`: CPU time of the processes under test (not the load generator) per response, in µs,
 * from /proc at 10 ms resolution: what a request costs, much less moved by other work than req/s is.
 */
export type Run = {
  phase: 'warmup' | 'measured';
  index: number;
  result: Result;
  latency: Latency;
  cpu: CpuUse | null;
  serverCpuUsPerRequest?: number;
  /** The same, per process under test (pid → µs per response). */
  cpuUsPerRequestByPid?: Record<number, number>;
};

/**
 * The request the baseline and `GET /api/users/{id}` both send: a rotating id path with a bearer token.
 * Given several tokens, each request takes the next one (many clients, each with its own token).
 */
export function getByIdRequest(token: string | readonly string[], ids: readonly string[]): Request {
  if (ids.length === 0) throw new Error('no user ids to read');
  const tokens = typeof token === 'string' ? [token] : token;
  if (tokens.length === 0) throw new Error('no tokens to send');
  let next = 0;
  return {
    method: 'GET',
    headers: { authorization: `Bearer ${String(tokens[0])}` },
    setupRequest: (req) => {
      const n = next++;
      const path = `/api/users/${String(ids[n % ids.length])}`;
      if (tokens.length === 1) return { ...req, path };
      return {
        ...req,
        path,
        headers: { ...req.headers, authorization: `Bearer ${String(tokens[n % tokens.length])}` },
      };
    },
  };
}

export function listRequest(token: string): Request {
  return { method: 'GET', path: '/api/users?limit=50', headers: { authorization: `Bearer ${token}` } };
}

/** `POST /api/users` with a username no other request of this bench process has used. */
export function createRequest(token: string, tag: string): Request {
  let next = 0;
  return {
    method: 'POST',
    path: '/api/users',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    setupRequest: (req) => ({ ...req, body: JSON.stringify({ username: `${tag}.${String(next++)}` }) }),
  };
}

/** Grows by doubling; a Float64Array keeps recording cheap on the load generator's side. */
class Samples {
  #values = new Float64Array(1 << 16);
  #n = 0;
  add(value: number): void {
    if (this.#n === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#n++] = value;
  }
  summary(): Latency {
    const sorted = this.#values.slice(0, this.#n).sort();
    const n = sorted.length;
    const at = (q: number) => round(sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] ?? Number.NaN);
    const mean = n ? sorted.reduce((a, b) => a + b, 0) / n : Number.NaN;
    return {
      samples: n,
      mean: round(mean),
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      p999: at(0.999),
      max: at(1),
    };
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * Runs autocannon once against `url` for `seconds`, timing every response and the machine's CPU.
 * `serverPids`: the processes under test (server, and e.g. Redis or a plugin server); their CPU counts as the
 * bench's, not as other processes'.
 */
export async function fire(
  url: string,
  request: Request,
  options: BenchOptions,
  seconds: number,
  serverPids: number | readonly number[],
): Promise<Omit<Run, 'phase' | 'index'>> {
  const samples = new Samples();
  const servers = typeof serverPids === 'number' ? [serverPids] : serverPids;
  const pids = [process.pid, ...servers];
  const ticksBefore = servers.map(procTicks);
  const before = cpuSnapshot(pids);
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: options.connections,
        pipelining: options.pipelining,
        duration: seconds,
        timeout: 10,
        requests: [request],
      },
      (err: unknown, result: Result) => {
        if (err) reject(err instanceof Error ? err : new Error('autocannon failed', { cause: err }));
        else {
          const cpu = cpuUse(before, cpuSnapshot(pids));
          const perRequest = (ticks: number) =>
            Math.round((ticks * 1e6) / TICKS_PER_SECOND / Math.max(1, result.requests.total));
          const used = servers.map((pid, i) => procTicks(pid) - (ticksBefore[i] ?? 0));
          resolve({
            result,
            latency: samples.summary(),
            cpu,
            serverCpuUsPerRequest: perRequest(used.reduce((a, b) => a + b, 0)),
            cpuUsPerRequestByPid: Object.fromEntries(
              servers.map((pid, i) => [pid, perRequest(used[i] ?? 0)]),
            ),
          });
        }
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => samples.add(responseTime));
  });
}

/** A warmup run (unless `--warmup 0`), then `options.runs` measured runs, each reported on one line. */
export async function measure(
  url: string,
  serverPid: number,
  label: string,
  request: Request,
  options: BenchOptions,
  log: (line: string) => void,
): Promise<Run[]> {
  const runs: Run[] = [];
  if (options.warmup > 0) {
    const run: Run = {
      phase: 'warmup',
      index: 0,
      ...(await fire(url, request, options, options.warmup, serverPid)),
    };
    runs.push(run);
    log(`  ${label} warmup    ${describeRun(run)}`);
  }
  for (let i = 1; i <= options.runs; i++) {
    const run: Run = {
      phase: 'measured',
      index: i,
      ...(await fire(url, request, options, options.duration, serverPid)),
    };
    runs.push(run);
    log(`  ${label} run ${i}/${options.runs}  ${describeRun(run)}`);
  }
  return runs;
}

/** One run on one line: req/s, p50, p99, requests, CPU, and any non-2xx or error. */
export function describeRun(run: Run): string {
  const { result: r, latency, cpu } = run;
  const bad = r.non2xx + r.errors + r.timeouts;
  const problems = bad
    ? `  !! non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts} ${statusCodes(r)}`
    : '';
  const rps = Math.round(r.requests.average).toLocaleString('en-US').padStart(7);
  const perRequest =
    run.serverCpuUsPerRequest === undefined ? '' : `  server ${run.serverCpuUsPerRequest} µs CPU/req`;
  const machine = cpu
    ? `  cpu: bench ${cpu.bench.toFixed(2)}, others ${cpu.others.toFixed(2)}, steal ${cpu.steal.toFixed(2)}`
    : '';
  return `${rps} req/s  p50 ${latency.p50.toFixed(2)} ms  p99 ${latency.p99.toFixed(2)} ms  (${r.requests.total} requests)${perRequest}${machine}${problems}`;
}

export function statusCodes(r: Result): string {
  const stats = r.statusCodeStats ?? {};
  return Object.entries(stats)
    .map(([code, s]) => `${code}×${String(s.count ?? 0)}`)
    .join(' ');
}
