import { createHash, createHmac } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { fromJson } from '../../db/codecs.js';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { AuditEventsTable, OutboxTable, Trx } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import { actorOf, type RequestCtx } from '../../lib/request-ctx.js';
import type { Action } from '../events/catalog.js';
import type { AuditKeys } from './keys.js';

export type AuditEntry = {
  id: string;
  action: Action;
  target: { type: string; id: string | null } | null;
  outcome: 'success' | 'denied' | 'error';
  before?: unknown;
  after?: unknown;
  /** A short, caller-safe reason for a denial or an error (the problem code and detail). */
  detail?: string | null;
};

export type AuditLog = {
  /**
   * Appends the event to the chain; `event`, the change's outbox row, is written with it. The transaction's
   * last statement: on PostgreSQL it is sent with the COMMIT, so its failure is the commit's.
   */
  append(trx: Trx, ctx: RequestCtx, entry: AuditEntry, event?: OutboxTable): Promise<void>;
};

// canonicalize ships CommonJS typed as an ES default export; under NodeNext the default is the module.
export const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/** The fields a link of the chain covers, in the form they are hashed. */
export function chainPayload(row: Omit<AuditEventsTable, 'hash'>): unknown {
  return {
    seq: Number(row.seq),
    id: row.id,
    ts: Number(row.ts),
    actor: row.actor,
    actor_name: row.actor_name,
    token_id: row.token_id,
    action: row.action,
    target_type: row.target_type,
    target_id: row.target_id,
    outcome: row.outcome,
    request_id: row.request_id,
    ip: row.ip,
    user_agent: row.user_agent,
    changes: row.changes === null ? null : fromJson<unknown>(row.changes),
    detail: row.detail,
    prev_hash: row.prev_hash,
  };
}

/**
 * HMAC-SHA256 with the chain key over the RFC 8785 canonical JSON of the link, which includes the previous
 * hash; without a key, plain SHA-256: the links written before the chain had a key (`audit_head.keyed_from`).
 */
export function chainHash(row: Omit<AuditEventsTable, 'hash'>, key?: Buffer): string {
  const text = canonicalize(chainPayload(row)) ?? '';
  return (key ? createHmac('sha256', key) : createHash('sha256')).update(text).digest('hex');
}

/** Placeholders the canonical JSON is cut at (`canonicalParts`): none is a value a real event can hold there. */
const CUT_PREV = 'prev-hash-placeholder';
const CUT_SEQ = -1;
const CUT_TS = -2;

/**
 * The canonical JSON of a link with prev_hash, seq and ts left out: `[a, b, c, d]` such that
 * `a + prev_hash + b + seq + c + ts + d === canonicalize(chainPayload(row))`. RFC 8785 sorts keys, so the
 * three come after `changes` (the only field that may hold objects), in this order; the last occurrence of
 * each placeholder is the top-level one.
 */
export function canonicalParts(
  row: Omit<AuditEventsTable, 'hash' | 'seq' | 'ts' | 'prev_hash'>,
): [string, string, string, string] {
  const text = canonicalize(chainPayload({ ...row, seq: CUT_SEQ, ts: CUT_TS, prev_hash: CUT_PREV })) ?? '';
  const at = (token: string, value: string) => {
    const i = text.lastIndexOf(token);
    if (i < 0) throw new Error(`canonical audit JSON without ${token}`);
    return [i + token.length - value.length, i + token.length] as const;
  };
  const [p0, p1] = at(`,"prev_hash":"${CUT_PREV}`, CUT_PREV);
  const [s0, s1] = at(`,"seq":${CUT_SEQ}`, String(CUT_SEQ));
  const [t0, t1] = at(`,"ts":${CUT_TS}`, String(CUT_TS));
  if (!(p1 < s0 && s1 < t0)) throw new Error('canonical audit JSON in an unexpected key order');
  return [text.slice(0, p0), text.slice(p1, s0), text.slice(s1, t0), text.slice(t1)];
}

/**
 * Appends one event to the hash chain. Takes the chain head's lock (held until commit), so events commit
 * in `seq` order and a reader following `seq` never skips one. Called only from `change.ts` and
 * `http/audit-denial.ts`.
 */
export function createAuditLog({
  helpers,
  clock,
  keys,
}: {
  helpers: DialectHelpers;
  clock: Clock;
  keys: Pick<AuditKeys, 'chain' | 'pads'>;
}): AuditLog {
  const hash = (row: Omit<AuditEventsTable, 'hash'>) => chainHash(row, keys.chain);
  return {
    async append(trx, ctx, entry, event) {
      const [resource = entry.action, verb = ''] = entry.action.split('.');
      const { actor, actorName, tokenId } = actorOf(ctx);
      const hasChanges = entry.before !== undefined || entry.after !== undefined;
      const row = {
        id: entry.id,
        actor,
        actor_name: actorName,
        token_id: tokenId,
        action: entry.action,
        resource,
        verb,
        target_type: entry.target?.type ?? null,
        target_id: entry.target?.id ?? null,
        outcome: entry.outcome,
        request_id: ctx.requestId,
        ip: ctx.ip,
        user_agent: ctx.userAgent,
        changes: hasChanges
          ? JSON.stringify({ before: entry.before ?? null, after: entry.after ?? null })
          : null,
        detail: entry.detail ?? null,
      };
      await helpers.appendAudit(
        trx,
        { row, now: clock.now(), hash, pads: keys.pads, canonicalParts: () => canonicalParts(row) },
        event,
      );
    },
  };
}
