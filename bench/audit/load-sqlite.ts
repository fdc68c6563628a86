/**
 * Bulk loader for SQLite: the database file opened directly with better-sqlite3 (WAL, synchronous off
 * for the load only), multi-row prepared INSERTs in transactions of 50,000 rows, then the chain head.
 */
import Database from 'better-sqlite3';
import { EventGenerator, type Row } from './generate.js';
import { progress } from './progress.js';
import type { LoadResult, SeedPlan } from './seed.js';

export const COLUMNS = [
  'seq',
  'id',
  'ts',
  'actor',
  'actor_name',
  'token_id',
  'action',
  'resource',
  'verb',
  'target_type',
  'target_id',
  'outcome',
  'request_id',
  'ip',
  'user_agent',
  'changes',
  'detail',
  'prev_hash',
  'hash',
] as const satisfies readonly (keyof Row)[];

const ROWS_PER_STATEMENT = 100;
const ROWS_PER_TRANSACTION = 50_000;

function insertSql(rows: number): string {
  const one = `(${COLUMNS.map(() => '?').join(',')})`;
  return `insert into audit_events (${COLUMNS.join(',')}) values ${Array.from({ length: rows }, () => one).join(',')}`;
}

export function loadSqlite(file: string, plan: SeedPlan): LoadResult {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1000000'); // 1 GB: keeps the seven seq-suffixed indexes' hot pages in memory
    db.pragma('temp_store = MEMORY');
    const head = db.prepare('select seq, hash, ts from audit_head where id = 1').get() as {
      seq: number;
      hash: string;
      ts: number;
    };
    const gen = new EventGenerator({
      ...plan,
      head: { seq: Number(head.seq), hash: head.hash, ts: Number(head.ts) },
    });
    const many = db.prepare(insertSql(ROWS_PER_STATEMENT));
    const single = db.prepare(insertSql(1));
    const values: unknown[] = [];
    const insert = db.transaction((rows: Row[]) => {
      let i = 0;
      for (; i + ROWS_PER_STATEMENT <= rows.length; i += ROWS_PER_STATEMENT) {
        values.length = 0;
        for (let k = i; k < i + ROWS_PER_STATEMENT; k++) {
          const row = rows[k]!;
          for (const c of COLUMNS) values.push(row[c]);
        }
        many.run(values);
      }
      for (; i < rows.length; i++) {
        const row = rows[i]!;
        single.run(COLUMNS.map((c) => row[c]));
      }
    });
    const bar = progress(`seeding SQLite ${file}`, plan.count);
    let done = 0;
    while (gen.remaining > 0) {
      const rows = gen.batch(ROWS_PER_TRANSACTION);
      insert(rows);
      done += rows.length;
      bar.tick(done);
    }
    const end = gen.head;
    db.prepare('update audit_head set seq = ?, hash = ?, ts = ? where id = 1').run(end.seq, end.hash, end.ts);
    const seconds = bar.done(done);
    const t = performance.now();
    db.pragma('wal_checkpoint(TRUNCATE)');
    const checkpointSeconds = (performance.now() - t) / 1000;
    return {
      rows: done,
      seconds,
      extraSeconds: checkpointSeconds,
      extraWhat: 'WAL checkpoint',
      head: end,
      gen,
    };
  } finally {
    db.close();
  }
}
