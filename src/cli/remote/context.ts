import type { Command } from 'commander';
import type { Writable } from 'node:stream';
import { ApiProblem, createClient, type GatehouseClient, type Problem } from '@gatehouse/client';
import { loadCliEnv, type CliEnv } from '../../env/cli.js';
import { DEFAULT_PROFILE, readConfig } from './config.js';
import { CliError, formatProblem } from './output.js';

/** The options every remote command accepts (declared on the program). */
export type GlobalOptions = { url?: string; token?: string; profile?: string; output?: string };

/** The server and token a command talks to, and where they came from. */
export type Connection = { url: string; token: string | undefined };

/** What a remote command works with. */
export type Remote = {
  api: GatehouseClient;
  conn: Connection;
  env: CliEnv;
  /** `--output json`: machine-readable output on stdout. */
  json: boolean;
  out: Writable;
  err: Writable;
};

/**
 * The server to use: `--url`, else GATEHOUSE_URL, else the profile (`--profile`, else `default`) in the config
 * file; the token likewise. A profile's token is sent only to that profile's URL, never to another server.
 * Undefined when none is configured. Throws when `--profile` names one that does not exist.
 */
export function resolveConnection(env: CliEnv, opts: GlobalOptions): Connection | undefined {
  const name = opts.profile ?? DEFAULT_PROFILE;
  const profile = readConfig(env.configDir).profiles[name];
  if (opts.profile && !profile)
    throw new CliError(`No profile "${opts.profile}": run \`gatehouse login --profile ${opts.profile}\`.`);
  const url = opts.url ?? env.url ?? profile?.url;
  if (!url) return undefined;
  const sameServer = profile && profile.url.replace(/\/+$/, '') === url.replace(/\/+$/, '');
  return { url, token: opts.token ?? env.token ?? (sameServer ? profile.token : undefined) };
}

/** True when a server is configured (by option, environment or profile), so `audit` goes over the API. */
export function serverConfigured(opts: GlobalOptions): boolean {
  return resolveConnection(loadCliEnv(), opts) !== undefined;
}

export function remoteFor(conn: Connection, env: CliEnv, opts: GlobalOptions): Remote {
  if (opts.output !== undefined && opts.output !== 'json' && opts.output !== 'table')
    throw new CliError(`--output must be table or json, not "${opts.output}"`);
  const api = createClient({ baseUrl: conn.url, ...(conn.token ? { token: conn.token } : {}) });
  return { api, conn, env, json: opts.output === 'json', out: process.stdout, err: process.stderr };
}

function connect(opts: GlobalOptions): Remote {
  const env = loadCliEnv();
  const conn = resolveConnection(env, opts);
  if (!conn)
    throw new CliError(
      'No server configured: pass --url, set GATEHOUSE_URL, or run `gatehouse login --url URL` first.',
    );
  if (!conn.token)
    throw new CliError(
      `No token for ${conn.url}: pass --token, set GATEHOUSE_TOKEN, or run \`gatehouse login\`.`,
    );
  return remoteFor(conn, env, opts);
}

/** Reports a failure on stderr and gives the exit code. */
export function reportFailure(err: unknown, url: string): number {
  if (err instanceof ApiProblem) {
    process.stderr.write(formatProblem(err.problem, url));
    return 1;
  }
  if (err instanceof CliError) {
    process.stderr.write(`error: ${err.message}\n`);
    return err.exitCode;
  }
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}

/** A command's arguments; commander has checked that the required ones are there. */
export type Args = [first: string, second: string];

export type RemoteHandler = (remote: Remote, args: Args, opts: Record<string, unknown>) => Promise<number>;

/**
 * A commander action for a command over the API: connects (options, environment, profile), runs the handler
 * and sets the exit code; an API problem or a network failure is printed and exits 1.
 */
export function remoteAction(handler: RemoteHandler) {
  return async (...params: unknown[]): Promise<void> => {
    const command = params.at(-1) as Command;
    const args = params.slice(0, -2) as Args;
    const globals = command.optsWithGlobals<GlobalOptions>();
    let url = globals.url ?? '';
    try {
      const remote = connect(globals);
      url = remote.conn.url;
      process.exitCode = await handler(remote, args, command.opts());
    } catch (err) {
      process.exitCode = reportFailure(err, url);
    }
  };
}

/**
 * A request outside the typed client (streams, text answers, routes newer than the generated schema): the
 * Response when 2xx, else an ApiProblem as `unwrap` makes one.
 */
export async function request(
  remote: Remote,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (remote.conn.token) headers.authorization = `Bearer ${remote.conn.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`${remote.conn.url.replace(/\/+$/, '')}${path}`, {
      method: init.method ?? 'GET',
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  } catch (err) {
    const detail = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : '';
    throw problem({ title: 'Network error', status: 0, code: 'network_error', detail });
  }
  if (response.ok) return response;
  const text = await response.text();
  let body: Partial<Problem> = {};
  try {
    body = JSON.parse(text) as Partial<Problem>;
  } catch {
    body = { detail: text.trim().slice(0, 300) || undefined };
  }
  return Promise.reject(
    problem({ title: response.statusText || `HTTP ${response.status}`, ...body, status: response.status }),
  );
}

function problem(p: Partial<Problem> & { title: string; status: number }): ApiProblem {
  return new ApiProblem({ type: 'about:blank', code: 'http_error', ...p });
}
