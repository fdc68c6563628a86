import { Presets, SingleBar } from 'cli-progress';
import { setTimeout as sleep } from 'node:timers/promises';
import { unwrap, type AuditEvent, type AuditQuery } from '@gatehouse/client';
import { request, type Args, type Remote } from './context.js';
import { collect, limitOption } from './lookup.js';
import { json, table, write, type Column } from './output.js';

/** The filters `GET /api/audit` and `/api/audit/export` take, as the options name them. */
export const FILTERS = ['actor', 'action', 'since', 'until', 'target', 'outcome'] as const;

type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

function filtersOf(opts: Record<string, unknown>): Filters {
  return Object.fromEntries(FILTERS.filter((f) => typeof opts[f] === 'string').map((f) => [f, opts[f]]));
}

const COLUMNS: Column<AuditEvent>[] = [
  ['SEQ', (e) => e.seq],
  ['TIME', (e) => e.ts],
  ['ACTOR', (e) => e.actor_name ?? e.actor],
  ['ACTION', (e) => e.action],
  ['TARGET', (e) => (e.target ? `${e.target.type}:${e.target.id ?? '-'}` : '-')],
  ['OUTCOME', (e) => e.outcome],
];

/** One event a line: as JSON with `--output json`, else its columns. */
function eventLine(remote: Remote, e: AuditEvent): string {
  if (remote.json) return `${JSON.stringify(e)}\n`;
  return `${COLUMNS.map(([, cell]) => String(cell(e) ?? '-')).join('  ')}\n`;
}

/** `gatehouse audit query [filters] [--limit N] [--all]`: newest first. */
export async function auditQuery(
  remote: Remote,
  _args: Args,
  opts: Record<string, unknown>,
): Promise<number> {
  const limit = limitOption(opts.limit);
  const events = await collect((cursor) => {
    const query: AuditQuery = {
      ...filtersOf(opts),
      ...(limit ? { limit } : {}),
      ...(cursor ? { cursor } : {}),
    } as AuditQuery;
    return unwrap(remote.api.GET('/api/audit', { params: { query } }));
  }, opts.all === true);
  remote.out.write(remote.json ? json(events) : table(events, COLUMNS));
  return 0;
}

/** The newest event's seq (0 for an empty log). */
async function headSeq(remote: Remote): Promise<number> {
  const page = await unwrap(remote.api.GET('/api/audit', { params: { query: { limit: 1 } } }));
  return page.data[0]?.seq ?? 0;
}

/**
 * `gatehouse audit tail`: prints each event written after it started, oldest first, polling
 * `order=asc&after=<seq>`; stops on SIGINT (or SIGTERM) with exit 0.
 */
export async function auditTail(remote: Remote, _args: Args, opts: Record<string, unknown>): Promise<number> {
  const interval = Math.max(100, Number(opts.interval ?? 1000) || 1000);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let after = await headSeq(remote);
    remote.err.write(`following the audit log after seq ${after} (Ctrl-C to stop)\n`);
    while (!stop.signal.aborted) {
      const query = { ...filtersOf(opts), order: 'asc', after, limit: 500 } as AuditQuery;
      const page = await unwrap(remote.api.GET('/api/audit', { params: { query }, signal: stop.signal }));
      for (const event of page.data) await write(remote.out, eventLine(remote, event));
      after = page.data.at(-1)?.seq ?? after;
      if (page.data.length < 500) await sleep(interval, undefined, { signal: stop.signal }).catch(() => {});
    }
    return 0;
  } catch (err) {
    if (stop.signal.aborted) return 0;
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A progress bar on stderr when it is a terminal; a no-op otherwise (a pipe or a log keeps clean). */
function progress(label: string, total: number) {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar(
    { format: `${label} [{bar}] {value}/{total} events`, stream: process.stderr, hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(Math.max(total, 1), 0);
  return {
    update: (n: number) => bar.update(n, { total: Math.max(total, n) }),
    stop: (n: number) => {
      bar.setTotal(Math.max(n, 1));
      bar.update(n);
      bar.stop();
    },
  };
}

/** `gatehouse audit export [filters] [--format csv]` over the API: the stream to stdout as it arrives. */
export async function auditExportRemote(
  remote: Remote,
  _args: Args,
  opts: Record<string, unknown>,
): Promise<number> {
  const query = new URLSearchParams({ ...filtersOf(opts), format: opts.format === 'csv' ? 'csv' : 'ndjson' });
  const bar = progress('exporting', await headSeq(remote));
  const response = await request(remote, `/api/audit/export?${query.toString()}`);
  let lines = 0;
  for await (const chunk of response.body ?? []) {
    const bytes = chunk as Uint8Array;
    for (const byte of bytes) if (byte === 10) lines++;
    bar.update(lines);
    await write(remote.out, bytes);
  }
  bar.stop(lines);
  remote.err.write(`exported ${opts.format === 'csv' ? Math.max(lines - 1, 0) : lines} events\n`);
  return 0;
}

/** `gatehouse audit verify [--checkpoint FILE]` over the API: exit 0 intact, 3 broken. */
export async function auditVerifyRemote(
  remote: Remote,
  _args: Args,
  opts: Record<string, unknown>,
): Promise<number> {
  // Loaded here: it brings TypeBox, which the other commands do without.
  const { readCheckpoint, reportVerify } = await import('../audit-report.js');
  const file = typeof opts.checkpoint === 'string' ? opts.checkpoint : undefined;
  const checkpoint = file === undefined ? undefined : await readCheckpoint(file);
  const bar = progress('verifying', await headSeq(remote));
  const result = checkpoint
    ? await unwrap(remote.api.POST('/api/audit/verify', { body: checkpoint }))
    : await unwrap(remote.api.GET('/api/audit/verify'));
  bar.stop(result.checked);
  if (remote.json) {
    remote.out.write(json(result));
    return result.status === 'ok' ? 0 : 3;
  }
  return reportVerify(result);
}

/** `gatehouse audit checkpoint` over the API: the signed checkpoint as JSON. */
export async function auditCheckpointRemote(remote: Remote): Promise<number> {
  remote.out.write(json(await unwrap(remote.api.GET('/api/audit/checkpoint'))));
  return 0;
}
