import type { Kysely } from 'kysely';
import type { AuditEventsTable, AuditHeadTable, Tables } from '../../db/tables.js';
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

type Head = AuditHeadTable;
/** Where the walk is: the next seq and `prev_hash` it expects, and how many events it checked. */
type Walk = { expectedSeq: number; expectedPrev: string; checked: number };
type Broken = (seq: number, id: string | null, reason: BrokenReason, detail: string) => VerifyResult;
type Check = Awaited<ReturnType<typeof checkCheckpoint>> | null;

/** True when the seal names the seq the chain is keyed from, made with this key. */
function sealHolds(keys: AuditKeys, head: Head): head is Head & { keyed_from: number; keyed_mac: string } {
  return (
    head.keyed_from !== null &&
    head.keyed_mac !== null &&
    sameDigest(head.keyed_mac, keyedFromMac(keys, head.keyed_from))
  );
}

/** Checks one batch against the walk, advancing it: the first broken link's result, or null. */
function checkRows(
  rows: AuditEventsTable[],
  walk: Walk,
  chainKey: (seq: number) => Buffer | undefined,
  broken: Broken,
): VerifyResult | null {
  for (const row of rows) {
    const seq = Number(row.seq);
    if (seq !== walk.expectedSeq)
      return broken(walk.expectedSeq, null, 'missing', `events ${walk.expectedSeq}…${seq - 1} are missing`);
    if (row.prev_hash !== walk.expectedPrev)
      return broken(seq, row.id, 'prev_hash_mismatch', 'does not link to the previous event');
    const { hash, ...rest } = row;
    if (!sameDigest(chainHash(rest, chainKey(seq)), hash) || `${row.resource}.${row.verb}` !== row.action) {
      return broken(seq, row.id, 'hash_mismatch', 'the event was altered after it was written');
    }
    walk.expectedPrev = hash;
    walk.expectedSeq += 1;
    walk.checked += 1;
  }
  return null;
}

/** After the walk: the chain must end at the head, and a checkpoint given must hold. */
function endResult(head: Head, walk: Walk, check: Check, broken: Broken): VerifyResult {
  if (walk.expectedSeq - 1 !== head.seq || walk.expectedPrev !== head.hash) {
    return broken(
      walk.expectedSeq,
      null,
      head.seq >= walk.expectedSeq ? 'missing' : 'head_mismatch',
      `the chain ends at seq ${walk.expectedSeq - 1} but the head is at ${head.seq}`,
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
    checked: walk.checked,
    first_seq: walk.checked ? head.anchor_seq + 1 : null,
    last_seq: walk.checked ? head.seq : null,
    broken: null,
    checkpoint: check,
  };
}

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
  const walk: Walk = { expectedSeq: head.anchor_seq + 1, expectedPrev: head.anchor_hash, checked: 0 };
  const check = checkpoint
    ? await checkCheckpoint(keys, head, checkpoint, (seq) => store.hashAt(db, seq))
    : null;
  const broken: Broken = (seq, id, reason, detail) => ({
    status: 'broken',
    checked: walk.checked,
    first_seq: head.anchor_seq + 1,
    last_seq: head.seq,
    broken: { seq, id, reason, detail },
    checkpoint: check,
  });
  if (!sealHolds(keys, head)) {
    return broken(
      head.keyed_from ?? walk.expectedSeq,
      null,
      'key_seal_invalid',
      'the seq the chain is keyed from was removed or moved, or sealed with another key',
    );
  }
  const keyedFrom = head.keyed_from;
  const chainKey = (seq: number) => (seq >= keyedFrom ? keys.chain : undefined);
  for (;;) {
    const rows = await store.batch(db, { toSeq: head.seq }, walk.expectedSeq - 1, BATCH);
    const failed = checkRows(rows, walk, chainKey, broken);
    if (failed) return failed;
    onProgress?.(walk.checked, total);
    await new Promise((r) => setImmediate(r)); // let other requests run between batches
    if (rows.length < BATCH) break;
  }
  return endResult(head, walk, check, broken);
}
