import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export type ServerProcess = {
  url: string;
  pid: number;
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; always by pid, always awaited. */
  stop(graceMs?: number): Promise<number | null>;
  dataDir: string;
};

const ROOT = resolve(import.meta.dirname, '../..');
/** One audit key for every server a test file starts: instances sharing a database must share it. */
export const AUDIT_KEY = randomBytes(32).toString('base64');

/**
 * Starts `gatehouse serve` from source (through tsx) as a real process on a free port and waits until it
 * listens. SQLite in a temp DATA_DIR unless `env.DATABASE_URL` says otherwise.
 */
export async function startServer(
  env: Record<string, string> = {},
  timeoutMs = 60_000,
  opts: { command?: 'serve' | 'worker'; dataDir?: string; keepData?: boolean; entry?: string } = {},
): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'gatehouse-proc-'));
  const ready =
    opts.command === 'worker'
      ? /Gatehouse webhook worker running/
      : /Gatehouse listening on (http:\/\/[\d.]+:\d+)/;
  const cleanup = () =>
    opts.keepData || opts.dataDir ? undefined : rmSync(dataDir, { recursive: true, force: true });
  // `entry`: a built main.js (the browser tests run a snapshot of dist/ that a rebuild cannot change under them).
  const main = opts.entry ? [opts.entry] : ['--import', 'tsx', 'src/main.ts'];
  const child = spawn(process.execPath, [...main, opts.command ?? 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      GATEHOUSE_AUDIT_KEY: AUDIT_KEY,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    // A server that does not come up is killed (by its pid), so a failed start leaves no process behind.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      cleanup();
      rej(new Error(`server did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = () => {
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1] ?? '');
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      cleanup(); // a server that refused to start leaves no folder behind (a no-op after a normal stop)
      rej(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      cleanup();
      return code;
    }
    cleanup();
    return exited;
  };
  if (child.pid === undefined) throw new Error('spawn failed');
  return { url, pid: child.pid, child, output: () => out, exited, stop, dataDir };
}
