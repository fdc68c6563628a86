import { Type, type Static } from 'typebox';
import { DEFAULT_LIMIT, MAX_LIMIT } from '../../http/pagination.js';
import { MAX_SAFE_INT, Str, Timestamp } from '../../lib/schema.js';

export const AuditEvent = Type.Object(
  {
    id: Type.String({ description: 'evt_…: the same id as the outbox event of a change.' }),
    seq: Type.Integer({ description: 'Commit order, gapless; use it with `order=asc&after=` to tail.' }),
    ts: Timestamp,
    actor: Type.String({ description: '`system`, `anonymous`, or a user id.' }),
    actor_name: Type.Union([Type.String(), Type.Null()]),
    token_id: Type.Union([Type.String(), Type.Null()]),
    action: Type.String({ examples: ['user.create'] }),
    target: Type.Union([Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }), Type.Null()]),
    outcome: Type.Union([Type.Literal('success'), Type.Literal('denied'), Type.Literal('error')]),
    request_id: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    changes: Type.Union([
      Type.Object({ before: Type.Unknown(), after: Type.Unknown() }, { additionalProperties: false }),
      Type.Null(),
    ], { description: 'The resource before and after the change; secrets are never included.' }),
    detail: Type.Union([Type.String(), Type.Null()]),
    prev_hash: Type.String(),
    hash: Type.String({ description: 'SHA-256 over the canonical JSON (RFC 8785) of this event and prev_hash.' }),
  },
  { additionalProperties: false, title: 'AuditEvent' },
);
export type AuditEvent = Static<typeof AuditEvent>;

const ACTION_ITEM = '(\\*|[a-z_]+(\\.([a-z_]+|\\*))?)';

/** The filters every audit read shares: list, export, and the CLI. */
export const AuditFilterFields = {
  actor: Type.Optional(Str({ minLength: 1, maxLength: 128, description: '`system`, `anonymous`, or a user id.' })),
  action: Type.Optional(Str({
    minLength: 1, maxLength: 1024, pattern: `^${ACTION_ITEM}(,${ACTION_ITEM})*$`,
    description: 'Comma list: `user.update` exactly, `user.*` a resource, a bare verb such as `create` every resource\'s.',
  })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, inclusive.' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'ISO 8601, exclusive.' })),
  target: Type.Optional(Str({ minLength: 1, maxLength: 200, description: '`type:id`, or an id.' })),
  outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('denied'), Type.Literal('error')])),
};

export const AuditQuery = Type.Object(
  {
    ...AuditFilterFields,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT })),
    cursor: Type.Optional(Str({ maxLength: 1024 })),
    order: Type.Optional(Type.Union([Type.Literal('desc'), Type.Literal('asc')], { default: 'desc', description: 'desc: newest first; asc: oldest first, for tailing.' })),
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_SAFE_INT, description: 'With order=asc: only events with a larger seq (tail from the last seq you saw).' })),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

export const ExportQuery = Type.Object(
  { ...AuditFilterFields, format: Type.Optional(Type.Union([Type.Literal('ndjson'), Type.Literal('csv')], { default: 'ndjson' })) },
  { additionalProperties: false },
);
export type ExportQuery = Static<typeof ExportQuery>;

export type BrokenReason = 'hash_mismatch' | 'prev_hash_mismatch' | 'missing' | 'head_mismatch';
const BrokenReason = Type.Unsafe<BrokenReason>(Type.String({
  enum: ['hash_mismatch', 'prev_hash_mismatch', 'missing', 'head_mismatch'],
  description: 'hash_mismatch: the event was edited; prev_hash_mismatch: events were reordered or inserted; missing: events were deleted; head_mismatch: the newest events were deleted.',
}));

export const VerifyResult = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('broken')]),
    checked: Type.Integer({ description: 'Events checked.' }),
    first_seq: Type.Union([Type.Integer(), Type.Null()]),
    last_seq: Type.Union([Type.Integer(), Type.Null()]),
    broken: Type.Union([
      Type.Object({
        seq: Type.Integer(),
        id: Type.Union([Type.String(), Type.Null()]),
        reason: BrokenReason,
        detail: Type.String(),
      }, { additionalProperties: false }),
      Type.Null(),
    ], { description: 'The first broken link, when status is broken.' }),
  },
  { additionalProperties: false, title: 'AuditVerifyResult' },
);
export type VerifyResult = Static<typeof VerifyResult>;
