import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A server process started by the bench, with the tail of its output kept for error reports. */
export type Child = {
  name: string;
  pid: number;
  process: ChildProcess;
  /** The last lines it wrote to stdout or stderr. */
  output: string[];
  /** Lines that look like warnings or errors (Gatehouse logs JSON at LOG_LEVEL=warn). */
  warnings: string[];
  exited: Promise<number | null>;
};

const KEEP_LINES = 200;
const children = new Set<Child>();
/** Pids the bench itself is stopping. */
const stopping = new Set<number>();

/** Starts `command args` with `env` added to this process's environment; tracked until `stopChild`. */
export function startChild(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
): Child {
  const proc = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const output: string[] = [];
  const warnings: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      output.push(line);
      if (output.length > KEEP_LINES) output.shift();
      if (/"level":(4|5|6)0|warn|error/i.test(line) && warnings.length < KEEP_LINES) warnings.push(line);
    }
  };
  proc.stdout.on('data', collect);
  proc.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code, signal) => {
      // A server that dies under load shows up as connection errors; say who died and how, while it is fresh.
      if (!stopping.has(proc.pid ?? 0))
        process.stderr.write(
          `\n!! ${name} (pid ${proc.pid}) exited by itself: code ${code}, signal ${signal}; last output:\n${output.slice(-20).join('\n')}\n`,
        );
      resolve(code);
    }),
  );
  const child: Child = { name, pid: proc.pid, process: proc, output, warnings, exited };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

/** SIGTERM by pid, then SIGKILL when it has not exited within `graceMs`. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  if (hasExited(child)) return;
  stopping.add(child.pid);
  killPid(child.pid, 'SIGTERM');
  const timedOut = await Promise.race([child.exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    killPid(child.pid, 'SIGKILL');
    await child.exited;
  }
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

/** Last resort on `process.exit`: synchronous, so only SIGKILL by pid. */
export function killAllChildrenNow(): void {
  for (const child of children) {
    stopping.add(child.pid);
    killPid(child.pid, 'SIGKILL');
  }
}

function hasExited(child: Child): boolean {
  return child.process.exitCode !== null || child.process.signalCode !== null;
}

function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** A TCP port that was free a moment ago on `host`. */
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

/** Polls `url` until it answers 200; fails when the child exits first or after `timeoutMs`. */
export async function waitForHttp(child: Child, url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasExited(child))
      throw new Error(`${child.name} exited before it was ready:\n${child.output.join('\n')}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline)
      throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms:\n${child.output.join('\n')}`);
    await sleep(100);
  }
}

const tempDirs = new Set<string>();

/** A temporary folder to delete if the bench is interrupted (Ctrl-C, SIGTERM) before its own cleanup runs. */
export function removeOnInterrupt(dir: string): void {
  tempDirs.add(dir);
}

export function removeTempDirsNow(): void {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
