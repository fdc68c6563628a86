import { createHash } from 'node:crypto';
import type { RecordAudit } from '../../change.js';
import { AppError } from '../../errors.js';
import { missing } from '../../lib/permissions.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { assertReferences, assertUniqueKeys, planChanges } from './plan.js';
import { readState, type StateSources } from './read.js';
import type { Plan, PlanBody, StateDocument } from './schemas.js';

/** The read permission each kind of the document needs besides config:read (what its own listing needs). */
const READ_SCOPES: Record<string, string> = {
  roles: 'roles:read',
  assignments: 'roles:read',
  users: 'users:read',
  webhooks: 'webhooks:read',
  plugins: 'plugins:read',
  providers: 'auth:read',
  streams: 'audit:read',
};

/** 403 unless the caller may read every kind it would see. */
function assertMayRead(ctx: RequestCtx, kinds: readonly string[]): void {
  const held = ctx.system ? ['*'] : (ctx.principal?.scopes ?? []);
  const wanted = [...new Set(kinds.map((k) => READ_SCOPES[k]).filter((s): s is string => Boolean(s)))];
  const lacking = missing(held, wanted);
  if (lacking.length > 0)
    throw new AppError('forbidden', `The document shows what needs ${lacking.join(', ')}.`, {
      required_permission: lacking[0],
    });
}

/** The snapshot: sha256 of the whole current state (users included), as exported. */
export function snapshotOf(state: StateDocument): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(state)).digest('base64url')}`;
}

export type StateService = ReturnType<typeof createStateService>;

export function createStateService(deps: { sources: StateSources; record: RecordAudit }) {
  const { sources, record } = deps;
  return {
    /** The current state as a document, audited as `config.export`. */
    async export(ctx: RequestCtx, includeUsers: boolean): Promise<StateDocument> {
      assertMayRead(
        ctx,
        [...Object.keys(READ_SCOPES)].filter((k) => includeUsers || k !== 'users'),
      );
      const doc = await readState(sources, includeUsers);
      await record(ctx, {
        action: 'config.export',
        target: null,
        outcome: 'success',
        detail: includeUsers ? 'with users' : 'without users',
      });
      return doc;
    },

    /** What applying `document` would change; writes nothing but its `config.plan` audit row. */
    async plan(ctx: RequestCtx, { document, prune = false }: PlanBody): Promise<Plan> {
      assertMayRead(ctx, Object.keys(document));
      assertUniqueKeys(document);
      const current = await readState(sources, true);
      assertReferences(document, current, prune);
      const changes = planChanges(document, current, prune);
      const counts = { create: 0, update: 0, delete: 0, unchanged: 0 };
      for (const c of changes) counts[c.op] += 1;
      await record(ctx, {
        action: 'config.plan',
        target: null,
        outcome: 'success',
        detail: `${counts.create} create, ${counts.update} update, ${counts.delete} delete, ${counts.unchanged} unchanged${prune ? ' (prune)' : ''}`,
      });
      return { snapshot: snapshotOf(current), changes };
    },
  };
}
