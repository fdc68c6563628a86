import { Type, type Static } from 'typebox';
import { PageQueryFields } from '../../lib/pagination.js';
import { MAX_SAFE_INT, Str, Timestamp, StringEnum } from '../../lib/schema.js';

/** One item of the audit filter's `action` list: `user.create` exactly, `user.*` a resource, `create` a verb, `*` all. */
const ActionPattern = Str({
  minLength: 1,
  maxLength: 100,
  pattern: '^(\\*|[a-z_]+(\\.([a-z_]+|\\*))?)$',
  description:
    "`user.create` exactly, `user.*` a resource, a bare verb such as `create` every resource's, `*` all.",
});
const FromSeq = Type.Integer({
  minimum: 0,
  maximum: MAX_SAFE_INT,
  description:
    'Deliver the events from this seq on (older ones that retention kept included); 0: from the oldest.',
});

export const AuditStream = Type.Object(
  {
    id: Type.String({ description: '`stream_…`' }),
    name: Type.String(),
    url: Type.String(),
    actions: Type.Array(Type.String(), {
      description: 'The action patterns it receives; `["*"]`: every event.',
    }),
    status: StringEnum(['active', 'paused'], {
      description:
        'paused: by hand, or by the server after the receiver failed 5 times in a row (see last_error).',
    }),
    last_seq: Type.Integer({
      description: 'The last seq the receiver acknowledged (or the filter passed over).',
    }),
    lag: Type.Integer({ description: 'Events behind the head of the audit log.' }),
    last_error: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
    updated_at: Timestamp,
    created_by: Type.Union([Type.String(), Type.Null()], {
      description:
        'The user whose current audit:read the stream needs at delivery (set on create, and by an update of url or actions).',
    }),
  },
  { additionalProperties: false, title: 'AuditStream' },
);
export type AuditStream = Static<typeof AuditStream>;

export const AuditStreamWithSecret = Type.Object(
  {
    ...AuditStream.properties,
    secret: Type.String({
      description: '`whsec_…`: signs every batch (Standard Webhooks); shown in the create answer only.',
    }),
  },
  { additionalProperties: false, title: 'AuditStreamWithSecret' },
);
export type AuditStreamWithSecret = Static<typeof AuditStreamWithSecret>;

const fields = {
  name: Str({ minLength: 1, maxLength: 100 }),
  url: Str({
    minLength: 8,
    maxLength: 2048,
    description: 'The receiver: https; http only when webhooks.allow_private_targets is on.',
  }),
  actions: Type.Optional(Type.Array(ActionPattern, { minItems: 1, maxItems: 100, uniqueItems: true })),
};
export const CreateAuditStreamBody = Type.Object(
  { ...fields, from_seq: Type.Optional(FromSeq) },
  { additionalProperties: false, title: 'CreateAuditStreamBody' },
);
export type CreateAuditStreamBody = Static<typeof CreateAuditStreamBody>;

export const UpdateAuditStreamBody = Type.Object(
  {
    name: Type.Optional(fields.name),
    url: Type.Optional(fields.url),
    actions: fields.actions,
    status: Type.Optional(
      StringEnum(['active', 'paused'], {
        description: 'paused stops delivery; active resumes where it stopped.',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1, title: 'UpdateAuditStreamBody' },
);
export type UpdateAuditStreamBody = Static<typeof UpdateAuditStreamBody>;

export const ResumeAuditStreamBody = Type.Object(
  { from_seq: Type.Optional(FromSeq) },
  { additionalProperties: false, title: 'ResumeAuditStreamBody' },
);
export type ResumeAuditStreamBody = Static<typeof ResumeAuditStreamBody>;

export const ListAuditStreamsQuery = Type.Object({ ...PageQueryFields }, { additionalProperties: false });
