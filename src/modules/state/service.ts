import { createHash } from 'node:crypto';
import type { RecordAudit } from '../../change.js';
import { AppError } from '../../errors.js';
import { missing } from '../../lib/permissions.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import type { ChangeAll } from '../../change-all.js';
import type { Ids } from '../../lib/ids.js';
import { prepareSteps, type StateTargets } from './apply.js';
import { assertItemsValid } from './bodies.js';
import { assertCreatable, assertReferences, assertUniqueKeys, planChanges } from './plan.js';
import { readState, readStateWithIds, type StateSources } from './read.js';
import type { Applied, Plan, PlanBody, PlanChange, StateDocument } from './schemas.js';

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

/** The write permission each kind of change needs besides config:write. */
const WRITE_SCOPES: Record<string, string> = {
  role: 'roles:write',
  assignment: 'roles:write',
  user: 'users:write',
  webhook: 'webhooks:write',
  plugin: 'plugins:write',
  provider: 'auth:write',
  stream: 'audit:write',
  settings: 'config:write',
};

/** How many times an apply is prepared again when the state moved while it was prepared (not a stale plan). */
const APPLY_ATTEMPTS = 3;

/** 403 unless the caller holds the write permission of every kind the apply changes. */
function assertMayWrite(ctx: RequestCtx, changes: readonly PlanChange[]): void {
  const held = ctx.system ? ['*'] : (ctx.principal?.scopes ?? []);
  const wanted = [
    ...new Set(
      changes.filter((c) => c.op !== 'unchanged').map((c) => WRITE_SCOPES[c.kind] ?? 'config:write'),
    ),
  ];
  const lacking = missing(held, wanted);
  if (lacking.length > 0)
    throw new AppError('forbidden', `Applying this document needs ${lacking.join(', ')}.`, {
      required_permission: lacking[0],
    });
}

/** The snapshot an `If-Match` names: quoted or not; a weak tag never matches (the comparison is strong). */
function matches(ifMatch: string, snapshot: string): boolean {
  return ifMatch
    .split(',')
    .map((t) => t.trim())
    .some((t) => t === `"${snapshot}"` || t === snapshot);
}

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

export type StateServiceDeps = {
  sources: StateSources;
  targets: StateTargets;
  record: RecordAudit;
  changeAll: ChangeAll;
  ids: Pick<Ids, 'next'>;
  /** The audit chain's head: every change moves it, so an unmoved head means an unchanged state. */
  headSeq: () => Promise<number>;
};

export function createStateService(deps: StateServiceDeps) {
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
      assertItemsValid(document);
      const current = await readState(sources, true);
      assertReferences(document, current, prune);
      assertCreatable(document, current);
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

    /**
     * Applies `document` atomically if the state is still the one `ifMatch` names: every change through its
     * own service in one transaction (`changeAll`), each its own audit event and outbox event, tied by one
     * `config.apply`. Throws `precondition_required`, `precondition_failed` (stale), `validation_failed`,
     * `unprocessable`, `forbidden`, `plugin.denied` (naming the resource), what a service throws (naming the
     * resource), or `unavailable` when the state kept moving while the apply was prepared.
     */
    async apply(ctx: RequestCtx, body: PlanBody, ifMatch: string | undefined): Promise<Applied> {
      if (ifMatch === undefined)
        throw new AppError(
          'precondition_required',
          'Send If-Match with the snapshot of the plan you reviewed.',
        );
      const { document, prune = false } = body;
      assertMayRead(ctx, Object.keys(document));
      assertUniqueKeys(document);
      assertItemsValid(document);
      for (let attempt = 0; attempt < APPLY_ATTEMPTS; attempt += 1) {
        const done = await applyOnce(deps, ctx, document, prune, ifMatch);
        if (done) return done;
      }
      throw new AppError(
        'unavailable',
        'The state kept changing while the document was applied; apply again.',
        {
          retry_after_s: 1,
        },
      );
    },
  };
}

/** One attempt: null when the state moved after it was read (the next attempt reads it again). */
async function applyOnce(
  deps: StateServiceDeps,
  ctx: RequestCtx,
  document: StateDocument,
  prune: boolean,
  ifMatch: string,
): Promise<Applied | null> {
  const head = await deps.headSeq();
  const { doc: current, ids } = await readStateWithIds(deps.sources, true);
  const snapshot = snapshotOf(current);
  if (!matches(ifMatch, snapshot))
    throw new AppError('precondition_failed', 'The state changed since the plan; plan again and review it.', {
      snapshot,
    });
  assertReferences(document, current, prune);
  assertCreatable(document, current);
  const changes = planChanges(document, current, prune);
  assertMayWrite(ctx, changes);
  const steps = await prepareSteps(ctx, document, ids, deps.targets, changes);
  const counts = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const c of changes) counts[c.op] += 1;
  const id = deps.ids.next('evt');
  const answer: Applied = { previous: snapshot, event_id: id, changes };
  const done = await deps.changeAll(ctx, {
    spec: { action: 'config.apply', target: { type: 'config', id: null } },
    id,
    steps,
    guard: async (_trx, locked) => locked.seq === head,
    summary: (events) => ({ previous: snapshot, prune, ...counts, events }),
    answer,
  });
  return done ? answer : null;
}
