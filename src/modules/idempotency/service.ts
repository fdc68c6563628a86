import type { Kysely } from 'kysely';
import type { Tables, Trx } from '../../db/tables.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { createIdempotencyStore, type IdempotencyKeyRef } from './store.js';

/** Keys are kept 24 hours. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/** A key whose request has not finished after this long is taken to be abandoned (its process died). */
const IN_FLIGHT_LEASE_MS = 60_000;

const store = createIdempotencyStore();

/** An earlier answer to send again, as it was stored. */
export type Replay = { status: number; response: string | null };

/**
 * `Idempotency-Key` on POST: the same key with the same request within 24 h replays the first answer; with a
 * different request it is a 422; while the first is still running, a 409. The HTTP side (reading the header,
 * hashing the request, replaying) is `http/idempotency.ts`; this module owns the table.
 */
export function createIdempotencyService({ db, clock }: { db: Kysely<Tables>; clock: Clock }) {
  return {
    /**
     * Claims the key for this request, or returns the answer to replay. Throws `idempotency.key_reused`,
     * `idempotency.in_flight`.
     */
    async begin(ref: IdempotencyKeyRef, requestHash: string): Promise<Replay | null> {
      const now = clock.now();
      await store.deleteIfOlder(db, ref, now - IDEMPOTENCY_TTL_MS);
      const existing = await store.find(db, ref);
      if (existing) {
        if (existing.request_hash !== requestHash)
          throw new AppError(
            'idempotency.key_reused',
            'This Idempotency-Key was used for a different request; use a new key.',
          );
        if (existing.completed_at !== null)
          return { status: Number(existing.status), response: existing.response };
        if (Number(existing.created_at) > now - IN_FLIGHT_LEASE_MS) throw inFlight();
        await store.restartLease(db, ref, now);
        return null;
      }
      if (!(await store.claim(db, ref, requestHash, now))) throw inFlight();
      return null;
    },

    /** A request that did not complete frees its key, so the client may retry it. */
    release: (ref: IdempotencyKeyRef): Promise<void> => store.release(db, ref),

    /** Drops keys older than 24 hours (run with the retention job). */
    purge: (): Promise<void> => store.purge(db, clock.now() - IDEMPOTENCY_TTL_MS),
  };
}
export type IdempotencyService = ReturnType<typeof createIdempotencyService>;

function inFlight(): AppError {
  return new AppError(
    'idempotency.in_flight',
    'The first request with this key is still running; retry in a moment.',
    { retry_after_s: 1 },
  );
}

/** Called by `change()` inside its transaction: the answer to replay is the change's result. */
export async function storeAnswer(
  trx: Trx,
  idem: NonNullable<RequestCtx['idempotency']>,
  after: unknown,
  now: number,
): Promise<void> {
  await store.complete(
    trx,
    idem,
    { status: idem.status, response: idem.status === 204 ? null : JSON.stringify(after) },
    now,
  );
  idem.stored = true;
}
