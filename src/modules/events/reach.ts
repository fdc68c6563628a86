import type { Queryable } from '../../db/tables.js';
import { AppError } from '../../errors.js';
import { expand, missing } from '../../lib/permissions.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { eventTypes, readScopeOf } from './catalog.js';
import { subscribed } from '../webhooks/matching.js';

/**
 * The current permissions (union of their roles') of the enabled users among `userIds`, in one query; a
 * disabled or deleted user is absent. The roles service provides it; subscribers' delivery paths take it.
 */
export type CreatorPermissions = (q: Queryable, userIds: readonly string[]) => Promise<Map<string, string[]>>;

/**
 * What one subscriber (webhook endpoint, plugin) may receive now: its creator's concrete permissions, or
 * `null` when it has no recorded creator or the creator is disabled or deleted (it then receives nothing).
 */
export type Reach = ReadonlySet<string> | null;

/**
 * The reach of each creator among `creators`, looked up once for a whole round or batch, never per event.
 * A `null` creator (none recorded) maps to nothing: `reachOf` answers `null` for it.
 */
export async function reaches(
  lookup: CreatorPermissions,
  q: Queryable,
  creators: Iterable<string | null>,
): Promise<(creator: string | null) => Reach> {
  const ids = [...new Set([...creators].filter((c): c is string => c !== null))];
  const current = ids.length ? await lookup(q, ids) : new Map<string, string[]>();
  const sets = new Map([...current].map(([id, perms]) => [id, expand(perms)]));
  return (creator) => (creator === null ? null : (sets.get(creator) ?? null));
}

/** Whether a subscriber with this reach may receive an event (or audit row) of this type. */
export function mayReceive(reach: Reach, type: string): boolean {
  return reach !== null && reach.has(readScopeOf(type));
}

/** Why a subscriber gets nothing at all, for its health and the logs; null when it may receive something. */
export function unreachable(reach: Reach, creator: string | null): string | null {
  if (creator === null) return 'it has no recorded creator: it receives nothing until someone re-saves it';
  if (reach === null) return `its creator ${creator} is disabled or deleted: it receives nothing`;
  return null;
}

/**
 * At creation or update: subscribing to an exact event type needs the read permission of its resource (403
 * naming it). `*` and `<resource>.*` are accepted and filtered at delivery by the creator's (the user's)
 * permissions, so the token that subscribes must hold every read permission its owner holds among the types
 * the pattern matches: a narrowed token must not reach, through its owner, what it may not read itself.
 */
export function assertMaySubscribe(ctx: RequestCtx, patterns: readonly string[]): void {
  if (ctx.system) return;
  const held = ctx.principal?.scopes ?? [];
  const owner = expand(ctx.principal?.ownerScopes ?? []);
  for (const p of patterns) {
    const wildcard = p === '*' || p.endsWith('.*');
    const scopes = wildcard
      ? [
          ...new Set(
            eventTypes()
              .filter((t) => subscribed([p], t.type))
              .map((t) => readScopeOf(t.type)),
          ),
        ].filter((s) => owner.has(s))
      : [readScopeOf(p)];
    const lacking = missing(held, scopes);
    if (lacking.length > 0) {
      throw new AppError(
        'forbidden',
        wildcard
          ? `Subscribing to ${p} with this token needs ${lacking.join(', ')}: its events are filtered by your permissions, which this token does not all hold.`
          : `Subscribing to ${p} needs ${lacking[0]}: a subscription receives only what its creator may read.`,
        { required_permission: lacking[0] },
      );
    }
  }
}

/** A plugin that receives the audit log itself (`audit_stream`) needs `audit:read` of whoever registers, enables or configures it. */
export function assertMayStreamAudit(ctx: RequestCtx, what: string): void {
  const held = ctx.system ? ['*'] : (ctx.principal?.scopes ?? []);
  if (missing(held, ['audit:read']).length > 0) {
    throw new AppError('forbidden', `${what} receives the audit log and needs audit:read.`, {
      required_permission: 'audit:read',
    });
  }
}

/** The creator a change records: the calling user (null for the server's own work). */
export function creatorOf(ctx: RequestCtx): string | null {
  return ctx.principal?.userId ?? null;
}
