import { Type, type Static } from 'typebox';
import { IncludeTotalField, PageQueryFields } from '../../lib/pagination.js';
import { Str, Timestamp } from '../../lib/schema.js';
import { ALL_SCOPES } from '../../lib/permissions.js';
import { Permission } from '../roles/schemas.js';

/** A token as listed: never its secret or its hash. */
export const Token = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    user_id: Type.String(),
    prefix: Type.String({ description: 'The first characters of the secret, to tell tokens apart.' }),
    scopes: Type.Array(Type.String()),
    created_at: Timestamp,
    expires_at: Type.Union([Timestamp, Type.Null()]),
    last_used_at: Type.Union([Timestamp, Type.Null()]),
    revoked_at: Type.Union([Timestamp, Type.Null()]),
  },
  { additionalProperties: false, title: 'Token' },
);
export type Token = Static<typeof Token>;

/** A token with its secret: only in the answers to create and rotate. */
export const TokenWithSecret = Type.Object(
  {
    ...Token.properties,
    secret: Type.String({ description: 'Shown once. Store it now; only its SHA-256 is kept.' }),
  },
  { additionalProperties: false, title: 'TokenWithSecret' },
);
export type TokenWithSecret = Static<typeof TokenWithSecret>;

export const CreateTokenBody = Type.Object(
  {
    name: Str({ minLength: 1, maxLength: 128 }),
    scopes: Type.Array(Permission, { uniqueItems: true, minItems: 1, maxItems: ALL_SCOPES.length }),
    user_id: Type.Optional(Str({ maxLength: 128, description: 'Owner; default: the caller.' })),
    expires_at: Type.Optional(
      Type.String({ format: 'date-time', description: 'At most the configured maximum lifetime ahead.' }),
    ),
    ttl_seconds: Type.Optional(
      Type.Integer({
        minimum: 60,
        maximum: 3660 * 86_400,
        description: 'Lifetime instead of `expires_at`; default 30 days; at most tokens.max_ttl_days.',
      }),
    ),
  },
  { additionalProperties: false, title: 'CreateTokenBody' },
);
export type CreateTokenBody = Static<typeof CreateTokenBody>;

export const MAX_GRACE_SECONDS = 7 * 24 * 3600;

export const RotateTokenBody = Type.Object(
  {
    grace_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_GRACE_SECONDS,
        default: 0,
        description: 'How long the old secret keeps working (at most 7 days).',
      }),
    ),
  },
  { additionalProperties: false, title: 'RotateTokenBody' },
);
export type RotateTokenBody = Static<typeof RotateTokenBody>;

export const ListTokensQuery = Type.Object(
  {
    ...PageQueryFields,
    ...IncludeTotalField,
    user_id: Type.Optional(Str({ maxLength: 128, description: "Only this owner's tokens." })),
  },
  { additionalProperties: false },
);
export type ListTokensQuery = Static<typeof ListTokensQuery>;
