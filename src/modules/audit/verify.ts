import type { Kysely } from 'kysely';
import type { Tables } from '../../db/tables.js';
import { chainHash } from './append.js';
import type { BrokenReason, VerifyResult } from './schemas.js';
import type { AuditStore } from './store.js';

const BATCH = 5000;

/**
 * Recomputes every link from the anchor (the last purged event, or genesis) to the head read at the start:
 * seq must be gapless, each `prev_hash` the previous event's hash, each hash match its content, and the
 * last event be the head. Reports the first broken link. Events appended meanwhile are not checked.
 */
export async function verifyChain(db: Kysely<Tables>, store: AuditStore, onProgress?: (checked: number, total: number) => void): Promise<VerifyResult> {
  const head = await store.head(db);
  const total = head.seq - head.anchor_seq;
  let expectedSeq = head.anchor_seq + 1;
  let expectedPrev = head.anchor_hash;
  let checked = 0;
  const broken = (seq: number, id: string | null, reason: BrokenReason, detail: string): VerifyResult => ({
    status: 'broken', checked, first_seq: head.anchor_seq + 1, last_seq: head.seq, broken: { seq, id, reason, detail },
  });
  for (;;) {
    const rows = await store.batch(db, { toSeq: head.seq }, expectedSeq - 1, BATCH);
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) return broken(expectedSeq, null, 'missing', `events ${expectedSeq}…${seq - 1} are missing`);
      if (row.prev_hash !== expectedPrev) return broken(seq, row.id, 'prev_hash_mismatch', 'does not link to the previous event');
      const { hash, ...rest } = row;
      if (chainHash(rest) !== hash || `${row.resource}.${row.verb}` !== row.action) {
        return broken(seq, row.id, 'hash_mismatch', 'the event was altered after it was written');
      }
      expectedPrev = hash;
      expectedSeq += 1;
      checked += 1;
    }
    onProgress?.(checked, total);
    await new Promise((r) => setImmediate(r)); // let other requests run between batches
    if (rows.length < BATCH) break;
  }
  if (expectedSeq - 1 !== head.seq || expectedPrev !== head.hash) {
    return broken(expectedSeq, null, head.seq >= expectedSeq ? 'missing' : 'head_mismatch', `the chain ends at seq ${expectedSeq - 1} but the head is at ${head.seq}`);
  }
  return { status: 'ok', checked, first_seq: checked ? head.anchor_seq + 1 : null, last_seq: checked ? head.seq : null, broken: null };
}
