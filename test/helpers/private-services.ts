import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Waits until `pid` has exited (signal 0 fails), up to `timeoutMs`; true when it has. */
async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await sleep(50);
  }
  return false;
}

export type PrivatePostgres = {
  url: string;
  port: number;
  /** The postmaster's pid now (it changes on every start). */
  pid(): number | undefined;
  /** `pg_ctl stop -m fast`: what the first half of `pg_ctlcluster … restart` does. */
  stop(): Promise<void>;
  /** `pg_ctl start -w`: returns once the server accepts connections. */
  start(): Promise<void>;
  /** `pg_ctl restart -m fast -w`, the equivalent of `pg_ctlcluster <version> <cluster> restart`. */
  restart(): Promise<void>;
  /** Stops the postmaster by its pid (SIGINT, then SIGKILL) and removes the cluster. Safe to call twice. */
  close(): Promise<void>;
};

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) throw new Error(`no PostgreSQL server binaries (initdb) under ${root}`);
  return join(root, versions[0], 'bin');
}

/**
 * A PostgreSQL cluster of its own for one test file, on a free loopback port with its socket in a temp dir,
 * so a test can stop and restart it without touching the shared server other tests use. The server refuses
 * to run as root, so as root every command runs as the `postgres` user.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const ids = await run('id', ['-u', 'postgres']).then((r) => Number(r.stdout.trim()));
    const gid = await run('id', ['-g', 'postgres']).then((r) => Number(r.stdout.trim()));
    chownSync(dir, ids, gid);
  }
  const pgRun = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args);
  const data = join(dir, 'data');
  const port = await freePort();
  // fsync off: the cluster is thrown away; durability is not what these tests are about.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const log = join(dir, 'server.log');
  const pidFile = join(data, 'postmaster.pid');
  const pid = () =>
    existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) || undefined : undefined;
  let closed = false;

  const start = async () => {
    await pgRun('pg_ctl', ['-D', data, '-o', options, '-l', log, '-w', '-t', '30', 'start']);
  };
  const kill = async () => {
    const p = pid();
    if (p === undefined) return;
    try {
      process.kill(p, 'SIGINT'); // the postmaster's "fast shutdown"
    } catch {
      return; // already gone
    }
    if (!(await waitForExit(p, 15_000))) process.kill(p, 'SIGKILL');
  };
  try {
    await pgRun('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    await start();
  } catch (err) {
    await kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    pid,
    start,
    stop: async () => {
      await pgRun('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
    },
    restart: async () => {
      await pgRun('pg_ctl', [
        '-D',
        data,
        '-o',
        options,
        '-l',
        log,
        '-m',
        'fast',
        '-w',
        '-t',
        '30',
        'restart',
      ]);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type PrivateRedis = {
  url: string;
  port: number;
  pid(): number | undefined;
  /** SIGTERM by pid and wait for the exit: Redis is gone, the port refuses connections. */
  stop(): Promise<void>;
  /** A new redis-server on the same port (empty: nothing is saved). */
  start(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers, like a Redis stuck on a slow command or disk. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Stops the server by its pid (SIGCONT, SIGKILL). Safe to call twice. */
  close(): Promise<void>;
};

/** A redis-server of its own on a free loopback port, with no persistence, for one test file. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const c = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = c;
    let out = '';
    exited = new Promise<void>((r) => c.on('exit', () => r()));
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => {
        c.kill('SIGKILL'); // a failed start leaves no process behind
        rej(new Error(`redis-server did not start within 10 s:\n${out}`));
      }, 10_000);
      c.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          res();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        rej(new Error(`redis-server exited before it was ready:\n${out}`));
      });
    });
  };
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const signal = (s: NodeJS.Signals) => {
    if (alive() && child?.pid !== undefined) process.kill(child.pid, s);
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: () => (alive() ? child?.pid : undefined),
    start,
    stop: async () => {
      signal('SIGCONT');
      signal('SIGTERM');
      await exited;
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    close: async () => {
      signal('SIGCONT');
      signal('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
