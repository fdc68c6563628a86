import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
/** The built command line: these tests need `npm run build` first. */
export const MAIN = resolve(ROOT, 'dist/src/main.js');
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before the CLI tests`);

export type CliResult = { code: number | null; stdout: string; stderr: string };

/** Everything every CLI run printed, so a test can check that no secret leaked anywhere. */
export const transcript: CliResult[] = [];

/**
 * Runs `gatehouse ARGS` as a process with exactly `env` (plus PATH) and `input` piped on stdin; resolves when
 * it exits. Never through a shell.
 */
export function gatehouse(
  args: string[],
  env: Record<string, string>,
  input = '',
  timeoutMs = 30_000,
): Promise<CliResult> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(input);
  return finished(child, timeoutMs);
}

/** Waits for a spawned CLI, killing it (by its pid) after `timeoutMs`, and records what it printed. */
export function finished(child: ChildProcess, timeoutMs = 30_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((res) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const result = { code, stdout, stderr };
      transcript.push(result);
      res(result);
    });
  });
}
