import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Change, RecordAudit } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import { AppError, assertFound, fieldError } from '../../errors.js';
import { decodeIntCursor, DEFAULT_LIMIT, toPage, withTotal, type PageOf } from '../../lib/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { isId } from '../../lib/ids.js';
import { MAX_SAFE_INT } from '../../lib/schema.js';
import { systemCtx, type RequestCtx } from '../../lib/request-ctx.js';
import { issueCheckpoint } from './checkpoint.js';
import { exportStream } from './export.js';
import { keyedFromMac, sameDigest, type AuditKeys } from './keys.js';
import {
  AUDIT_TOTAL_CAP,
  type AuditCheckpoint,
  type AuditEvent,
  type AuditQuery,
  type ExportQuery,
  type VerifyResult,
} from './schemas.js';
import type { AuditFilters, AuditStore } from './store.js';
import { toAuditEvent } from '../journal/event.js';
import { verifyChain, type VerifyOptions } from './verify.js';
import type { ConfigDocument } from '../config/schemas.js';

const PURGE_BATCH = 10_000;

type Filters = Pick<AuditQuery, 'actor' | 'action' | 'since' | 'until' | 'target' | 'outcome'>;
type AuditServiceDeps = {
  db: Kysely<Tables>;
  store: AuditStore;
  change: Change;
  record: RecordAudit;
  clock: Clock;
  settings: () => ConfigDocument;
  keys: AuditKeys;
};

/** How the chain's seal stands at start: where keyed links begin, whether this start sealed it, and whether it is intact. */
export type SealState = { keyedFrom: number | null; sealed: boolean; intact: boolean };

/** `user.update` or `auth.mfa.enrol` exact, `user.*` a resource, `auth.mfa.*` a prefix, `create` a verb, `*` everything. */
export function parseActions(list: string | undefined): AuditFilters['actions'] {
  if (!list) return undefined;
  const items = list.split(',');
  if (items.includes('*')) return undefined;
  return items.map((item) => {
    if (item.endsWith('.*')) {
      const head = item.slice(0, -2);
      return head.includes('.') ? { prefix: `${head}.` } : { resource: head };
    }
    if (item.includes('.')) return { action: item };
    return { verb: item };
  });
}

/** Query-string filters as column conditions; `null` when the time window holds no event. */
async function resolve({ db, store }: AuditServiceDeps, q: Filters): Promise<AuditFilters | null> {
  if (q.since !== undefined && q.until !== undefined && Date.parse(q.since) > Date.parse(q.until)) {
    throw fieldError('query', '/since', 'since must not be later than until');
  }
  const f: AuditFilters = { actor: q.actor, outcome: q.outcome, actions: parseActions(q.action) };
  if (q.target !== undefined) {
    const colon = q.target.indexOf(':');
    if (colon > 0) {
      f.targetType = q.target.slice(0, colon);
      f.targetId = q.target.slice(colon + 1);
    } else f.targetId = q.target;
  }
  if (q.since !== undefined) {
    const from = await store.firstSeqAtOrAfter(db, Date.parse(q.since));
    if (from === undefined) return null;
    f.fromSeq = from;
  }
  if (q.until !== undefined) {
    const to = await store.lastSeqBefore(db, Date.parse(q.until));
    if (to === undefined) return null;
    f.toSeq = to;
  }
  return f;
}

/** The audit log: its reads, exports, verification, followers, seal and retention. */
export function createAuditService(deps: AuditServiceDeps) {
  return {
    ...reads(deps),
    ...exporting(deps),
    ...verification(deps),
    ...following(deps),
    ...sealing(deps),
    ...retention(deps),
  };
}

/** Reading the log: a page of events, or one by id. */
function reads(deps: AuditServiceDeps) {
  const { db, store, record } = deps;
  return {
    /**
     * A page of events, newest first (or oldest first with `order=asc`), keyset-paged on `seq`. Audited as
     * `audit.query`. Throws `validation_failed` for a bad, altered or mismatched cursor.
     */
    async list(ctx: RequestCtx, query: AuditQuery): Promise<PageOf<AuditEvent>> {
      const order = query.order ?? 'desc';
      if (query.after !== undefined && order !== 'asc')
        throw fieldError('query', '/after', 'after needs order=asc');
      if (query.after !== undefined && query.cursor !== undefined)
        throw fieldError('query', '/after', 'send cursor or after, not both');
      const limit = query.limit ?? DEFAULT_LIMIT;
      const scope = {
        actor: query.actor,
        action: query.action,
        since: query.since,
        until: query.until,
        target: query.target,
        outcome: query.outcome,
        order,
      };
      const afterSeq =
        query.cursor !== undefined
          ? decodeIntCursor(query.cursor, scope, MAX_SAFE_INT)
          : (query.after ?? null);
      const filters = await resolve(deps, query);
      const rows = filters ? await store.list(db, filters, { order, afterSeq }, limit) : [];
      // Counted before this query's own audit row is written, as the page was read.
      const total =
        query.include && filters ? await store.countUpTo(db, filters, AUDIT_TOTAL_CAP) : undefined;
      const page = toPage(
        rows,
        limit,
        (e) => e,
        (e) => [e.seq],
        scope,
      );
      await record(ctx, {
        action: 'audit.query',
        target: null,
        outcome: 'success',
        detail: `${page.data.length} events`,
      });
      return withTotal(page, query.include ? (total ?? 0) : undefined);
    },

    /** One event by id. Audited as `audit.read`. Throws `not_found`. */
    async get(ctx: RequestCtx, id: string): Promise<AuditEvent> {
      if (!isId('evt', id)) throw new AppError('not_found', 'No audit event has this id.');
      const event = assertFound(await store.findById(db, id), 'The audit event');
      await record(ctx, { action: 'audit.read', target: { type: 'audit_event', id }, outcome: 'success' });
      return event;
    },
  };
}

/** Exporting the log, and counting what an export would hold. */
function exporting(deps: AuditServiceDeps) {
  const { db, store, record } = deps;
  return {
    /**
     * The filtered events, oldest first, as NDJSON or CSV, up to the newest event when the export starts; read
     * in bounded batches as the client consumes them (constant memory; no connection held between batches).
     * Audited as `audit.export` when it starts (so that event is the last one it can include).
     */
    async export(ctx: RequestCtx, query: ExportQuery, onRows?: (n: number) => void): Promise<Readable> {
      const filters = await resolve(deps, query);
      await record(ctx, {
        action: 'audit.export',
        target: null,
        outcome: 'success',
        detail: `format ${query.format ?? 'ndjson'}`,
      });
      return exportStream({ db, store }, filters, query.format === 'csv', onRows);
    },

    /** How many events a filter matches (for progress bars). */
    async count(query: Filters): Promise<number> {
      const filters = await resolve(deps, query);
      return filters ? store.count(db, filters) : 0;
    },
  };
}

/** Verifying the hash chain. */
function verification({ db, store, record, keys }: AuditServiceDeps) {
  return {
    /**
     * Walks the hash chain from its anchor to the head and, given a checkpoint, holds the log against it.
     * Audited as `audit.verify`.
     */
    async verify(ctx: RequestCtx, options: VerifyOptions = {}): Promise<VerifyResult> {
      const result = await verifyChain(db, store, keys, options);
      const against = result.checkpoint
        ? `, checkpoint seq ${result.checkpoint.seq} ${result.checkpoint.status}`
        : '';
      const outcome =
        result.status === 'ok'
          ? `ok, ${result.checked} events`
          : `broken at seq ${result.broken?.seq ?? '?'} (${result.broken?.reason ?? '?'})`;
      await record(ctx, {
        action: 'audit.verify',
        target: null,
        outcome: 'success',
        detail: outcome + against,
      });
      return result;
    },
  };
}

/** Following the log from a cursor (audit streams, plugin after-hooks). */
function following({ db, store }: AuditServiceDeps) {
  return {
    /**
     * For a follower of the log (an audit stream): the events after `afterSeq` whose action matches `actions`
     * (the patterns of `GET /api/audit`'s `action`; null or `*`: all), oldest first, at most `limit`, each as
     * `GET /api/audit/{id}` shows it. `upTo` is how far they cover: the last one's seq when the batch is full,
     * else the head's (so a filter that matches little still moves the cursor). Events at or below the head
     * have committed (the head moves in their transaction), so none appears later below `upTo`.
     */
    async follow(
      afterSeq: number,
      actions: readonly string[] | null,
      limit: number,
    ): Promise<{ events: AuditEvent[]; head: number; upTo: number }> {
      const head = (await store.head(db)).seq;
      if (head <= afterSeq) return { events: [], head, upTo: afterSeq };
      const filters: AuditFilters = { actions: parseActions(actions?.join(',')), toSeq: head };
      const rows = await store.batch(db, filters, afterSeq, limit);
      const last = rows.at(-1);
      const upTo = rows.length >= limit && last ? Number(last.seq) : head;
      return { events: rows.map(toAuditEvent), head, upTo };
    },

    /** The seq of the newest event: where a new subscriber (a plugin's after-hooks) starts. */
    async headSeq(): Promise<number> {
      return (await store.head(db)).seq;
    },
  };
}

/** Sealing the chain with the audit key, and signing checkpoints of its head. */
function sealing({ db, store, record, clock, keys }: AuditServiceDeps) {
  return {
    /**
     * A signed checkpoint of the head, which includes its own `audit.checkpoint` event (recorded first).
     * Kept off the database host, it later shows a cut tail or a recomputed chain (`verify`).
     */
    async checkpoint(ctx: RequestCtx): Promise<AuditCheckpoint> {
      await record(ctx, { action: 'audit.checkpoint', target: null, outcome: 'success' });
      return issueCheckpoint(keys, await store.head(db), clock.now());
    },

    /**
     * Run at start: seals an unsealed chain as keyed from the next seq (older links, from before the chain
     * had a key, stay plain SHA-256; an `audit.seal` event says so when there are any). Throws when the chain
     * was sealed with another key: appending with this one would break it.
     */
    async seal(): Promise<SealState> {
      for (;;) {
        const head = await store.head(db);
        if (head.keyed_mac !== null) {
          if (head.key_id !== keys.keyId) {
            throw new Error(
              `The audit key (key id ${keys.keyId}) is not the one this database's audit chain was sealed with (key id ${head.key_id ?? 'unknown'}). ` +
                'Set GATEHOUSE_AUDIT_KEY, or DATA_DIR/audit.key, to that key; every instance on one database needs the same key (docs/deploy.md, Audit key).',
            );
          }
          return {
            keyedFrom: head.keyed_from,
            sealed: false,
            intact:
              head.keyed_from !== null && sameDigest(head.keyed_mac, keyedFromMac(keys, head.keyed_from)),
          };
        }
        const keyedFrom = head.seq + 1;
        if (
          await store.seal(db, head.seq, { keyedFrom, mac: keyedFromMac(keys, keyedFrom), keyId: keys.keyId })
        ) {
          const detail = `links from seq ${keyedFrom} on are HMAC-SHA256 with key ${keys.keyId}; older ones stay SHA-256`;
          if (head.seq > head.anchor_seq)
            await record(systemCtx('startup'), {
              action: 'audit.seal',
              target: null,
              outcome: 'success',
              detail,
            });
          return { keyedFrom, sealed: true, intact: true };
        }
      }
    },
  };
}

/** Retention: purging events older than the retention period. */
function retention({ db, store, change, clock, settings }: AuditServiceDeps) {
  return {
    /**
     * Deletes events older than the retention period in batches, each batch one audited `audit.purge`
     * change by `system` that moves the chain's anchor, so verification still passes. Returns the count.
     */
    async purge(): Promise<number> {
      const retentionDays = settings().audit.retention_days;
      const cutoff = clock.now() - retentionDays * 24 * 3600 * 1000;
      let total = 0;
      for (;;) {
        const head = await store.head(db);
        const boundary = await store.purgeBoundary(db, cutoff, head.anchor_seq, PURGE_BATCH);
        if (!boundary) return total;
        total += await change(
          systemCtx('retention'),
          { action: 'audit.purge', target: { type: 'audit', id: null } },
          async (trx) => {
            const deleted = await store.purgeThrough(trx, boundary);
            return {
              before: null,
              after: { deleted, through_seq: boundary.seq, retention_days: retentionDays },
            };
          },
        ).then((r) => r.deleted);
      }
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
