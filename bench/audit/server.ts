/** The Gatehouse process under test (`node dist/src/main.js serve`), its memory, and a keep-alive client. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const MAIN = 'dist/src/main.js';
export const HOST = '127.0.0.1';

/** DATABASE_URL for PostgreSQL, DATA_DIR for SQLite; never what the caller's shell has set. */
export type Storage = { DATABASE_URL: string } | { DATA_DIR: string };

function childEnv(storage: Storage, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...storage, ...extra };
  if (!('DATABASE_URL' in storage)) delete env.DATABASE_URL;
  delete env.REDIS_URL;
  return env;
}

export function generateToken(): string {
  return execFileSync(process.execPath, [MAIN, 'token', 'generate'], { encoding: 'utf8' }).trim();
}

export function migrate(storage: Storage): void {
  execFileSync(process.execPath, [MAIN, 'migrate'], {
    env: childEnv(storage),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** `node dist/src/main.js <args>` against the storage; its exit code, stdout and wall time. */
export function runCli(
  storage: Storage,
  args: string[],
): Promise<{ code: number | null; stdout: string; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const proc = spawn(process.execPath, [MAIN, ...args], {
      env: childEnv(storage),
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let stdout = '';
    proc.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    proc.on('error', reject);
    proc.on('exit', (code) =>
      resolve({ code, stdout: stdout.trim(), seconds: (performance.now() - t) / 1000 }),
    );
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

export type Server = {
  pid: number;
  base: string;
  proc: ChildProcess;
  output: string[];
  exited: Promise<void>;
};

const running = new Set<Server>();

export async function startServer(storage: Storage, token: string): Promise<Server> {
  const port = await freePort();
  const proc = spawn(process.execPath, [MAIN, 'serve'], {
    env: childEnv(storage, { PORT: String(port), HOST, GATEHOUSE_BOOTSTRAP_TOKEN: token }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error('could not start gatehouse');
  const output: string[] = [];
  const keep = (b: Buffer) => {
    for (const line of b.toString('utf8').split('\n')) if (line.trim()) output.push(line);
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const server: Server = { pid: proc.pid, base: `http://${HOST}:${port}`, proc, output, exited };
  running.add(server);
  void exited.then(() => running.delete(server));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null)
      throw new Error(`gatehouse exited before it was ready:\n${output.join('\n')}`);
    try {
      const res = await fetch(`${server.base}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`gatehouse not ready after 60 s:\n${output.join('\n')}`);
    await sleep(100);
  }
}

/** SIGTERM by pid (Gatehouse drains and closes the database), SIGKILL after 15 s. */
export async function stopServer(server: Server): Promise<void> {
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) return;
  server.proc.kill('SIGTERM');
  const late = await Promise.race([server.exited.then(() => false), sleep(15_000).then(() => true)]);
  if (late) {
    server.proc.kill('SIGKILL');
    await server.exited;
  }
}

export function killAllNow(): void {
  for (const s of running) {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** VmRSS / VmHWM of a process in MiB, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

export type Answer = { status: number; body: string; ms: number };

/** One request over a kept-alive connection; `ms` runs from the call until the last byte of the body. */
export function request(
  base: string,
  token: string,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
    const req = http.request(
      `${base}${path}`,
      {
        agent,
        method: init.method ?? 'GET',
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - t0,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Streams a response, counting lines, without keeping it; `onChunk` sees the running line count. */
export function streamLines(
  base: string,
  token: string,
  path: string,
  onChunk?: (lines: number) => void,
): Promise<{ status: number; lines: number; bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      `${base}${path}`,
      { agent: false, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let lines = 0,
          bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
          onChunk?.(lines);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, lines, bytes, ms: performance.now() - t0 }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
