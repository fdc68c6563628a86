import type { Run, Scenario } from './load.js';
import { statusCodes } from './load.js';

export type Summary = {
  key: string;
  title: string;
  goal: number | null;
  measuredRuns: number;
  /** Each measured run's average req/s (autocannon's per-second samples), in run order. */
  reqPerSecRuns: number[];
  reqPerSecMedian: number;
  p50Median: number;
  p99Median: number;
  p99Runs: number[];
  /** Median req/s over the baseline's median req/s; 1 for the baseline itself. */
  ratio: number;
  /** Median over the measured runs of the cores other processes kept busy (null without /proc). */
  othersCoresMedian: number | null;
  goalMet: boolean | null;
  /** Over warmup and measured runs. */
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: string;
};

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] ?? Number.NaN;
  const lo = sorted[mid - 1] ?? hi;
  return sorted.length % 2 ? hi : (lo + hi) / 2;
}

export function summarize(
  scenario: Pick<Scenario, 'key' | 'title' | 'goal'>,
  runs: Run[],
  baselineReqPerSec: number,
): Summary {
  const measuredRuns = runs.filter((r) => r.phase === 'measured');
  const measured = measuredRuns.map((r) => r.result);
  const reqPerSecRuns = measured.map((r) => r.requests.average);
  const reqPerSecMedian = median(reqPerSecRuns);
  const ratio = reqPerSecMedian / baselineReqPerSec;
  const sum = (pick: (r: Run['result']) => number) => runs.reduce((n, r) => n + pick(r.result), 0);
  return {
    key: scenario.key,
    title: scenario.title,
    goal: scenario.goal,
    measuredRuns: measured.length,
    reqPerSecRuns,
    reqPerSecMedian,
    p50Median: median(measuredRuns.map((r) => r.latency.p50)),
    p99Median: median(measuredRuns.map((r) => r.latency.p99)),
    p99Runs: measuredRuns.map((r) => r.latency.p99),
    ratio,
    othersCoresMedian: measuredRuns.every((r) => r.cpu)
      ? median(measuredRuns.map((r) => r.cpu?.others ?? 0))
      : null,
    goalMet: scenario.goal === null ? null : ratio >= scenario.goal,
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    statusCodes: runs.map((r) => statusCodes(r.result)).join(' | '),
  };
}

export type Row = string[];

const HEADER: Row = [
  'Scenario',
  'req/s (median)',
  'req/s per run',
  'p50 ms',
  'p99 ms',
  'vs baseline',
  'goal',
  'met',
  'non-2xx/err',
  'others cpu',
];

function rows(summaries: Summary[]): Row[] {
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  return summaries.map((s) => [
    s.title,
    int(s.reqPerSecMedian),
    s.reqPerSecRuns.map(int).join(' / '),
    s.p50Median.toFixed(2),
    s.p99Median.toFixed(2),
    s.key === 'baseline' ? '1.00 (100%)' : `${s.ratio.toFixed(2)} (${(s.ratio * 100).toFixed(0)}%)`,
    s.goal === null ? '—' : `≥ ${(s.goal * 100).toFixed(0)}%`,
    s.goalMet === null ? '—' : s.goalMet ? 'yes' : 'NO',
    `${s.non2xx}/${s.errors + s.timeouts}`,
    s.othersCoresMedian === null ? '?' : s.othersCoresMedian.toFixed(2),
  ]);
}

/** A plain-text table for the terminal: the first column left-aligned, the others right-aligned. */
export function formatText(header: readonly string[], body: readonly Row[]): string {
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The same table in Markdown, for `bench/RESULTS.md`. */
export function formatMarkdown(header: readonly string[], body: readonly Row[]): string {
  const line = (r: readonly string[]) => `| ${r.join(' | ')} |`;
  const align = `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`;
  return [line(header), align, ...body.map(line)].join('\n');
}

export const textTable = (summaries: Summary[]): string => formatText(HEADER, rows(summaries));
export const markdownTable = (summaries: Summary[]): string => formatMarkdown(HEADER, rows(summaries));
