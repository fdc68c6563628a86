import type { Logger } from 'pino';

/** A commit wakes the worker this much later, so a burst of commits shares one round. */
const WAKE_AFTER_MS = 10;

/**
 * The worker's cadence: runs `round` back to back while it reports more to do, then sleeps until the poll
 * (`pollMs`) or a `wake()`. Rounds never overlap: a wake during one makes it go again at once. Times are
 * process time (timer cadence, not the injected domain clock).
 */
export function createRoundLoop(round: () => Promise<boolean>, logger: Logger) {
  let timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (process time). */
  let timerAt = 0;
  let pollMs = 200;
  let running = false;
  let again = false;
  let stopped = true;
  /** A function, not the variable: TypeScript would narrow it across the await below. */
  const isStopped = () => stopped;

  async function loop(): Promise<void> {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(timer);
    let busy = false;
    try {
      busy = await round();
    } catch (err) {
      logger.warn({ err }, 'webhook worker round failed; retrying');
    } finally {
      running = false;
    }
    if (isStopped()) return;
    const now = busy || again;
    again = false;
    schedule(now ? 0 : pollMs);
  }
  function schedule(ms: number): void {
    clearTimeout(timer);
    timerAt = performance.now() + ms;
    timer = setTimeout(() => void loop(), ms);
  }

  return {
    /** Between rounds when idle (ms): the worker's poll. */
    pollMs: () => pollMs,
    /** True from `stop()` (and before `start()`): no round is to begin work. */
    isStopped,
    start(intervalMs: number): void {
      stopped = false;
      pollMs = intervalMs;
      schedule(0);
    },
    /** Runs a round soon: at once while one runs (it goes again), else after WAKE_AFTER_MS. */
    wake(): void {
      if (timer === undefined || stopped) return;
      if (running) {
        again = true;
        return;
      }
      // Never later than already planned: a stream of commits must not keep pushing the round away.
      if (timerAt - performance.now() > WAKE_AFTER_MS) schedule(WAKE_AFTER_MS);
    },
    /** No round starts after this; one running finishes. */
    stop(): void {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
