import { parseArgs } from 'node:util';

export type BenchOptions = {
  /** Seconds measured per run. */
  duration: number;
  /** Seconds of unmeasured load before a scenario's first run. */
  warmup: number;
  /** Measured runs per scenario; the table quotes the median. */
  runs: number;
  connections: number;
  pipelining: number;
  /** Users created before the GET scenarios. */
  seed: number;
};

const FLAGS = {
  duration: { env: 'BENCH_DURATION', fallback: 10, min: 1, help: 'seconds measured per run' },
  warmup: {
    env: 'BENCH_WARMUP',
    fallback: 3,
    min: 0,
    help: 'seconds of unmeasured load before each scenario',
  },
  runs: { env: 'BENCH_RUNS', fallback: 3, min: 1, help: 'measured runs per scenario (median is quoted)' },
  connections: { env: 'BENCH_CONNECTIONS', fallback: 10, min: 1, help: 'concurrent connections' },
  pipelining: { env: 'BENCH_PIPELINING', fallback: 1, min: 1, help: 'pipelined requests per connection' },
  seed: { env: 'BENCH_SEED', fallback: 200, min: 1, help: 'users created before the GET scenarios' },
} as const satisfies Record<keyof BenchOptions, { env: string; fallback: number; min: number; help: string }>;

export function usage(): string {
  const lines = Object.entries(FLAGS).map(
    ([name, f]) => `  --${name.padEnd(12)} ${f.help} (default ${f.fallback}, env ${f.env})`,
  );
  return `Usage: npm run bench -- [flags]\n\n${lines.join('\n')}\n  --help         this text\n`;
}

/** Flags win over environment variables, which win over the defaults. */
export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      runs: { type: 'string' },
      connections: { type: 'string' },
      pipelining: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const pick = (name: keyof BenchOptions): number => {
    const flag = FLAGS[name];
    const raw = values[name] ?? process.env[flag.env];
    if (raw === undefined || raw === '') return flag.fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < flag.min)
      throw new Error(`--${name} must be an integer >= ${flag.min}, got "${raw}"`);
    return n;
  };
  return {
    duration: pick('duration'),
    warmup: pick('warmup'),
    runs: pick('runs'),
    connections: pick('connections'),
    pipelining: pick('pipelining'),
    seed: pick('seed'),
  };
}
