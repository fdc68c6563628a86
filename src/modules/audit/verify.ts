import type { Kysely } from 'kysely';
import type { Tables } from '../../db/tables.js';
import { chainHash } from '../journal/event.js';
import { checkCheckpoint } from './checkpoint.js';
import { keyedFromMac, sameDigest, type AuditKeys } from './keys.js';
import type { AuditCheckpoint, BrokenReason, VerifyResult } from './schemas.js';
import type { AuditStore } from './store.js';

const BATCH = 5000;

export type VerifyOptions = {
  checkpoint?: AuditCheckpoint;
  onProgress?: (checked: number, total: number) => void;
};

/**
 * Recomputes every link from the anchor (the last purged event, or genesis) to the head read at the start:
 * seq must be gapless, each `prev_hash` the previous event's hash, each hash match its content (an HMAC with
 * the chain key from the sealed `keyed_from` on, plain SHA-256 before it), and the last event be the head.
 * Reports the first broken link; with a checkpoint, then holds the log against it (`checkCheckpoint`).
 * Events appended meanwhile are not checked.
 */
export async function verifyChain(
  db: Kysely<Tables>,
  store: AuditStore,
  keys: AuditKeys,
  { checkpoint, onProgress }: VerifyOptions = {},
): Promise<VerifyResult> {
  const head = await store.head(db);
  const total = head.seq - head.anchor_seq;
  let expectedSeq = head.anchor_seq + 1;
  let expectedPrev = head.anchor_hash;
  let checked = 0;
  const check = checkpoint
    ? await checkCheckpoint(keys, head, checkpoint, (seq) => store.hashAt(db, seq))
    : null;
  const broken = (seq: number, id: string | null, reason: BrokenReason, detail: string): VerifyResult => ({
    status: 'broken',
    checked,
    first_seq: head.anchor_seq + 1,
    last_seq: head.seq,
    broken: { seq, id, reason, detail },
    checkpoint: check,
  });
  const keyedFrom = head.keyed_from;
  if (
    keyedFrom === null ||
    head.keyed_mac === null ||
    !sameDigest(head.keyed_mac, keyedFromMac(keys, keyedFrom))
  ) {
    return broken(
      keyedFrom ?? expectedSeq,
      null,
      'key_seal_invalid',
      'the seq the chain is keyed from was removed or moved, or sealed with another key',
    );
  }
  for (;;) {
    const rows = await store.batch(db, { toSeq: head.seq }, expectedSeq - 1, BATCH);
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq)
        return broken(expectedSeq, null, 'missing', `events ${expectedSeq}…${seq - 1} are missing`);
      if (row.prev_hash !== expectedPrev)
        return broken(seq, row.id, 'prev_hash_mismatch', 'does not link to the previous event');
      const { hash, ...rest } = row;
      if (
        !sameDigest(chainHash(rest, seq >= keyedFrom ? keys.chain : undefined), hash) ||
        `${row.resource}.${row.verb}` !== row.action
      ) {
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
    return broken(
      expectedSeq,
      null,
      head.seq >= expectedSeq ? 'missing' : 'head_mismatch',
      `the chain ends at seq ${expectedSeq - 1} but the head is at ${head.seq}`,
    );
  }
  if (check && check.status !== 'ok' && check.status !== 'purged') {
    const reason = (
      {
        invalid: 'checkpoint_invalid',
        beyond_head: 'checkpoint_beyond_head',
        mismatch: 'checkpoint_mismatch',
      } as const
    )[check.status];
    return broken(check.status === 'beyond_head' ? head.seq + 1 : check.seq, null, reason, check.detail);
  }
  return {
    status: 'ok',
    checked,
    first_seq: checked ? head.anchor_seq + 1 : null,
    last_seq: checked ? head.seq : null,
    broken: null,
    checkpoint: check,
  };
}
