import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export type Machine = {
  date: string;
  nproc: number;
  cpuModel: string;
  memTotal: string;
  os: string;
  node: string;
  loadavg: number[];
};

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

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || os.availableParallelism();
  } catch {
    return os.availableParallelism();
  }
}

export const loadavg = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

export function describeMachine(): Machine {
  return {
    date: new Date().toISOString(),
    nproc: nproc(),
    cpuModel: cpuModel(),
    memTotal: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadavg: loadavg(),
  };
}
