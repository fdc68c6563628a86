import type { Logger } from 'pino';

/** A commit wakes the loop this much later, so a burst of commits shares one round. */
const WAKE_AFTER_MS = 10;

/**
 * Everything a round loop knows, in one object; only the loop's methods change it.
 * - `stopped`: before `start()` and after `stop()` has let the last round end; nothing runs.
 * - `idle`: between rounds, a timer pending (`timerAt`).
 * - `running`: a round runs (`current`); a wake now sets `wakeRequested`, and the next round follows at once.
 * - `stopping`: `stop()` was called while a round ran; no round begins after it.
 */
export type RoundLoopState = {
  phase: 'stopped' | 'idle' | 'running' | 'stopping';
  /** Rounds begun since the start. */
  round: number;
  wakeRequested: boolean;
  /** Between rounds when idle (ms): the poll. */
  pollMs: number;
  timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (process time). */
  timerAt: number;
  current: Promise<void> | undefined;
};

/**
 * A relay's cadence (the plugin after-hooks'; the webhook worker keeps its own, webhooks/round-loop.ts, which
 * this follows): runs `round` back to back while it reports more to do, then sleeps until the poll
 * (`pollMs`) or a `wake()`. Rounds never overlap: a wake during one makes it go again at once. Times are
 * process time (timer cadence, not the injected domain clock). `round` is given its number (1, 2, …).
 */
export function createRoundLoop(round: (n: number) => Promise<boolean>, logger: Logger, name: string) {
  const state: RoundLoopState = {
    phase: 'stopped',
    round: 0,
    wakeRequested: false,
    pollMs: 200,
    timer: undefined,
    timerAt: 0,
    current: undefined,
  };

  /** A function, not the field: TypeScript would narrow it across the await in `begin`. */
  const phase = () => state.phase;

  function schedule(ms: number): void {
    clearTimeout(state.timer);
    state.timerAt = performance.now() + ms;
    state.timer = setTimeout(() => void begin(), ms);
  }

  async function begin(): Promise<void> {
    if (state.phase === 'running') state.wakeRequested = true;
    if (state.phase !== 'idle') return;
    state.phase = 'running';
    clearTimeout(state.timer);
    state.round += 1;
    const work = round(state.round).catch((err: unknown) => {
      logger.warn({ err }, `${name} round failed; retrying`);
      return false;
    });
    state.current = work.then(() => undefined);
    const busy = await work;
    state.current = undefined;
    // stop() during the round: it ends here.
    if (phase() === 'stopping') return void (state.phase = 'stopped');
    state.phase = 'idle';
    const now = busy || state.wakeRequested;
    state.wakeRequested = false;
    schedule(now ? 0 : state.pollMs);
  }

  return {
    /** The state, read-only: for the loop's owner to tell whether it is stopping. */
    state: state as Readonly<RoundLoopState>,
    /** Between rounds when idle (ms): the worker's poll. */
    pollMs: () => state.pollMs,
    /** True from `stop()` (and before `start()`): no round is to begin work. */
    isStopped: () => state.phase === 'stopped' || state.phase === 'stopping',
    start(intervalMs: number): void {
      if (state.phase !== 'stopped') return;
      state.phase = 'idle';
      state.round = 0;
      state.pollMs = intervalMs;
      schedule(0);
    },
    /** Runs a round soon: at once while one runs (it goes again), else after WAKE_AFTER_MS. */
    wake(): void {
      if (state.phase === 'running') state.wakeRequested = true;
      if (state.phase !== 'idle') return;
      // Never later than already planned: a stream of commits must not keep pushing the round away.
      if (state.timerAt - performance.now() > WAKE_AFTER_MS) schedule(WAKE_AFTER_MS);
    },
    /** No round starts after this; the answer resolves when the one running (if any) has ended. */
    stop(): Promise<void> {
      clearTimeout(state.timer);
      state.wakeRequested = false;
      if (state.phase === 'running' || state.phase === 'stopping') state.phase = 'stopping';
      else state.phase = 'stopped';
      return state.current ?? Promise.resolve();
    },
  };
}
export type RoundLoop = ReturnType<typeof createRoundLoop>;
