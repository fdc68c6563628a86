/** Gatehouse as the bench runs it: the built server in a child process, and the few API calls it needs. */
import { execFileSync } from 'node:child_process';
import { request } from 'undici';
import { startProc, waitForHttp, type Proc } from './procs.js';

export const MAIN = 'dist/src/main.js';

export function generateToken(): string {
  return execFileSync(process.execPath, [MAIN, 'token', 'generate'], { encoding: 'utf8' }).trim();
}

export type Gatehouse = { proc: Proc; base: string; token: string };

/** `node dist/src/main.js serve` on SQLite in `dataDir`, or on PostgreSQL at `databaseUrl` when given. */
export async function startGatehouse(o: {
  host: string;
  port: number;
  token: string;
  dataDir: string;
  databaseUrl?: string;
  pollMs?: number;
}): Promise<Gatehouse> {
  const env: Record<string, string | undefined> = {
    PORT: String(o.port),
    HOST: o.host,
    LOG_LEVEL: 'warn',
    DATA_DIR: o.dataDir,
    GATEHOUSE_BOOTSTRAP_TOKEN: o.token,
    // Nothing from the caller's shell may point it elsewhere.
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: undefined,
  };
  // `--poll-ms`: the what-if server, the same built modules with another worker poll interval.
  const args =
    o.pollMs === undefined ? [MAIN, 'serve'] : ['--import', 'tsx', 'bench/webhooks/serve-variant.ts'];
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the server, written when it exits (as the other benches do).
  const prof = process.env.BENCH_CPU_PROF;
  if (prof) args.unshift('--cpu-prof', `--cpu-prof-dir=${prof}`);
  const proc = startProc('gatehouse', args, {
    ...env,
    POLL_MS: o.pollMs === undefined ? undefined : String(o.pollMs),
  });
  const base = `http://${o.host}:${o.port}`;
  await waitForHttp(proc, `${base}/healthz`);
  return { proc, base, token: o.token };
}

export async function api(
  g: Gatehouse,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; json: unknown }> {
  const res = await request(`${g.base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${g.token}`,
      ...(body === undefined ? {} : { 'content-type': contentType }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // Keep the text for the error message.
  }
  return { status: res.statusCode, json };
}

/**
 * Lets endpoints target loopback, and lifts the per-token rate limit (600 a minute by default) far above
 * what the latency phase sends. Then subscribes the receiver to `user.create`; returns the endpoint's id and
 * creation time (epoch ms): it receives events created from then on.
 */
export async function configure(
  g: Gatehouse,
  receiverUrl: string,
): Promise<{ webhookId: string; createdAt: number }> {
  const patch = await api(
    g,
    'PATCH',
    '/api/config',
    {
      webhooks: { allow_private_targets: true },
      rate_limits: { default: { max: 1_000_000, window_s: 60 } },
    },
    'application/merge-patch+json',
  );
  if (patch.status !== 200)
    throw new Error(`PATCH /api/config answered ${patch.status}: ${JSON.stringify(patch.json)}`);
  const hook = await api(g, 'POST', '/api/webhooks', { url: `${receiverUrl}/x`, events: ['user.create'] });
  const created = hook.json as { id?: unknown; created_at?: unknown };
  if (hook.status !== 201 || typeof created.id !== 'string' || typeof created.created_at !== 'string') {
    throw new Error(`POST /api/webhooks answered ${hook.status}: ${JSON.stringify(hook.json)}`);
  }
  return { webhookId: created.id, createdAt: Date.parse(created.created_at) };
}
