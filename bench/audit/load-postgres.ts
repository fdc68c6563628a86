/**
 * Bulk loader for PostgreSQL: one `INSERT … SELECT * FROM unnest($1::int8[], …)` per 5,000 rows (19 array
 * parameters instead of 95,000 scalars), synchronous_commit off, the next batch generated while the
 * previous one is being inserted. Then the chain head and a VACUUM ANALYZE, which autovacuum would run
 * on its own after a load this size; it makes the plans the steady-state ones.
 */
import pg from 'pg';
import { EventGenerator, type Row } from './generate.js';
import { COLUMNS } from './load-sqlite.js';
import { progress } from './progress.js';
import type { LoadResult, SeedPlan } from './seed.js';

const ROWS_PER_STATEMENT = 5000;

const TYPES: Record<(typeof COLUMNS)[number], string> = {
  seq: 'int8',
  id: 'text',
  ts: 'int8',
  actor: 'text',
  actor_name: 'text',
  token_id: 'text',
  action: 'text',
  resource: 'text',
  verb: 'text',
  target_type: 'text',
  target_id: 'text',
  outcome: 'text',
  request_id: 'text',
  ip: 'text',
  user_agent: 'text',
  changes: 'jsonb',
  detail: 'text',
  prev_hash: 'text',
  hash: 'text',
};

const INSERT = `insert into audit_events (${COLUMNS.join(',')}) select * from unnest(${COLUMNS.map((c, i) => `$${i + 1}::${TYPES[c]}[]`).join(',')})`;

function columnArrays(rows: Row[]): unknown[][] {
  return COLUMNS.map((c) => rows.map((r) => r[c]));
}

export async function loadPostgres(url: string, plan: SeedPlan): Promise<LoadResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('set synchronous_commit = off');
    await client.query("set maintenance_work_mem = '512MB'");
    const head = (
      await client.query<{ seq: string; hash: string; ts: string }>(
        'select seq, hash, ts from audit_head where id = 1',
      )
    ).rows[0]!;
    const gen = new EventGenerator({
      ...plan,
      head: { seq: Number(head.seq), hash: head.hash, ts: Number(head.ts) },
    });
    const bar = progress(`seeding PostgreSQL ${new URL(url).pathname.slice(1)}`, plan.count);
    let done = 0;
    let inFlight: Promise<unknown> | null = null;
    while (gen.remaining > 0) {
      const rows = gen.batch(ROWS_PER_STATEMENT);
      if (inFlight) await inFlight;
      inFlight = client.query(INSERT, columnArrays(rows)).then(() => {
        done += rows.length;
        bar.tick(done);
      });
    }
    if (inFlight) await inFlight;
    const end = gen.head;
    await client.query('update audit_head set seq = $1, hash = $2, ts = $3 where id = 1', [
      end.seq,
      end.hash,
      end.ts,
    ]);
    const seconds = bar.done(done);
    const t = performance.now();
    await client.query('vacuum (analyze) audit_events');
    return {
      rows: done,
      seconds,
      extraSeconds: (performance.now() - t) / 1000,
      extraWhat: 'VACUUM ANALYZE',
      head: end,
      gen,
    };
  } finally {
    await client.end();
  }
}
