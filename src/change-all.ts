import type { Trx } from './db/tables.js';
import { translateDbError } from './db/translate-error.js';
import { AppError } from './errors.js';
import type { RequestCtx } from './lib/request-ctx.js';
import { recordFailure, type ChangeDeps, type ChangeSpec, type Prepared } from './change.js';
import { catalog } from './modules/events/catalog.js';
import { storeAnswer } from './modules/idempotency/service.js';
import type { JournalEntry } from './modules/journal/service.js';
import type { OutboxTable } from './db/tables.js';

/** One change of a batch and how a problem names it (`role editor`). */
export type BatchStep = { label: string; prepared: Prepared<unknown> };

/** Several changes that happen together or not at all, tied by one change of their own (`config.apply`). */
export type Batch = {
  /** The tying change; its event id is `id`, its audit row the batch's last. */
  spec: ChangeSpec;
  id: string;
  steps: BatchStep[];
  /**
   * Runs first in the transaction with the chain's head locked (nothing else commits meanwhile). False: what
   * the batch was prepared from has moved; nothing is written or audited and `changeAll` answers null.
   */
  guard?: (trx: Trx, head: { seq: number }) => Promise<boolean>;
  /** The tying change's `after` in its audit row and event (e.g. counts and the steps' event ids). */
  summary: (stepEvents: string[]) => unknown;
  /** The answer kept for an Idempotency-Key replay. */
  answer: unknown;
};

export type ChangeAll = (ctx: RequestCtx, batch: Batch) => Promise<unknown[] | null>;

/** Thrown inside the transaction when the guard refuses: rolls it back, caught below, never surfaces. */
class Moved extends Error {}

/** The problem of a step, naming it: `user alice: …`, with `resource` for clients. */
function naming(err: unknown, label: string, deps: Pick<ChangeDeps, 'helpers'>): unknown {
  const app = translateDbError(deps.helpers, err);
  if (!(app instanceof AppError)) return app;
  const detail = `${label}: ${app.detail ?? app.title}`;
  return new AppError(app.code, detail, { ...app.extensions, resource: label }, { cause: err });
}

/**
 * The change path for a batch: every step's before-hooks first, outside any transaction (one veto refuses
 * the whole batch, naming its step); then one transaction that runs `guard`, each step's writes in order,
 * and appends one audit event and one outbox event per step plus the tying one; then each step's local
 * effects. A failure anywhere rolls back everything and is audited once, as the tying change's failure
 * naming the step. Returns each step's `after`. Throws what a step or `guard` throws, or `unavailable`.
 */
export function createChangeAll(deps: ChangeDeps): ChangeAll {
  const { journal, outbox, ids } = deps;
  return async (ctx, batch) => {
    try {
      for (const { label, prepared } of batch.steps)
        await deps.hooks?.runBefore(ctx, prepared.spec).catch((err: unknown) => {
          throw naming(err, label, deps);
        });
      const values = await journal.commitAll(ctx, async (trx, head) => {
        if (batch.guard && !(await batch.guard(trx, head))) throw new Moved('the state moved');
        const entries: JournalEntry[] = [];
        const events: OutboxTable[] = [];
        const values: unknown[] = [];
        for (const { label, prepared } of batch.steps) {
          const { before, after, detail } = await prepared.write(trx).catch((err: unknown) => {
            throw naming(err, label, deps);
          });
          const id = ids.next('evt');
          const { input: _input, ...spec } = prepared.spec;
          entries.push({
            id,
            ...spec,
            detail: `${detail ?? spec.detail ?? label} (in ${batch.id})`,
            outcome: 'success',
            before,
            after,
          });
          if (catalog[spec.action].event)
            events.push(outbox.row({ id, type: spec.action, data: after ?? before }));
          values.push(after);
        }
        const after = batch.summary(entries.map((e) => e.id));
        const { input: _input, ...spec } = batch.spec;
        entries.push({ id: batch.id, ...spec, outcome: 'success', before: null, after });
        if (catalog[spec.action].event)
          events.push(outbox.row({ id: batch.id, type: spec.action, data: after }));
        if (ctx.idempotency && !ctx.idempotency.stored)
          await storeAnswer(trx, ctx.idempotency, batch.answer, Date.now());
        return { value: values, entries, events };
      });
      for (const [i, { prepared }] of batch.steps.entries())
        // Committed: a failing local effect (a cache reload) is logged, never reported as the batch's failure.
        await Promise.resolve(prepared.after?.(values[i])).catch((err: unknown) =>
          deps.logger.error(
            { err, action: prepared.spec.action },
            'a committed change could not finish locally',
          ),
        );
      return values;
    } catch (err) {
      if (err instanceof Moved) return null;
      throw await recordFailure(deps, ctx, batch.spec, err);
    } finally {
      ctx.audited = true;
    }
  };
}
