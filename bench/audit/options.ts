import { parseArgs } from 'node:util';

export type Dialect = 'sqlite' | 'postgres';

export type AuditBenchOptions = {
  /** Events the bulk loader seeds before the server starts. */
  events: number;
  dialects: Dialect[];
  /** Measured requests per query shape, after `warmup` unmeasured ones. */
  samples: number;
  warmup: number;
  /** Distinct user ids acting (besides `system` and `anonymous`). */
  actors: number;
  /** How many pages deep the deep-page query starts (at the default page size of 50). */
  depth: number;
  /** Rows to export for the throughput figure; 0 exports everything. */
  exportRows: number;
  /** PRNG seed for the generated data, so two runs load the same events. */
  seed: number;
  /** Server connection for PostgreSQL, without a database name. */
  pgUrl: string;
  /** Parent folder of the SQLite data folder. */
  dataDir: string;
  verify: boolean;
  explain: boolean;
  /** Keep the SQLite folder and the PostgreSQL database afterwards (for EXPLAIN by hand). */
  keep: boolean;
  /** Measure a database kept by an earlier `--keep` run: a SQLite data folder or a PostgreSQL database name. */
  reuse: string | null;
};

const HELP = `Usage: npm run bench:audit -- [flags]

  --events N        events to seed (default 200000: the quick run; the issue's run is 10000000)
  --dialect D       sqlite, postgres or both (default both)
  --samples N       measured requests per query shape (default 200)
  --warmup N        unmeasured requests per query shape first (default 20)
  --actors N        distinct user ids in the data (default 3000)
  --depth N         pages deep for the deep-page query (default 5000)
  --export-rows N   rows the export measurement streams; 0 = the whole log (default 0)
  --seed N          PRNG seed for the generated events (default 1)
  --pg-url URL      PostgreSQL server, no database (default $BENCH_PG_URL or postgres://postgres@127.0.0.1:5432)
  --data-dir DIR    parent of the SQLite folder (default $BENCH_DATA_DIR or /tmp)
  --skip-verify     do not call GET /api/audit/verify over the whole chain
  --skip-explain    do not print query plans
  --keep            keep the SQLite folder / PostgreSQL database (and its admin token) afterwards
  --reuse WHERE     measure a kept database again instead of seeding: the SQLite folder, or the
                    PostgreSQL database name; needs --dialect sqlite or postgres
  --help            this text
`;

export function usage(): string {
  return HELP;
}

function int(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`--${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

export function parseOptions(argv: string[]): AuditBenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string' },
      dialect: { type: 'string' },
      samples: { type: 'string' },
      warmup: { type: 'string' },
      actors: { type: 'string' },
      depth: { type: 'string' },
      'export-rows': { type: 'string' },
      seed: { type: 'string' },
      'pg-url': { type: 'string' },
      'data-dir': { type: 'string' },
      'skip-verify': { type: 'boolean' },
      'skip-explain': { type: 'boolean' },
      keep: { type: 'boolean' },
      reuse: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const dialect = values.dialect ?? 'both';
  if (dialect !== 'sqlite' && dialect !== 'postgres' && dialect !== 'both') {
    throw new Error(`--dialect must be sqlite, postgres or both, got "${dialect}"`);
  }
  if (values.reuse !== undefined && dialect === 'both')
    throw new Error('--reuse needs --dialect sqlite or --dialect postgres');
  return {
    events: int('events', values.events, 200_000, 1000),
    dialects: dialect === 'both' ? ['sqlite', 'postgres'] : [dialect],
    samples: int('samples', values.samples, 200, 10),
    warmup: int('warmup', values.warmup, 20, 0),
    actors: int('actors', values.actors, 3000, 10),
    depth: int('depth', values.depth, 5000, 1),
    exportRows: int('export-rows', values['export-rows'], 0, 0),
    seed: int('seed', values.seed, 1, 0),
    pgUrl: (values['pg-url'] ?? process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(
      /\/+$/,
      '',
    ),
    dataDir: values['data-dir'] ?? process.env.BENCH_DATA_DIR ?? '/tmp',
    verify: !values['skip-verify'],
    explain: !values['skip-explain'],
    keep: values.keep ?? false,
    reuse: values.reuse ?? null,
  };
}
