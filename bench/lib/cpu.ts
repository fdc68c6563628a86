import { readdirSync, readFileSync } from 'node:fs';

/** CPU time from /proc, in clock ticks: the whole machine, and the bench's own processes. */
export type CpuSnapshot = { total: number; busy: number; steal: number; ours: number; cpus: number } | null;

/** How busy the machine was between two snapshots, in cores (2 = both cores of a 2-core machine). */
export type CpuUse = { machine: number; bench: number; others: number; steal: number };

/** utime + stime of one process, in clock ticks (USER_HZ, 100 a second on Linux); 0 when it is gone. */
export function procTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** `pids`: the bench process and the server under load; null where /proc is missing (not Linux). */
export function cpuSnapshot(pids: readonly number[]): CpuSnapshot {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const cpus = lines.filter((l) => /^cpu\d/.test(l)).length;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = (lines[0] ?? '')
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    const parts = [user, nice, system, idle, iowait, irq, softirq, steal].map((n) => n ?? 0);
    const total = parts.reduce((a, b) => a + b, 0);
    const busy = total - (parts[3] ?? 0) - (parts[4] ?? 0) - (parts[7] ?? 0);
    return { total, busy, steal: parts[7] ?? 0, ours: pids.reduce((n, pid) => n + procTicks(pid), 0), cpus };
  } catch {
    return null;
  }
}

export function cpuUse(a: CpuSnapshot, b: CpuSnapshot): CpuUse | null {
  if (!a || !b || b.total <= a.total) return null;
  const wall = (b.total - a.total) / a.cpus;
  const cores = (ticks: number) => Math.round((ticks / wall) * 100) / 100;
  const bench = cores(b.ours - a.ours);
  const machine = cores(b.busy - a.busy);
  return {
    machine,
    bench,
    others: Math.max(0, Math.round((machine - bench) * 100) / 100),
    steal: cores(b.steal - a.steal),
  };
}

/** Pids of processes whose command name is `comm` (e.g. `redis-server`), read from /proc; empty without it. */
export function pidsNamed(comm: string): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm;
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}
