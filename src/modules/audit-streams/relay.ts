import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { fromJson } from '../../db/codecs.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { AuditService } from '../audit/service.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { Outbox } from '../events/outbox.js';
import { reaches, unreachable, type CreatorPermissions, type Reach } from '../events/reach.js';
import { createRoundLoop } from '../webhooks/round-loop.js';
import { sendSigned } from '../webhooks/sender.js';
import type { AuditStreamsService } from './service.js';
import type { AuditStreamsStore, LeasedStream } from './store.js';

/** A batch holds at most this many events, and at most BATCH_BYTES of NDJSON (but always one event). */
export const BATCH_EVENTS = 100;
export const BATCH_BYTES = 256 * 1024;
/** Consecutive failed attempts after which the relay pauses a stream. */
export const MAX_FAILURES = 5;
/** Seconds before the next attempt after the 1st, 2nd… failure (the 5th pauses instead). */
export const BACKOFF_S = [1, 5, 30, 120];
/** A stream whose creator may not read the audit log is looked at again this much later. */
const WITHHELD_RETRY_MS = 5_000;
/** Short and renewed while sending, so the streams of a relay that died go to another within LEASE_MS. */
const LEASE_MS = 30_000;
const RENEW_EVERY_MS = 5_000;

type Deps = {
  db: Kysely<Tables>;
  store: AuditStreamsStore;
  streams: Pick<AuditStreamsService, 'pause'>;
  audit: Pick<AuditService, 'follow' | 'headSeq'>;
  clock: Clock;
  logger: Logger;
  settings: () => ConfigDocument;
  dispatcher: () => Dispatcher;
  creatorPermissions: CreatorPermissions;
  /** When given, a round runs soon after a change commits (denials and logins write no outbox event: the poll). */
  outbox?: Pick<Outbox, 'onCommitted'>;
};

/**
 * The NDJSON body of the first events that fit the batch limits, the seq of the last one in it (`last`), and
 * the seq the body covers up to (`upTo`: past events the filter left out, unless the limits cut the batch).
 */
export function pack(
  events: { seq: number }[],
  upTo: number,
): { body: string; last: number | null; upTo: number } {
  let body = '';
  let bytes = 0;
  let last: number | null = null;
  for (const e of events) {
    const line = JSON.stringify(e) + '\n';
    const size = Buffer.byteLength(line);
    if (last !== null && bytes + size > BATCH_BYTES) return { body, last, upTo: last };
    body += line;
    bytes += size;
    last = e.seq;
  }
  return { body, last, upTo };
}

type Sender = Omit<Deps, 'outbox'> & { token: string };

/** The delay before the attempt after the `failures`-th failure in a row. */
function backoffMs(failures: number): number {
  return (BACKOFF_S[Math.min(failures, BACKOFF_S.length) - 1] ?? 0) * 1000;
}

/** One signed POST of a batch; on failure records it (fenced) and pauses the stream at MAX_FAILURES. */
async function sendBatch(
  deps: Sender,
  s: LeasedStream,
  body: string,
  seqs: [number, number],
): Promise<boolean> {
  const [first, last] = seqs;
  const res = await sendSigned({
    url: s.url,
    body,
    // The same batch retried carries the same id, so a receiver can tell a resend.
    eventId: `${s.id}_${first}_${last}`,
    secrets: [s.secret],
    timeoutMs: deps.settings().webhooks.timeout_s * 1000,
    dispatcher: deps.dispatcher(),
    allowPrivate: deps.settings().webhooks.allow_private_targets,
    contentType: 'application/x-ndjson',
  });
  if (res.ok) return true;
  const failures = s.failures + 1;
  const error = `${res.error ?? 'failed'} (seq ${first}–${last}, attempt ${failures})`;
  const now = deps.clock.now();
  const settled = await deps.store.settle(
    deps.db,
    { id: s.id, token: deps.token, fromSeq: s.last_seq },
    { failures, last_error: error, next_attempt_at: now + backoffMs(failures), updated_at: now },
  );
  deps.logger.warn({ stream: s.id, error }, 'audit stream batch failed; it will be sent again');
  if (settled && failures >= MAX_FAILURES)
    await deps.streams.pause(s.id, `paused after ${failures} failed attempts in a row; last: ${error}`);
  return false;
}

/**
 * Sends one leased stream its next batch, or withholds it when its creator may not read the audit log now;
 * moves the cursor only past what the receiver acknowledged (or the filter passed over). True when it has
 * more to send at once.
 */
async function serveStream(deps: Sender, s: LeasedStream, reach: Reach): Promise<boolean> {
  const { db, store, clock } = deps;
  const at = { id: s.id, token: deps.token, fromSeq: s.last_seq };
  if (reach === null || !reach.has('audit:read')) {
    const why = unreachable(reach, s.created_by) ?? `its creator ${s.created_by ?? ''} lacks audit:read`;
    await store.settle(db, at, {
      last_error: `withheld, nothing sent: ${why}`,
      next_attempt_at: clock.now() + WITHHELD_RETRY_MS,
      updated_at: clock.now(),
    });
    return false;
  }
  const actions = s.actions === null ? null : fromJson<string[]>(s.actions);
  const batch = await deps.audit.follow(s.last_seq, actions, BATCH_EVENTS);
  const { body, last, upTo } = pack(batch.events, batch.upTo);
  const first = batch.events[0];
  if (first && last !== null && !(await sendBatch(deps, s, body, [first.seq, last]))) return false;
  if (upTo > s.last_seq || s.last_error !== null)
    await store.settle(db, at, {
      last_seq: upTo,
      failures: 0,
      last_error: null,
      next_attempt_at: 0,
      updated_at: clock.now(),
    });
  return upTo < batch.head;
}

/** Serves one round's leased streams (receivers in parallel), listed in `held` until their leases go back. */
async function serveClaimed(sender: Sender, claimed: LeasedStream[], held: Set<string>): Promise<boolean> {
  const { db, store, logger, token } = sender;
  const ids = claimed.map((s) => s.id);
  for (const id of ids) held.add(id);
  try {
    const creators = claimed.map((s) => s.created_by);
    const reach = await reaches(sender.creatorPermissions, db, creators);
    const more = await Promise.all(
      claimed.map((s) =>
        serveStream(sender, s, reach(s.created_by)).catch((err: unknown) => {
          logger.warn({ err, stream: s.id }, 'audit stream round failed; it will be tried again');
          return false;
        }),
      ),
    );
    return more.some(Boolean);
  } finally {
    for (const id of ids) held.delete(id);
    await store.release(db, token, ids);
  }
}

/**
 * Relays the audit log to audit streams. Each round leases the due streams (one conditional UPDATE; the
 * lease is renewed while sending), sends each its next batch in `seq` order, signed, and moves its cursor
 * only past what the receiver acknowledged with a 2xx; a failure backs off, and the MAX_FAILURES-th in a
 * row pauses the stream. Leases are given back at the end of each round and on stop.
 */
/** How long a relay that found no active stream waits before it looks again. */
const IDLE_RECHECK_MS = 500;

export function createStreamRelay(deps: Deps) {
  const { db, store, clock, logger } = deps;
  const sender: Sender = { ...deps, token: `rly_${randomUUID()}` };
  const { token } = sender;
  const held = new Set<string>();
  let heartbeat: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let current: Promise<boolean> = Promise.resolve(false);
  /**
   * While no stream is active, rounds (woken by every commit) skip the database until this time
   * (`performance.now()`): a server without streams spent two queries per change on them (bench/RESULTS.md,
   * "Journal"). A stream made meanwhile, here or by another instance, is served within `IDLE_RECHECK_MS`.
   */
  let noneActiveUntil = 0;

  /** One round: lease the due streams, serve each (receivers in parallel), give the leases back. */
  async function round(force = false): Promise<boolean> {
    if (!force && performance.now() < noneActiveUntil) return false;
    // Only streams behind the head are claimed: an idle poll leases (and writes) nothing.
    const belowSeq = await deps.audit.headSeq();
    const now = clock.now();
    const claimed = await store.claim(db, { token, now, until: now + LEASE_MS, belowSeq });
    if (claimed.length === 0) {
      if (!(await store.anyActive(db))) noneActiveUntil = performance.now() + IDLE_RECHECK_MS;
      return false;
    }
    noneActiveUntil = 0;
    return serveClaimed(sender, claimed, held);
  }
  const rounds = createRoundLoop(() => (current = round()), logger, 'audit stream relay');
  const renew = () =>
    store
      .renew(db, { token, ids: [...held], until: clock.now() + LEASE_MS })
      .catch((err: unknown) =>
        logger.warn({ err }, 'could not renew audit stream leases; another relay may take them'),
      );

  return {
    /** Rounds until nothing is left to send at once (at most `maxRounds`). For tests. */
    async runOnce(maxRounds = 100): Promise<void> {
      for (let i = 0; i < maxRounds && (await round(true)); i++);
    },
    /** Runs until `stop()`: a round soon after each commit, and at least every `intervalMs`. */
    start(intervalMs = 500): void {
      unsubscribe = deps.outbox?.onCommitted(() => rounds.wake());
      heartbeat = setInterval(() => void renew(), RENEW_EVERY_MS);
      heartbeat.unref();
      rounds.start(intervalMs);
    },
    /** Stops starting rounds, lets the one running finish (up to `graceMs`), and gives back every lease. */
    async stop(graceMs = 10_000): Promise<void> {
      unsubscribe?.();
      rounds.stop();
      await Promise.race([current.catch(() => false), new Promise((r) => setTimeout(r, graceMs).unref())]);
      clearInterval(heartbeat);
      await store.release(db, token);
    },
  };
}
export type StreamRelay = ReturnType<typeof createStreamRelay>;
