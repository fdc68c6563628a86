import type { AuditLinkRow, DialectHelpers } from '../../db/dialects/helpers.js';
import type { AuditEventsTable, OutboxTable, Trx } from '../../db/tables.js';

/** An event ready for its place in the chain, with the hash function of the chain's key. */
export type PendingLink = {
  row: AuditLinkRow;
  /** The event's time, unless the head's is later (a time range must map onto a seq range). */
  now: number;
};

/** Rows per multi-row insert: 19 columns each stays far below SQLite's 32,766 bound parameters. */
const INSERT_CHUNK = 200;

/**
 * The journal's SQL: the only writer of `audit_events`, `audit_head` and `outbox` rows of changes. Every
 * append takes the chain head's lock (`helpers.lockAuditHead`, held until the transaction ends), so events
 * commit in `seq` order and a reader following `seq` never skips one.
 */
export function createJournalStore(
  helpers: Pick<DialectHelpers, 'lockAuditHead' | 'appendAuditInSql' | 'announceOutbox'>,
) {
  return {
    /**
     * Appends `links` to the chain in order, hashing each onto the one before in JavaScript, and inserts
     * `events` (the outbox rows of the same changes): one head lock, one insert per table, one head update.
     */
    async append(
      trx: Trx,
      links: PendingLink[],
      events: OutboxTable[],
      hash: (row: Omit<AuditEventsTable, 'hash'>) => string,
    ): Promise<void> {
      const head = await helpers.lockAuditHead(trx);
      let seq = Number(head.seq);
      let ts = Number(head.ts);
      let prev = head.hash;
      const rows: AuditEventsTable[] = links.map((link) => {
        seq += 1;
        ts = Math.max(link.now, ts);
        const row = { ...link.row, seq, ts, prev_hash: prev };
        prev = hash(row);
        return { ...row, hash: prev };
      });
      for (let i = 0; i < events.length; i += INSERT_CHUNK)
        await trx
          .insertInto('outbox')
          .values(events.slice(i, i + INSERT_CHUNK))
          .execute();
      for (let i = 0; i < rows.length; i += INSERT_CHUNK)
        await trx
          .insertInto('audit_events')
          .values(rows.slice(i, i + INSERT_CHUNK))
          .execute();
      await trx.updateTable('audit_head').set({ seq, hash: prev, ts }).where('id', '=', 1).execute();
      if (events.length > 0) await helpers.announceOutbox?.(trx);
    },

    /**
     * The dialect's one-statement append, when it has one (PostgreSQL: the database hashes the link and the
     * statement is sent with the COMMIT, so the head's lock never waits on this process); else undefined.
     */
    appendInSql: helpers.appendAuditInSql,
  };
}
export type JournalStore = ReturnType<typeof createJournalStore>;
