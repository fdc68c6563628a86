import autocannon from 'autocannon';
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

export type Run = { phase: 'warmup' | 'measured'; index: number; result: Result };

/** The request the baseline and `GET /api/users/{id}` both send: a rotating id path with a bearer token. */
export function getByIdRequest(token: string, ids: readonly string[]): Request {
  if (ids.length === 0) throw new Error('no user ids to read');
  let next = 0;
  return {
    method: 'GET',
    headers: { authorization: `Bearer ${token}` },
    setupRequest: (req) => {
      const id = ids[next++ % ids.length] ?? ids[0];
      return { ...req, path: `/api/users/${String(id)}` };
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

/** Runs autocannon once against `url` for `seconds`. */
export async function fire(url: string, request: Request, options: BenchOptions, seconds: number): Promise<Result> {
  return autocannon({
    url,
    connections: options.connections,
    pipelining: options.pipelining,
    duration: seconds,
    timeout: 10,
    requests: [request],
  });
}

/** A warmup run (unless `--warmup 0`), then `options.runs` measured runs, each reported on one line. */
export async function measure(
  url: string,
  label: string,
  request: Request,
  options: BenchOptions,
  log: (line: string) => void,
): Promise<Run[]> {
  const runs: Run[] = [];
  if (options.warmup > 0) {
    const result = await fire(url, request, options, options.warmup);
    runs.push({ phase: 'warmup', index: 0, result });
    log(`  ${label} warmup    ${describe(result)}`);
  }
  for (let i = 1; i <= options.runs; i++) {
    const result = await fire(url, request, options, options.duration);
    runs.push({ phase: 'measured', index: i, result });
    log(`  ${label} run ${i}/${options.runs} ${describe(result)}`);
  }
  return runs;
}

function describe(r: Result): string {
  const bad = r.non2xx + r.errors + r.timeouts;
  const problems = bad ? `  !! non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts} ${statusCodes(r)}` : '';
  return `${Math.round(r.requests.average).toLocaleString('en-US').padStart(7)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  (${r.requests.total} requests)${problems}`;
}

export function statusCodes(r: Result): string {
  const stats = r.statusCodeStats ?? {};
  return Object.entries(stats)
    .map(([code, s]) => `${code}×${String(s.count ?? 0)}`)
    .join(' ');
}
