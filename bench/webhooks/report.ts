import type { BaselineResult } from './baseline.js';
import type { Counts } from './db.js';
import type { LatencyResult } from './latency.js';
import type { Machine } from './machine.js';
import type { ThroughputResult } from './throughput.js';

export const GOAL = { deliveriesPerSecond: 2000, p99Ms: 250 };

/**
 * Over one phase: CPU seconds of Gatehouse (all threads) and of the receiver; the seconds Gatehouse's main
 * thread (the event loop) ran, and the seconds it was runnable but waiting for a CPU (taken by other work).
 */
export type CpuWindow = {
  serverCpuS: number;
  receiverCpuS: number;
  wallS: number;
  loopRunS: number;
  loopWaitS: number;
};

export type DialectResult = {
  dialect: 'sqlite' | 'postgres';
  dbVersion: string;
  pollMs: number | null;
  throughput: ThroughputResult | null;
  throughputCpu: CpuWindow | null;
  baselines: BaselineResult[];
  latency: LatencyResult | null;
  latencyCpu: CpuWindow | null;
  counts: Counts;
  /** What did not add up (empty when everything did). */
  problems: string[];
  serverWarnings: string[];
};

const f0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '—');
const yes = (ok: boolean) => (ok ? 'yes' : 'NO');

export function table(results: DialectResult[]): string {
  const lines: string[] = [];
  lines.push('Throughput (events committed to the outbox at once, one endpoint)', '');
  lines.push(
    '| dialect | events | deliveries/s (commit → last) | send phase/s (first → last) | first delivery after | server CPU per delivery | event loop: ran / waited for CPU / wall | connections | baseline undici loop/s | ≥ 2,000/s |',
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  for (const r of results) {
    const t = r.throughput;
    if (!t) continue;
    const base = r.baselines.map((b) => `${f0(b.perSecond)} (c=${b.concurrency})`).join(', ');
    const cpu = r.throughputCpu ? loop(r.throughputCpu) : '—';
    lines.push(
      `| ${label(r)} | ${f0(t.n)} | ${f0(t.perSecond)} | ${f0(t.sendPerSecond)} | ${f0(t.firstMs)} ms | ${r.throughputCpu ? `${((r.throughputCpu.serverCpuS * 1000) / t.delivered).toFixed(2)} ms` : '—'} | ${cpu} | ${t.connectionsUsed} | ${base} | ${yes(t.complete && t.perSecond >= GOAL.deliveriesPerSecond)} |`,
    );
  }
  lines.push('', 'Latency (POST /api/users paced, 201 → arrival at the receiver)', '');
  lines.push(
    '| dialect | rate | measured | achieved/s | API p50 / p99 ms | p50 ms | p90 ms | p99 ms | max ms | missing | event loop: ran / waited / wall | ≤ 250 ms p99 |',
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const l = r.latency;
    if (!l) continue;
    const c = l.commitToDelivery;
    lines.push(
      `| ${label(r)} | ${l.rate}/s × ${l.durationS} s | ${c.n} | ${f0(l.achievedRate)} | ${f1(l.api.p50)} / ${f1(l.api.p99)} | ${f1(c.p50)} | ${f1(c.p90)} | ${f1(c.p99)} | ${f1(c.max)} | ${l.missing} | ${r.latencyCpu ? loop(r.latencyCpu) : '—'} | ${yes(l.missing === 0 && c.p99 <= GOAL.p99Ms)} |`,
    );
  }
  const withBreakdown = results.filter((r) => r.latency?.breakdown);
  if (withBreakdown.length) {
    lines.push('', 'Where the latency goes (server timestamps, ms, p50 / p99)', '');
    lines.push(
      '| dialect | commit → fan-out | fan-out → send start | send | fan-out txns | events per fan-out | worker rounds | round period | fan-out loop per round p50 / max | longest without a send | ceiling: 100 per round | delivery bursts: count, size p50 / max |',
    );
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const r of withBreakdown) {
      const b = r.latency!.breakdown!;
      const br = r.latency!.bursts;
      const pp = (s: { p50: number; p99: number }) => `${f1(s.p50)} / ${f1(s.p99)}`;
      lines.push(
        `| ${label(r)} | ${pp(b.commitToFanOut)} | ${pp(b.fanOutToSend)} | ${pp(b.send)} | ${b.fanOutTransactions} | ${pp(b.eventsPerFanOut)} | ${b.rounds} | ${pp(b.roundPeriodMs)} | ${f1(b.fanOutLoopMs.p50)} / ${f1(b.fanOutLoopMs.max)} | ${f0(b.longestWithoutSend.ms)} ms | ${f0(b.claimCeilingPerSecond)}/s | ${br.count}, ${br.size.p50} / ${br.size.max} |`,
      );
    }
  }
  return lines.join('\n');
}

function loop(c: CpuWindow): string {
  return `${f1(c.loopRunS)} / ${f1(c.loopWaitS)} / ${f1(c.wallS)} s`;
}

function label(r: DialectResult): string {
  return r.pollMs === null ? r.dialect : `${r.dialect} (poll ${r.pollMs} ms, what-if)`;
}

export function machineLine(m: Machine, versions: Record<string, string>): string {
  const v = Object.entries(versions)
    .map(([k, x]) => `${k} ${x}`)
    .join(', ');
  return `${m.date}: ${m.nproc} × ${m.cpuModel}, ${m.memTotal}, ${m.os}, Node ${m.node}, ${v}, load average at start ${m.loadavg.join(' ')}`;
}
