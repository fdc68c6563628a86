import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { fromJson } from '../db/codecs.js';
import type { PluginsTable, Tables } from '../db/tables.js';
import type { Clock } from '../lib/clock.js';
import { createRoundLoop } from '../lib/round-loop.js';
import { catalog, isAction } from '../modules/events/catalog.js';
import {
  mayReceive,
  reaches,
  unreachable,
  type CreatorPermissions,
  type Reach,
} from '../modules/events/reach.js';
import type { PluginsStore } from '../modules/plugins/module.js';
import { subscribed } from '../modules/webhooks/matching.js';
import { createCursorLeases, type CursorLease } from './after-lease.js';
import type { AfterEvent, PluginManifest } from './define.js';

/** Every this many rounds the relay reloads the plugins, so other instances' registry changes apply. */
const RELOAD_EVERY = 4;

/** A loaded plugin as the relay needs it: its row (cursor, creator) and manifest (what it subscribes to). */
export type AfterSubscriber = { row: PluginsTable; manifest: PluginManifest };

/**
 * Plugins' after-hooks: follows the audit log by `seq` for each plugin with after-hooks, at least once and in
 * order, the cursor moving only past what succeeded. Each plugin's cursor is leased for the round
 * (after-lease.ts), so however many processes share the database, one at a time delivers a plugin's events.
 * A plugin gets only what its creator may read now (permissions looked up once per round); what it may not
 * read is skipped, and a plugin whose creator is gone or disabled gets nothing (`noteReach` says why).
 */
export function createAfterRelay<S extends AfterSubscriber>(deps: {
  db: Kysely<Tables>;
  logger: Logger;
  clock: Clock;
  store: Pick<PluginsStore, 'claimAfter' | 'advanceAfter' | 'releaseAfter'>;
  auditHeadSeq: () => Promise<number>;
  creatorPermissions: CreatorPermissions;
  /** The loaded plugins (those with after-hooks are fed). */
  plugins: () => S[];
  /** Calls one after-hook; false when it failed (the event is retried next round). */
  call: (p: S, event: AfterEvent) => Promise<boolean>;
  noteReach: (p: S, why: string | null) => void;
  reload: () => Promise<void>;
}) {
  const { db } = deps;
  /** This process's rounds, chained: one at a time, whether the loop or a caller of `runAfter` starts them. */
  let chain: Promise<unknown> = Promise.resolve();
  const loop = createRoundLoop(
    async (n) => {
      if (n % RELOAD_EVERY === 0) await deps.reload();
      await runAfter();
      return false;
    },
    deps.logger,
    'plugin after-hook relay',
  );
  const stopping = () => loop.state.phase === 'stopping';
  const leases = createCursorLeases({ ...deps, token: `relay_${randomUUID()}`, stopping });

  /** One round: each plugin with after-hooks whose cursor is behind the head and free is leased and fed. */
  async function round(batch: number): Promise<void> {
    const subscribers = deps.plugins().filter((x) => (x.manifest.hooks?.after?.length ?? 0) > 0);
    if (subscribers.length === 0 || stopping()) return;
    const reach = await reaches(
      deps.creatorPermissions,
      db,
      subscribers.map((p) => p.row.created_by),
    );
    const head = await deps.auditHeadSeq();
    for (const p of subscribers) {
      const pluginReach = reach(p.row.created_by);
      deps.noteReach(p, unreachable(pluginReach, p.row.created_by));
      // Cursors only move forward: one known (in this process) to be at the head has nothing due.
      if (stopping() || Number(p.row.after_seq) >= head) continue;
      const cursor = await leases.with(p.row.id, head, (from, lease) =>
        deliver(db, deps.call, p, from, pluginReach, lease, batch),
      );
      if (cursor !== undefined) p.row.after_seq = cursor;
    }
  }

  function runAfter(batch = 200): Promise<void> {
    const next = chain.catch(() => undefined).then(() => round(batch));
    chain = next;
    return next;
  }

  return {
    /** One round now (after any running one). */
    runAfter,
    /** A round every `intervalMs` until `stop()`. */
    start: (intervalMs: number) => loop.start(intervalMs),
    /** No round starts; the running one ends after its current call; this process's leases are given back. */
    async stop(): Promise<void> {
      await loop.stop();
      await chain.catch(() => undefined);
      await leases.releaseAll();
    },
  };
}
/** One plugin's events after `cursor`, in order, until one fails (it is retried) or the lease goes. */
async function deliver<S extends AfterSubscriber>(
  db: Kysely<Tables>,
  call: (p: S, event: AfterEvent) => Promise<boolean>,
  p: S,
  cursor: number,
  reach: Reach,
  lease: CursorLease,
  batch: number,
): Promise<void> {
  const rows = await db
    .selectFrom('audit_events')
    .selectAll()
    .where('seq', '>', cursor)
    .orderBy('seq')
    .limit(batch)
    .execute();
  for (const row of rows) {
    if (!lease.held()) return;
    const { isEvent, event } = toAfterEvent(row, p.manifest, reach);
    if (isEvent && !(await call(p, event))) return;
    lease.progress(Number(row.seq));
  }
}

/**
 * An audit row as a plugin sees it; `isEvent` tells whether this plugin subscribes to it and may receive it: a
 * committed change needs its creator to read the resource (`users:read` for `user.*`); with `audit_stream`,
 * `audit:read` covers every row (its creator can read the same row at `GET /api/audit`).
 */
function toAfterEvent(
  row: {
    id: string;
    seq: number;
    action: string;
    ts: number;
    outcome: string;
    actor: string;
    changes: string | null;
    detail: string | null;
  },
  manifest: PluginManifest,
  reach: Reach,
) {
  const changes = row.changes === null ? null : fromJson<{ before: unknown; after: unknown }>(row.changes);
  const event: AfterEvent = {
    id: row.id,
    seq: Number(row.seq),
    type: row.action,
    timestamp: new Date(Number(row.ts)).toISOString(),
    outcome: row.outcome,
    actor: row.actor,
    data: changes ? (changes.after ?? changes.before) : null,
    detail: row.detail,
  };
  const patterns = manifest.hooks?.after ?? [];
  const matches = subscribed(patterns, row.action);
  const isChange = row.outcome === 'success' && isAction(row.action) && catalog[row.action].event;
  const asAudit = manifest.audit_stream === true && reach !== null && reach.has('audit:read');
  const allowed = asAudit || (isChange && mayReceive(reach, row.action));
  return { isEvent: matches && allowed, event };
}
