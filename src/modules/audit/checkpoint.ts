import { sign, verify } from 'node:crypto';
import { toIso } from '../../db/codecs.js';
import type { AuditHeadTable } from '../../db/tables.js';
import { canonicalize } from '../journal/event.js';
import type { AuditKeys } from './keys.js';
import type { AuditCheckpoint, CheckpointStatus } from './schemas.js';

/** The bytes a checkpoint's signature covers: every other field, as RFC 8785 canonical JSON. */
function signedBytes({ signature: _, ...fields }: AuditCheckpoint): Buffer {
  return Buffer.from(canonicalize(fields) ?? '', 'utf8');
}

/** Signs the head as it is: its seq, hash and time, with the time of issue and the signing key's name. */
export function issueCheckpoint(
  keys: Pick<AuditKeys, 'signing' | 'publicKey' | 'keyId'>,
  head: Pick<AuditHeadTable, 'seq' | 'hash' | 'ts'>,
  now: number,
): AuditCheckpoint {
  const fields = {
    version: 1 as const,
    seq: Number(head.seq),
    hash: head.hash,
    ts: toIso(Number(head.ts)),
    issued_at: toIso(now),
    key_id: keys.keyId,
    public_key: keys.publicKey,
    signature: '',
  };
  return { ...fields, signature: sign(null, signedBytes(fields), keys.signing).toString('base64url') };
}

export type CheckpointCheck = { seq: number; status: CheckpointStatus; detail: string };

/**
 * Holds a checkpoint against the log: signed by this server's key, not beyond the head (else the tail was
 * cut and the head rewound), and the same hash at its seq (else the chain was rewritten and recomputed, by
 * whoever had the key). A checkpoint older than the anchor names an event retention deleted: only the
 * head's not being behind it can be checked. `hashAt` gives the stored hash at a seq past the anchor.
 */
export async function checkCheckpoint(
  keys: Pick<AuditKeys, 'verifying' | 'publicKey' | 'keyId'>,
  head: Pick<AuditHeadTable, 'seq' | 'anchor_seq' | 'anchor_hash'>,
  checkpoint: AuditCheckpoint,
  hashAt: (seq: number) => Promise<string | undefined>,
): Promise<CheckpointCheck> {
  const { seq } = checkpoint;
  const result = (status: CheckpointStatus, detail: string): CheckpointCheck => ({ seq, status, detail });
  if (checkpoint.public_key !== keys.publicKey) {
    return result('invalid', `signed by key ${checkpoint.key_id}, not by this server's key ${keys.keyId}`);
  }
  let valid = false;
  try {
    valid = verify(
      null,
      signedBytes(checkpoint),
      keys.verifying,
      Buffer.from(checkpoint.signature, 'base64url'),
    );
  } catch {
    valid = false;
  }
  if (!valid) return result('invalid', 'the signature does not verify: the checkpoint was altered or forged');
  if (seq > head.seq)
    return result(
      'beyond_head',
      `the log ends at seq ${head.seq}, before the checkpoint's seq ${seq}: its newest events were deleted`,
    );
  if (seq < head.anchor_seq) {
    return result(
      'purged',
      `retention deleted the events through seq ${head.anchor_seq}, the checkpoint's event included; the log reaches past it. Keep a newer checkpoint`,
    );
  }
  const stored = seq === head.anchor_seq ? head.anchor_hash : await hashAt(seq);
  if (stored === undefined) return result('mismatch', `no event at the checkpoint's seq ${seq}`);
  if (stored !== checkpoint.hash)
    return result(
      'mismatch',
      `the event at seq ${seq} is not the one the checkpoint signed: the chain was rewritten up to or before it`,
    );
  return result('ok', `the chain holds the checkpoint's event at seq ${seq}`);
}
