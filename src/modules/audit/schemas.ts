import { Type, type Static } from 'typebox';
import { DEFAULT_LIMIT, IncludeTotalField, MAX_LIMIT } from '../../lib/pagination.js';
import { MAX_SAFE_INT, Str, Timestamp, StringEnum } from '../../lib/schema.js';

export { AuditEvent } from '../journal/event.js';

const ACTION_ITEM = '(\\*|[a-z_]+(\\.[a-z_]+){0,2}(\\.\\*)?)';

/** The filters every audit read shares: list, export, and the CLI. */
export const AuditFilterFields = {
  actor: Type.Optional(
    Str({ minLength: 1, maxLength: 128, description: '`system`, `anonymous`, or a user id.' }),
  ),
  action: Type.Optional(
    Str({
      minLength: 1,
      maxLength: 1024,
      pattern: `^${ACTION_ITEM}(,${ACTION_ITEM})*$`,
      description:
        "Comma list: `user.update` or `auth.mfa.enrol` exactly, `user.*` a resource, `auth.mfa.*` every action under that prefix, a bare verb such as `create` every resource's.",
    }),
  ),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, inclusive.' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, exclusive.' })),
  target: Type.Optional(Str({ minLength: 1, maxLength: 200, description: '`type:id`, or an id.' })),
  outcome: Type.Optional(StringEnum(['success', 'denied', 'error'])),
};

export const AuditQuery = Type.Object(
  {
    ...AuditFilterFields,
    ...IncludeTotalField,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
    cursor: Type.Optional(Str({ maxLength: 1024 })),
    order: Type.Optional(
      StringEnum(['desc', 'asc'], {
        default: 'desc',
        description: 'desc: newest first; asc: oldest first, for tailing.',
      }),
    ),
    after: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_SAFE_INT,
        description: 'With order=asc: only events with a larger seq (tail from the last seq you saw).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

/** `?include=total` on the audit log counts at most this many events: the log can be long. */
export const AUDIT_TOTAL_CAP = 10_000;

export const ExportQuery = Type.Object(
  {
    ...AuditFilterFields,
    format: Type.Optional(StringEnum(['ndjson', 'csv'], { default: 'ndjson' })),
  },
  { additionalProperties: false },
);
export type ExportQuery = Static<typeof ExportQuery>;

export type BrokenReason =
  | 'hash_mismatch'
  | 'prev_hash_mismatch'
  | 'missing'
  | 'head_mismatch'
  | 'key_seal_invalid'
  | 'checkpoint_invalid'
  | 'checkpoint_beyond_head'
  | 'checkpoint_mismatch';
const BrokenReason = Type.Unsafe<BrokenReason>(
  Type.String({
    enum: [
      'hash_mismatch',
      'prev_hash_mismatch',
      'missing',
      'head_mismatch',
      'key_seal_invalid',
      'checkpoint_invalid',
      'checkpoint_beyond_head',
      'checkpoint_mismatch',
    ],
    description:
      'hash_mismatch: the event was edited (or its link recomputed without the key); prev_hash_mismatch: events were reordered or inserted; ' +
      'missing: events were deleted; head_mismatch: the newest events were deleted; key_seal_invalid: the seq the chain is keyed from was moved or removed; ' +
      "checkpoint_invalid: the checkpoint is not signed by this server's key; checkpoint_beyond_head: the log ends before the checkpoint (its tail was cut off); " +
      "checkpoint_mismatch: the event at the checkpoint's seq is not the one it signed (the chain was rewritten and recomputed).",
  }),
);

const Hex64 = Type.String({ pattern: '^[0-9a-f]{64}$' });

/** A signed statement of the chain's head; verify a later log against it to detect a cut tail or a recomputed chain. */
export const AuditCheckpoint = Type.Object(
  {
    version: Type.Literal(1),
    seq: Type.Integer({
      minimum: 0,
      maximum: Number.MAX_SAFE_INTEGER,
      description: "The head's seq when the checkpoint was issued.",
    }),
    hash: {
      ...Hex64,
      description: 'The chain hash of the event at seq (the genesis or anchor hash for seq 0).',
    },
    ts: { ...Timestamp, description: 'The time of the event at seq.' },
    issued_at: Timestamp,
    key_id: Type.String({
      pattern: '^[0-9a-f]{16}$',
      description: 'The first 16 hex digits of the SHA-256 of the public key.',
    }),
    public_key: Type.String({
      pattern: '^[A-Za-z0-9_-]{43}$',
      description: 'The Ed25519 public key (raw, base64url) that signed it.',
    }),
    signature: Type.String({
      maxLength: 200,
      description: 'Ed25519 signature (base64url) of the RFC 8785 canonical JSON of the other fields.',
    }),
  },
  { additionalProperties: false, title: 'AuditCheckpoint' },
);
export type AuditCheckpoint = Static<typeof AuditCheckpoint>;

export type CheckpointStatus = 'ok' | 'invalid' | 'beyond_head' | 'mismatch' | 'purged';

export const VerifyResult = Type.Object(
  {
    status: StringEnum(['ok', 'broken']),
    checked: Type.Integer({ description: 'Events checked.' }),
    first_seq: Type.Union([Type.Integer(), Type.Null()]),
    last_seq: Type.Union([Type.Integer(), Type.Null()]),
    broken: Type.Union(
      [
        Type.Object(
          {
            seq: Type.Integer(),
            id: Type.Union([Type.String(), Type.Null()]),
            reason: BrokenReason,
            detail: Type.String(),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      {
        description:
          "The first broken link, when status is broken (the chain's own before the checkpoint's).",
      },
    ),
    checkpoint: Type.Union(
      [
        Type.Object(
          {
            seq: Type.Integer(),
            status: Type.Unsafe<CheckpointStatus>(
              Type.String({
                enum: ['ok', 'invalid', 'beyond_head', 'mismatch', 'purged'],
                description:
                  "ok: the chain holds the signed event; invalid: the signature does not verify with this server's key; beyond_head: the log ends before it; " +
                  'mismatch: another event is at its seq; purged: retention deleted its event, so only that the log reaches past it was checked.',
              }),
            ),
            detail: Type.String(),
          },
          { additionalProperties: false },
        ),
        Type.Null(),
      ],
      { description: 'The check against the checkpoint sent, or null without one.' },
    ),
  },
  { additionalProperties: false, title: 'AuditVerifyResult' },
);
export type VerifyResult = Static<typeof VerifyResult>;
