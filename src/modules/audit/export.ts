import { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Tables } from '../../db/tables.js';
import { toCsvRow, CSV_COLUMNS } from '../journal/event.js';
import type { AuditFilters, AuditStore } from './store.js';

const EXPORT_BATCH = 1000;
const EXPORT_CHUNK = 50;
/**
 * Bulk-read exports (`store.lineBytes`) read seq ranges aiming at this many rows each (~2.5 MB). Reads of
 * 10,000 rows put the 10M-event export's peak RSS at 225 MiB, 3,000 at ~180 (bench/RESULTS.md, audit).
 */
const COPY_ROWS = 3000;
const COPY_SPAN = { first: 1000, max: 1_000_000 };

type ExportDeps = { db: Kysely<Tables>; store: AuditStore };

function countLines(chunks: Buffer[]): number {
  let n = 0;
  for (const chunk of chunks) for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

// Chunks of 50 lines: big enough to write efficiently, small enough to stay out of V8's large-object
// space, whose garbage is what made the export's RSS grow (bench/RESULTS.md, audit).
function chunks<T>(rows: T[], format: (row: T) => string): string[] {
  const out: string[] = [];
  for (let i = 0; i < rows.length; i += EXPORT_CHUNK)
    out.push(
      rows
        .slice(i, i + EXPORT_CHUNK)
        .map(format)
        .join('\n') + '\n',
    );
  return out;
}

/** One batch reader: NDJSON lines are written by the database (`store.lines`); CSV rows are formatted here. */
function reader({ db, store }: ExportDeps, csv: boolean) {
  return csv
    ? (f: AuditFilters, after: number) =>
        store
          .batch(db, f, after, EXPORT_BATCH)
          .then((rows) => ({ n: rows.length, last: rows.at(-1)?.seq, chunks: chunks(rows, toCsvRow) }))
    : (f: AuditFilters, after: number) =>
        store.lines(db, f, after, EXPORT_BATCH).then((rows) => ({
          n: rows.length,
          last: rows.at(-1)?.seq,
          chunks: chunks(rows, (r) => r.line),
        }));
}

/**
 * Seq ranges from `first` to `last`, each doubled while it holds fewer than COPY_ROWS matches, so a sparse
 * filter skips ahead and a dense one stays near COPY_ROWS a read.
 */
async function* copied(
  db: Kysely<Tables>,
  lineBytes: NonNullable<AuditStore['lineBytes']>,
  f: AuditFilters,
  range: { first: number; last: number },
  onRows?: (n: number) => void,
): AsyncGenerator<Buffer> {
  const { first, last } = range;
  let span = COPY_SPAN.first;
  for (let from = first, to = 0; from <= last; from = to + 1) {
    to = Math.min(from + span - 1, last);
    const bytes = await lineBytes(db, f, from, to);
    const n = countLines(bytes);
    onRows?.(n);
    yield* bytes;
    if (n < COPY_ROWS) span = Math.min(span * 2, COPY_SPAN.max);
    else if (n > 2 * COPY_ROWS) span = Math.max(Math.floor(span / 2), COPY_SPAN.first);
  }
}

/**
 * The body of an audit export (`filters` resolved, null when the window holds no event), oldest first, as
 * NDJSON or CSV, read in bounded batches as the client consumes it.
 */
export function exportStream(
  deps: ExportDeps,
  filters: AuditFilters | null,
  csv: boolean,
  onRows?: (n: number) => void,
): Readable {
  const { db, store } = deps;
  const read = reader(deps, csv);
  async function* lines(): AsyncGenerator<string | Buffer> {
    if (csv) yield `${CSV_COLUMNS.join(',')}\n`;
    const stored = filters && (await store.seqRange(db));
    if (!filters || !stored) return;
    // The log as the export starts, its own `audit.export` event included, on both dialects: events that
    // commit meanwhile belong to the next export (or to a collector tailing with order=asc&after=).
    const f = {
      ...filters,
      fromSeq: Math.max(filters.fromSeq ?? 0, stored.first),
      toSeq: Math.min(filters.toSeq ?? stored.last, stored.last),
    };
    if (!csv && store.lineBytes) {
      yield* copied(db, store.lineBytes, f, { first: f.fromSeq, last: f.toSeq }, onRows);
      return;
    }
    let after = 0;
    for (;;) {
      const batch = await read(f, after);
      if (batch.n === 0) return;
      after = Number(batch.last);
      onRows?.(batch.n);
      // better-sqlite3 is synchronous: give the event loop a turn between batches so requests still get answers.
      await new Promise((r) => setImmediate(r));
      yield* batch.chunks;
      if (batch.n < EXPORT_BATCH) return;
    }
  }
  return Readable.from(lines(), { objectMode: false });
}
