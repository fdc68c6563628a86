export type Summary = {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
};

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    n: s.length,
    min: round(s[0] ?? Number.NaN),
    p50: round(percentile(s, 50)),
    p90: round(percentile(s, 90)),
    p99: round(percentile(s, 99)),
    max: round(s.at(-1) ?? Number.NaN),
    mean: round(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}

export type Bursts = { count: number; size: Summary; startInterval: Summary; gapMs: number };

/**
 * Splits ascending arrival times wherever two arrivals are more than `gapMs` apart. A worker that delivers
 * in rounds shows as bursts (their size is what one round sent, the interval between their starts the
 * round period); a continuous one as a single long burst.
 */
export function bursts(times: readonly number[], gapMs: number): Bursts {
  const starts: number[] = [];
  const sizes: number[] = [];
  let prev = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    if (t - prev > gapMs) {
      starts.push(t);
      sizes.push(0);
    }
    sizes[sizes.length - 1]!++;
    prev = t;
  }
  const intervals = starts.slice(1).map((s, i) => s - starts[i]!);
  return { count: starts.length, size: summarize(sizes), startInterval: summarize(intervals), gapMs };
}

/** Arrivals per `bucketMs` from `from`, for the JSON timeline. */
export function histogram(times: readonly number[], from: number, bucketMs: number): number[] {
  const out: number[] = [];
  for (const t of times) {
    const b = Math.max(0, Math.floor((t - from) / bucketMs));
    while (out.length <= b) out.push(0);
    out[b]!++;
  }
  return out;
}
