import type { EventGenerator } from './generate.js';
import type { AuditBenchOptions } from './options.js';

const DAY = 86_400_000;

/** What the loaders generate: `count` events spread over [fromTs, toTs]. */
export type SeedPlan = { seed: number; actors: number; count: number; fromTs: number; toTs: number };

export type LoadResult = {
  rows: number;
  seconds: number;
  /** The checkpoint (SQLite) or VACUUM ANALYZE (PostgreSQL) after the inserts. */
  extraSeconds: number;
  extraWhat: string;
  head: { seq: number; hash: string; ts: number };
  /** The generator, for its actors and roles (query parameters of known selectivity). */
  gen: EventGenerator;
};

/**
 * A year of events ending a minute ago. 360 days rather than 365: the retention job (default 365 days)
 * runs five seconds after the server starts and would otherwise start deleting the oldest events.
 */
export function planSeed(options: AuditBenchOptions, now: number): SeedPlan {
  return {
    seed: options.seed,
    actors: options.actors,
    count: options.events,
    fromTs: now - 360 * DAY,
    toTs: now - 60_000,
  };
}
