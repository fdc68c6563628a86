import type { OutboxTable } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Action } from './catalog.js';

export type Outbox = {
  /**
   * The outbox row of one event. The change path writes it with the audit row (`AuditLog.append`), in the
   * same statement on PostgreSQL: one round trip fewer per change.
   */
  row(event: { id: string; type: Action; data: unknown }): OutboxTable;
  /** Called by the change path after a transaction that inserted events has committed. */
  committed(): void;
  /** Runs `listener` after each such commit (the in-process webhook worker wakes on it instead of waiting for its poll). */
  onCommitted(listener: () => void): () => void;
};

/**
 * Writes one event per successful change, in the change's transaction, so an event exists exactly when its
 * change committed. Delivery reads this table later; nothing in a request makes an HTTP call.
 */
export function createOutbox({ clock }: { clock: Clock }): Outbox {
  const listeners = new Set<() => void>();
  return {
    committed() {
      for (const listener of listeners) listener();
    },
    onCommitted(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    row: ({ id, type, data }) => ({
      id,
      type,
      data: JSON.stringify(data ?? null),
      created_at: clock.now(),
      dispatched_at: null,
    }),
  };
}
