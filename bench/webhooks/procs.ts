import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReceiverAnswer, ReceiverDump, ReceiverRequest, ReceiverStats } from './receiver.js';

/** A process this bench started: stopped by its pid, never by name. */
export type Proc = {
  name: string;
  pid: number;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
};

const KEEP_LINES = 200;
const running = new Set<Proc>();

export function startProc(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
  ipc = false,
): Proc {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc' as const] : [])],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start`);
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      output.push(line);
      if (output.length > KEEP_LINES) output.shift();
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc: Proc = { name, pid: child.pid, child, output, exited };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

function alive(p: Proc): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** SIGTERM by pid, SIGKILL after `graceMs`. */
export async function stopProc(p: Proc, graceMs = 10_000): Promise<void> {
  if (!alive(p)) return;
  kill(p.pid, 'SIGTERM');
  const late = await Promise.race([p.exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (late) {
    kill(p.pid, 'SIGKILL');
    await p.exited;
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stopProc(p)));
}

/** Synchronous last resort (process exit): SIGKILL by pid. */
export function killAllNow(): void {
  for (const p of running) kill(p.pid, 'SIGKILL');
}

export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Polls `url` until it answers 200; fails when the process exits first or after `timeoutMs`. */
export async function waitForHttp(p: Proc, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive(p)) throw new Error(`${p.name} exited before it was ready:\n${p.output.join('\n')}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline)
      throw new Error(`${p.name} not ready at ${url} after ${timeoutMs} ms:\n${p.output.join('\n')}`);
    await sleep(100);
  }
}

/** The receiver child and its IPC commands. */
export type Receiver = {
  proc: Proc;
  url: string;
  reset(): Promise<ReceiverStats>;
  stats(): Promise<ReceiverStats>;
  dump(): Promise<ReceiverDump>;
  /** Resolves with the stats once `n` requests arrived, or with `null` after `timeoutMs`. */
  waitFor(n: number, timeoutMs: number): Promise<ReceiverStats | null>;
};

export async function startReceiver(host: string): Promise<Receiver> {
  const proc = startProc(
    'receiver',
    ['--import', 'tsx', 'bench/webhooks/receiver.ts'],
    { HOST: host, PORT: '0' },
    true,
  );
  let seq = 0;
  const pending = new Map<number, (a: ReceiverAnswer) => void>();
  let onReady: ((port: number) => void) | undefined;
  // A send after the receiver was stopped (Ctrl-C) fails its own promise; never an unhandled 'error' event.
  proc.child.on('error', () => undefined);
  proc.child.on('message', (m: ReceiverAnswer) => {
    if ('ready' in m) return onReady?.(m.port);
    const resolve = pending.get(m.seq);
    pending.delete(m.seq);
    resolve?.(m);
  });
  const port = await Promise.race([
    new Promise<number>((resolve) => (onReady = resolve)),
    proc.exited.then((code) =>
      Promise.reject(new Error(`receiver exited (${code}) before it was ready:\n${proc.output.join('\n')}`)),
    ),
    sleep(30_000).then(() => Promise.reject(new Error('receiver not ready after 30 s'))),
  ]);
  const ask = (
    req: Omit<ReceiverRequest, 'seq'>,
  ): Promise<{ seq: number; stats?: ReceiverStats; dump?: ReceiverDump }> =>
    new Promise((resolve, reject) => {
      if (!proc.child.connected)
        return reject(new Error(`the receiver has exited:\n${proc.output.join('\n')}`));
      const s = ++seq;
      pending.set(s, resolve as (a: ReceiverAnswer) => void);
      proc.child.send({ ...req, seq: s }, (err) => {
        if (err) reject(err);
      });
    });
  return {
    proc,
    url: `http://${host}:${port}`,
    reset: async () => (await ask({ cmd: 'reset' })).stats!,
    stats: async () => (await ask({ cmd: 'stats' })).stats!,
    dump: async () => (await ask({ cmd: 'dump' })).dump!,
    waitFor: async (n, timeoutMs) => {
      const answer = ask({ cmd: 'waitFor', n } as Omit<ReceiverRequest, 'seq'>);
      const result = await Promise.race([answer, sleep(timeoutMs).then(() => null)]);
      return result?.stats ?? null;
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`; NaN when unreadable. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at state, field 3; utime is 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
/** `getconf CLK_TCK`: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/**
 * The main thread's (the event loop's) seconds on a CPU and seconds runnable but waiting for one, from
 * `/proc/<pid>/schedstat`. Waiting time is what other work on the machine takes from the server.
 */
export function schedSeconds(pid: number): { runS: number; waitS: number } {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return { runS: (run ?? Number.NaN) / 1e9, waitS: (wait ?? Number.NaN) / 1e9 };
  } catch {
    return { runS: Number.NaN, waitS: Number.NaN };
  }
}
