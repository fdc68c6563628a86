/** The run as Markdown (bench/out/audit-*.md, pasted into bench/RESULTS.md) and a goal check. */
import type { ExportResult, ShapeResult, VerifyResult } from './measure.js';
import type { Dialect } from './options.js';
import type { PlanReport } from './probe.js';

/** The issue's goals; its export memory goal is 200 MB, i.e. 190.7 MiB. */
export const GOALS = {
  pageP99Ms: 25,
  deepRatio: 1.5,
  exportRowsPerSecond: 100_000,
  exportRssMiB: 200e6 / 2 ** 20,
} as const;

export type DialectReport = {
  dialect: Dialect;
  version: string;
  events: number;
  /** null when the database was kept by an earlier run (`--reuse`). */
  seed: {
    rows: number;
    seconds: number;
    rowsPerSecond: number;
    extraWhat: string;
    extraSeconds: number;
  } | null;
  headSeqAtStart: number;
  /** 1-minute load average when the query samples started and when the export ended (other work on the box shows here). */
  loadavg: { beforeQueries: number; afterExport: number };
  /** Server RSS after start (idle) and after the query samples; the export runs on a fresh process. */
  memory: { idleAtStartMiB: number; afterQueriesMiB: number; hwmAfterQueriesMiB: number };
  sizes: Record<string, number>;
  shapes: ShapeResult[];
  deepRatio: { p50: number; p99: number };
  /** The same for one action's pages, whose rows are alike (the unfiltered first page holds the bench's own small audit.query rows). */
  deepActionRatio: { p50: number; p99: number };
  export: ExportResult | null;
  /** The same lines written by the database and read by the bench itself (`Probe.lineBaseline`). */
  exportBaseline?: { rows: number; bytes: number; seconds: number; rowsPerSecond: number } | null;
  verify: VerifyResult | null;
  /** `gatehouse audit verify` (in-process, after the server stopped). */
  verifyCli: { code: number | null; output: string; seconds: number } | null;
  plans: (PlanReport & { key: string })[];
  /** SQLite only: the same shapes after ANALYZE, which Gatehouse never runs. */
  plansAnalyzed: (PlanReport & { key: string })[];
  misses: string[];
  problems: string[];
  serverWarnings: string[];
};

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '–');
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mib = (b: number | undefined) => (b === undefined ? '–' : `${(b / 2 ** 20).toFixed(0)} MiB`);

export function checkGoals(r: DialectReport): string[] {
  const misses: string[] = [];
  for (const s of r.shapes) {
    if (s.goal && !(s.stats.p99 <= GOALS.pageP99Ms))
      misses.push(`${r.dialect}: ${s.title}: p99 ${f(s.stats.p99)} ms > ${GOALS.pageP99Ms} ms`);
  }
  if (!(r.deepRatio.p50 <= GOALS.deepRatio))
    misses.push(`${r.dialect}: deep/first p50 ratio ${f(r.deepRatio.p50, 2)} > ${GOALS.deepRatio}`);
  if (r.export) {
    if (r.export.rowsPerSecond < GOALS.exportRowsPerSecond)
      misses.push(
        `${r.dialect}: export ${int(r.export.rowsPerSecond)} rows/s < ${int(GOALS.exportRowsPerSecond)}`,
      );
    if (r.export.rssPeakSampledMiB >= GOALS.exportRssMiB)
      misses.push(
        `${r.dialect}: export peak RSS ${r.export.rssPeakSampledMiB} MiB ≥ 200 MB (${f(GOALS.exportRssMiB)} MiB)`,
      );
  }
  return misses;
}

export function dialectMarkdown(r: DialectReport): string {
  const out: string[] = [];
  const name = r.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  out.push(`#### ${name} ${r.version}: ${int(r.seed?.rows ?? r.headSeqAtStart)} events`, '');
  out.push(
    (r.seed
      ? `Seeded ${int(r.seed.rows)} rows in ${f(r.seed.seconds, 0)} s (${int(r.seed.rowsPerSecond)} rows/s), then ${r.seed.extraWhat} ${f(r.seed.extraSeconds, 0)} s. `
      : `Reused a database seeded by an earlier run (${int(r.headSeqAtStart)} events at the start). `) +
      `On disk: ${r.dialect === 'sqlite' ? `database file ${mib(r.sizes.database)}` : `audit_events ${mib(r.sizes.total)} (heap ${mib(r.sizes.heap)}, indexes ${mib(r.sizes.indexes)})`}.`,
    '',
  );
  out.push(
    '| query | p50 ms | p90 ms | p99 ms | max ms | n | rows/page | KiB/page | goal p99 ≤ 25 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const s of r.shapes) {
    const verdict = s.goal ? (s.stats.p99 <= GOALS.pageP99Ms ? 'met' : '**missed**') : '(context)';
    const rows = s.key === 'healthz' || s.key === 'me' ? '' : String(s.rows);
    out.push(
      `| ${s.title} | ${f(s.stats.p50)} | ${f(s.stats.p90)} | ${f(s.stats.p99)} | ${f(s.stats.max)} | ${s.stats.n}${s.cappedAt !== null ? ' (capped)' : ''} | ${rows} | ${f(s.bytes / 1024)} | ${verdict} |`,
    );
  }
  out.push(
    '',
    `1-minute load average: ${r.loadavg.beforeQueries} before the samples, ${r.loadavg.afterExport} after the export.`,
  );
  out.push(
    '',
    `Server RSS: ${r.memory.idleAtStartMiB} MiB idle after start, ${r.memory.afterQueriesMiB} MiB after the query samples (VmHWM ${r.memory.hwmAfterQueriesMiB} MiB).`,
  );
  out.push(
    '',
    `Deep page / first page: p50 ×${f(r.deepRatio.p50, 2)}, p99 ×${f(r.deepRatio.p99, 2)} (goal ≤ ×${GOALS.deepRatio}: ${r.deepRatio.p50 <= GOALS.deepRatio ? 'met' : '**missed**'}); ` +
      `deep into one action / that action's first page, rows alike: p50 ×${f(r.deepActionRatio.p50, 2)}, p99 ×${f(r.deepActionRatio.p99, 2)}.`,
    '',
  );
  if (r.export) {
    const e = r.export;
    const ok = e.rowsPerSecond >= GOALS.exportRowsPerSecond && e.rssPeakSampledMiB < GOALS.exportRssMiB;
    out.push(
      `Export (\`${e.path}\`, NDJSON): ${int(e.rows)} rows, ${(e.bytes / 2 ** 30).toFixed(2)} GiB in ${f(e.seconds)} s = **${int(e.rowsPerSecond)} rows/s** (${f(e.mibPerSecond)} MiB/s); ` +
        `freshly started server: RSS ${e.rssBeforeMiB} MiB before, **peak ${e.rssPeakSampledMiB} MiB** while streaming (VmHWM ${e.hwmAfterMiB} MiB). Goal ≥ 100,000 rows/s and < 200 MB (190.7 MiB): ${ok ? 'met' : '**missed**'}.`,
      '',
    );
    const b = r.exportBaseline;
    if (b) {
      out.push(
        `Baseline, same run: the database writing the same lines and the bench reading them directly (no Gatehouse, no HTTP): ${int(b.rows)} rows in ${f(b.seconds)} s = ${int(b.rowsPerSecond)} rows/s; the export ran at **${f(e.rowsPerSecond / b.rowsPerSecond, 2)}×** of it.`,
        '',
      );
    }
  }
  if (r.export)
    out.push(
      `\`GET /healthz\` on a second connection every 100 ms during the export: p50 ${f(r.export.healthzDuring.p50)} ms, p99 ${f(r.export.healthzDuring.p99)} ms, max ${f(r.export.healthzDuring.max)} ms (n ${r.export.healthzDuring.n}).`,
      '',
    );
  if (r.verify) {
    const v = r.verify;
    out.push(
      v.status === 'ok' || v.status === 'broken'
        ? `\`GET /api/audit/verify\`: ${v.status}, ${int(v.checked)} events in ${f(v.seconds)} s (${int(v.checked / v.seconds)} events/s).`
        : `\`GET /api/audit/verify\`: **${v.status}** after ${f(v.seconds)} s (${v.detail}).`,
    );
    out.push(
      `\`GET /healthz\` every 100 ms meanwhile: p50 ${f(v.healthzDuring.p50)} ms, p99 ${f(v.healthzDuring.p99)} ms, max ${f(v.healthzDuring.max)} ms (n ${v.healthzDuring.n}).`,
      '',
    );
  }
  if (r.verifyCli)
    out.push(
      `\`gatehouse audit verify\` (CLI, in-process): exit ${r.verifyCli.code}, "${r.verifyCli.output}" in ${f(r.verifyCli.seconds)} s.`,
      '',
    );
  if (r.plans.length) {
    out.push(
      "Plans of the slowest parameter per shape (in-process = Gatehouse's audit service called directly, no HTTP, no audit write):",
      '',
    );
    out.push('| query | in-process p50 / p99 ms | plan of the page query |', '|---|---:|---|');
    for (const p of r.plans)
      out.push(
        `| ${p.key} | ${f(p.inProcess.p50, 2)} / ${f(p.inProcess.p99, 2)} | ${planSummary(p.queries[p.queries.length - 1]?.plan ?? [])} |`,
      );
    for (const p of r.plansAnalyzed)
      out.push(
        `| ${p.key}, after ANALYZE | ${f(p.inProcess.p50, 2)} / ${f(p.inProcess.p99, 2)} | ${planSummary(p.queries[p.queries.length - 1]?.plan ?? [])} |`,
      );
    out.push('');
  }
  if (r.problems.length) out.push('Problems:', ...r.problems.map((p) => `- ${p}`), '');
  return out.join('\n');
}

export function plansText(r: DialectReport): string {
  const out: string[] = [`== ${r.dialect} ${r.version}, ${r.events} events ==`];
  const all = [...r.plans, ...r.plansAnalyzed.map((p) => ({ ...p, key: `${p.key} (after ANALYZE)` }))];
  for (const p of all) {
    out.push(
      '',
      `-- ${p.key}: ${p.path}`,
      `   in-process (service.list, no HTTP): p50 ${f(p.inProcess.p50, 2)} ms, p99 ${f(p.inProcess.p99, 2)} ms, max ${f(p.inProcess.max, 2)} ms`,
    );
    for (const q of p.queries) {
      out.push(
        `   SQL: ${q.sql}`,
        `   params: ${JSON.stringify(q.params)}`,
        ...q.plan.map((l) => `     ${l}`),
      );
    }
  }
  return `${out.join('\n')}\n`;
}

/** A plan on one line: SQLite's steps, or PostgreSQL's nodes with the rows they filtered out. */
export function planSummary(plan: string[]): string {
  const parts: string[] = [];
  for (const raw of plan) {
    const line = raw.trim().replace(/^->\s*/, '');
    if (
      /^(Planning|Execution|Buffers|Heap Blocks|Sort Method|Sort Key|Index Cond|Recheck Cond|Filter:)/.test(
        line,
      )
    )
      continue;
    const removed = /^Rows Removed by Filter: (\d+)/.exec(line);
    if (removed) {
      parts.push(`${parts.pop() ?? ''} (filtered out ${removed[1]!})`);
      continue;
    }
    const node = line.replace(
      /\s*\(cost=.*?\)\s*\(actual time=[\d.]+\.\.([\d.]+) rows=(\d+).*$/,
      ' [$2 rows, $1 ms]',
    );
    parts.push(node.replace(/\|/g, '/'));
  }
  return parts.join(' → ');
}
