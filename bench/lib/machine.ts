import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import Database from 'better-sqlite3';

export type Machine = {
  nproc: number;
  cpuModel: string;
  memTotal: string;
  os: string;
  node: string;
  sqlite: string;
  betterSqlite3: string;
  autocannon: string;
  loadavgAtStart: number[];
};

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.split(':').slice(1).join(':').trim();
  } catch {
    // Not Linux.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function memTotal(): string {
  try {
    const total = execFileSync('free', ['-h'], { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.startsWith('Mem:'));
    const value = total?.trim().split(/\s+/)[1];
    if (value) return value;
  } catch {
    // No `free`.
  }
  return `${(os.totalmem() / 2 ** 30).toFixed(1)}Gi`;
}

/** What the results depend on, as `bench/RESULTS.md` quotes it. */
export function describeMachine(): Machine {
  const db = new Database(':memory:');
  const sqlite = (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
  db.close();
  let nproc = os.availableParallelism();
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // No `nproc`.
  }
  return {
    nproc,
    cpuModel: cpuModel(),
    memTotal: memTotal(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    sqlite,
    betterSqlite3: packageVersion('better-sqlite3'),
    autocannon: packageVersion('autocannon'),
    loadavgAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}
