/** One answered (or failed) request of a load run: the journal fault tests assert over. */
export type Outcome = {
  worker: number;
  method: string;
  path: string;
  /** When the request was sent and how long its answer took (ms, wall clock). */
  startedAt: number;
  ms: number;
  /** The HTTP status, or `error` when no answer came (connection refused or reset, or `timeoutMs` passed). */
  status: number | 'error';
  contentType: string | null;
  retryAfter: string | null;
  /** The problem's `code` for an error answer; the parsed JSON body for a 2xx. */
  code?: string;
  body?: unknown;
  error?: string;
};

export type LoadRequest = { method?: string; path: string; body?: unknown; token?: string };

/**
 * Runs `workers` loops against `baseUrl`, one request at a time each, until `stop()`: every request has a
 * deadline of `timeoutMs` (a request that hangs is recorded as an error, never waited on forever), and every
 * outcome is journalled in order.
 */
export function startLoad(opts: {
  baseUrl: () => string;
  workers: number;
  next: (worker: number, i: number) => LoadRequest;
  token: string;
  timeoutMs?: number;
  pauseMs?: number;
}) {
  const outcomes: Outcome[] = [];
  let stopping = false;
  const one = async (worker: number, req: LoadRequest): Promise<Outcome> => {
    const method = req.method ?? 'GET';
    const startedAt = Date.now();
    const base = { worker, method, path: req.path, startedAt, contentType: null, retryAfter: null };
    try {
      const res = await fetch(`${opts.baseUrl()}${req.path}`, {
        method,
        headers: { authorization: `Bearer ${req.token ?? opts.token}`, 'content-type': 'application/json' },
        ...(req.body === undefined ? {} : { body: JSON.stringify(req.body) }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
      });
      const text = await res.text();
      const parsed = text ? (JSON.parse(text) as { code?: string }) : undefined;
      return {
        ...base,
        ms: Date.now() - startedAt,
        status: res.status,
        contentType: res.headers.get('content-type'),
        retryAfter: res.headers.get('retry-after'),
        ...(res.ok ? { body: parsed } : { code: parsed?.code }),
      };
    } catch (err) {
      return {
        ...base,
        ms: Date.now() - startedAt,
        status: 'error',
        error:
          err instanceof Error
            ? `${err.name}: ${err.message} ${String((err.cause as Error | undefined)?.message ?? '')}`
            : String(err),
      };
    }
  };
  const loop = async (worker: number) => {
    for (let i = 0; !stopping; i++) {
      outcomes.push(await one(worker, opts.next(worker, i)));
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  };
  const loops = Array.from({ length: opts.workers }, (_, w) => loop(w));
  return {
    outcomes,
    /** Stops sending and waits for the requests in flight (each bounded by `timeoutMs`). */
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
    },
  };
}

/** Polls `check` every `everyMs` until it is true or `timeoutMs` passes; returns the ms it took, or null. */
export async function within(
  timeoutMs: number,
  check: () => Promise<boolean>,
  everyMs = 50,
): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check().catch(() => false)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return null;
}
