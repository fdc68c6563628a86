import type { Logger } from 'pino';
import type { DialectHelpers } from './db/dialects/helpers.js';
import type { Trx } from './db/tables.js';
import { translateDbError } from './db/translate-error.js';
import { AppError } from './errors.js';
import type { Ids } from './lib/ids.js';
import type { RequestCtx } from './lib/request-ctx.js';
import { catalog, type Action } from './modules/events/catalog.js';
import type { Outbox } from './modules/events/outbox.js';
import { storeAnswer } from './modules/idempotency/service.js';
import type { Journal } from './modules/journal/service.js';

export type ChangeSpec = {
  action: Action;
  target: { type: string; id: string | null };
  /** A caller-safe note for the audit row (e.g. "password changed"); never a secret. */
  detail?: string;
  /** What the caller asked for, secrets removed: what plugin before-hooks judge. */
  input?: Record<string, unknown>;
};

/**
 * What a change's write function returns: the resource before and after (`null` for a create or a delete),
 * and optionally a note for the audit row known only once written (e.g. "2 token(s) revoked"), which
 * replaces the spec's.
 */
export type ChangeResult<T> = { before: unknown; after: T; detail?: string };

export type Change = <T>(
  ctx: RequestCtx,
  spec: ChangeSpec,
  write: (trx: Trx) => Promise<ChangeResult<T>>,
) => Promise<T>;

/**
 * A change made ready outside any transaction (its slow checks, lookups and network work done, its ids
 * drawn): what before-hooks judge, the writes, and what to do locally once it committed (a cache reload).
 * A service's method runs one through `change()` (`runPrepared`); `POST /api/apply` runs many at once.
 */
export type Prepared<T> = {
  spec: ChangeSpec;
  write: (trx: Trx) => Promise<ChangeResult<T>>;
  after?(value: T): void | Promise<void>;
};

/** Runs one prepared change through `change()`, then its local effects. Throws what `change()` throws. */
export async function runPrepared<T>(change: Change, ctx: RequestCtx, prepared: Prepared<T>): Promise<T> {
  const value = await change(ctx, prepared.spec, prepared.write);
  await prepared.after?.(value);
  return value;
}

export type ChangeDeps = {
  journal: Journal;
  helpers: DialectHelpers;
  outbox: Pick<Outbox, 'row'>;
  ids: Ids;
  logger: Logger;
  /** Plugin before-hooks: may veto (422 plugin.denied) or fail (503) before any transaction opens. */
  hooks?: { runBefore(ctx: RequestCtx, spec: ChangeSpec): Promise<void> };
};

/**
 * The only way state changes, the whole story of one: plugin before-hooks; then, in a transaction, `write`
 * (the store calls), the idempotency answer, and the journal append (one audit event and one outbox event
 * sharing one id) last; the COMMIT (shared with other changes on SQLite: `modules/journal/writer.ts`); then
 * the relay is woken. No audit row, no commit. A failure rolls back and is audited in a row of its own
 * (`denied` for a 401, a 403 or a plugin veto, `error` otherwise), then rethrown as an `AppError` when the
 * database explains it. Throws whatever `write` throws, or `unavailable`.
 */
export function createChange(deps: ChangeDeps): Change {
  const { journal, outbox, ids } = deps;
  return async (ctx, spec, write) => {
    try {
      // A plugin call is network or CPU work: it runs before the transaction, never inside it.
      await deps.hooks?.runBefore(ctx, spec);
      return await journal.commit(ctx, async (trx) => {
        const { before, after, detail } = await write(trx);
        const id = ids.next('evt');
        const { input: _input, ...auditSpec } = spec;
        // The event carries the resource after the change, or before it for a delete. Sign-ins and
        // sign-outs are audit events only.
        const event = catalog[spec.action].event
          ? outbox.row({ id, type: spec.action, data: after ?? before })
          : undefined;
        if (ctx.idempotency && !ctx.idempotency.stored)
          await storeAnswer(trx, ctx.idempotency, after, Date.now());
        const entry = {
          id,
          ...auditSpec,
          ...(detail !== undefined ? { detail } : {}),
          outcome: 'success' as const,
          before,
          after,
        };
        return { value: after, entry, event };
      });
    } catch (err) {
      throw await recordFailure(deps, ctx, spec, err);
    } finally {
      ctx.audited = true;
    }
  };
}

export async function recordFailure(
  deps: ChangeDeps,
  ctx: RequestCtx,
  spec: ChangeSpec,
  err: unknown,
): Promise<unknown> {
  const error = translateDbError(deps.helpers, err);
  const app = error instanceof AppError ? error : undefined;
  const outcome =
    app && (app.status === 401 || app.status === 403 || app.code === 'plugin.denied') ? 'denied' : 'error';
  const detail = app ? `${app.code}: ${app.detail ?? app.title}` : 'internal';
  if (app?.code === 'unavailable' && !(err instanceof AppError)) {
    // The database itself is busy or gone: a second write would wait as long and fail the same way.
    deps.logger.warn(
      { action: spec.action, detail },
      'a change failed because the database is unavailable; not audited',
    );
    return error;
  }
  try {
    await deps.journal.record(ctx, {
      id: deps.ids.next('evt'),
      action: spec.action,
      target: spec.target,
      outcome,
      detail,
    });
  } catch (auditErr) {
    // The change did not happen; failing to record that it failed must not hide the first error.
    deps.logger.error(
      { err: auditErr, action: spec.action },
      'could not record a failed change in the audit log',
    );
  }
  return error;
}

/** Writes an audit row for something that is not a change (a read, a failed sign-in): no event. */
export type RecordAudit = (
  ctx: RequestCtx,
  entry: {
    action: Action;
    target: ChangeSpec['target'] | null;
    outcome: 'success' | 'denied' | 'error';
    detail?: string;
  },
) => Promise<void>;

/** One audit row of its own. Throws `unavailable` when it cannot be written. */
export function createRecordAudit(deps: Pick<ChangeDeps, 'journal' | 'ids'>): RecordAudit {
  return async (ctx, entry) => {
    await deps.journal.record(ctx, { id: deps.ids.next('evt'), ...entry });
    ctx.audited = true;
  };
}
