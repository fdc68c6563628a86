import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Tables } from '../db/tables.js';
import type { Clock } from '../lib/clock.js';
import type { PluginsStore } from '../modules/plugins/module.js';

/**
 * A cursor lease lasts this long unless renewed, so the cursors of a relay that died (SIGKILL, power loss)
 * are free again within LEASE_MS; it is renewed every RENEW_EVERY_MS while the relay delivers.
 */
export const LEASE_MS = 30_000;
export const RENEW_EVERY_MS = 5_000;
/**
 * A call starts only while the lease has at least this long left (the longest a plugin's timeout may be),
 * so a relay whose renewals stopped reaching the database does not call on after its lease could have
 * passed to another.
 */
const CALL_MARGIN_MS = 10_000;

/** What a holder sees of its lease while it delivers. */
export type CursorLease = {
  /** False once the lease is lost (or the relay is stopping): deliver nothing more. */
  held(): boolean;
  /** Everything up to `seq` is handled: the cursor moves there at the next renewal or the release. */
  progress(seq: number): void;
};

/**
 * Leases on plugins' after-hook cursors, one token per relay (process). A holder claims a cursor, works
 * with it while a heartbeat renews it (moving the cursor to the progress so far), then moves it once more
 * and releases it, every write fenced by the token and the lease's time.
 */
export function createCursorLeases(deps: {
  db: Kysely<Tables>;
  clock: Clock;
  logger: Logger;
  store: Pick<PluginsStore, 'claimAfter' | 'advanceAfter' | 'releaseAfter'>;
  token: string;
  /** True while the relay stops: every lease reads as lost, so holders finish the call they are in. */
  stopping: () => boolean;
}) {
  const { db, clock, store, token, logger } = deps;
  return {
    /**
     * Runs `work` holding plugin `id`'s cursor when it is free and behind `head`; answers the cursor as last
     * written (undefined: not claimed). Work that throws keeps the progress it reported.
     */
    async with(
      id: string,
      head: number,
      work: (cursor: number, lease: CursorLease) => Promise<void>,
    ): Promise<number | undefined> {
      const now = clock.now();
      const cursor = await store.claimAfter(db, { id, token, now, until: now + LEASE_MS, head });
      if (cursor === undefined) return undefined;
      let done = cursor;
      let written = cursor;
      let lost = false;
      /** A function, not the variable: TypeScript would narrow it across the awaits below. */
      const isLost = () => lost;
      let ends = now + LEASE_MS;
      const renew = async (release: boolean) => {
        const at = clock.now();
        const until = release ? at : at + LEASE_MS;
        const seq = done;
        const ok = await store.advanceAfter(db, { id, token, seq, now: at, until, release });
        if (ok) [ends, written] = [at + LEASE_MS, seq];
        else lost = true;
      };
      let renewing: Promise<void> = Promise.resolve();
      const heartbeat = setInterval(() => {
        renewing = renewing
          .then(() => renew(false))
          .catch((err: unknown) => logger.warn({ err, plugin: id }, 'could not renew a plugin cursor lease'));
      }, RENEW_EVERY_MS);
      heartbeat.unref();
      const lease: CursorLease = {
        held: () => !isLost() && !deps.stopping() && clock.now() + CALL_MARGIN_MS < ends,
        progress: (seq) => (done = seq),
      };
      try {
        await work(cursor, lease);
      } finally {
        clearInterval(heartbeat);
        await renewing;
        // Lost: another relay may hold it now, and nothing here is ours to write.
        if (!isLost()) await renew(true);
        if (isLost())
          logger.warn({ plugin: id }, 'a plugin cursor lease ran out; another relay resumes from its cursor');
      }
      return written;
    },

    /** Gives back whatever this relay still holds (stopping, or after a release that failed). */
    releaseAll: () => store.releaseAfter(db, token),
  };
}
export type CursorLeases = ReturnType<typeof createCursorLeases>;
