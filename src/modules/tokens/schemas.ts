import { Type, type Static } from 'typebox';
import { IncludeTotalField, PageQueryFields } from '../../lib/pagination.js';
import { Str, StringEnum, Timestamp } from '../../lib/schema.js';
import { ALL_SCOPES } from '../../lib/permissions.js';
import { Permission } from '../roles/schemas.js';

/** The user a token belongs to, by name. */
export const TokenOwner = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    display_name: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false, title: 'TokenOwner' },
);
export type TokenOwner = Static<typeof TokenOwner>;

/** A token's stored fields, as its audit rows and events carry them: never its secret or its hash. */
const tokenFields = {
  id: Type.String(),
  name: Type.String(),
  user_id: Type.String(),
  prefix: Type.String({ description: 'The first characters of the secret, to tell tokens apart.' }),
  scopes: Type.Array(Type.String()),
  created_at: Timestamp,
  expires_at: Type.Union([Timestamp, Type.Null()]),
  last_used_at: Type.Union([Timestamp, Type.Null()]),
  revoked_at: Type.Union([Timestamp, Type.Null()]),
  previous_secret_expires_at: Type.Union([Timestamp, Type.Null()], {
    description:
      'After a rotation with `grace_seconds`: until then the previous secret also works (a past time: it no longer does). null when there was no grace; cleared by a revocation.',
  }),
};

/** A token as answered: its fields and its owner. */
export const Token = Type.Object(
  {
    ...tokenFields,
    owner: Type.Union([TokenOwner, Type.Null()], {
      description:
        'The user the token belongs to (`user_id`) by name; null when the caller may not read users (`users:read`) and the token is not its own.',
    }),
  },
  { additionalProperties: false, title: 'Token' },
);
export type Token = Static<typeof Token>;
/**
 * A token without its owner: what the store keeps and audit rows and `token.*` events carry (the owner by name
 * is a per-caller view: an event's subscriber needs `tokens:read`, not `users:read`).
 */
export const TokenRecord = Type.Object(tokenFields, {
  additionalProperties: false,
  title: 'TokenRecord',
  description: 'A token as its events carry it: its stored fields, never its secret or its owner by name.',
});
export type TokenRecord = Static<typeof TokenRecord>;

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
    status: Type.Optional(
      StringEnum(['active', 'revoked', 'expired'], {
        description:
          '`active`: neither revoked nor past `expires_at`; `revoked`: revoked; `expired`: past `expires_at` without being revoked.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ListTokensQuery = Static<typeof ListTokensQuery>;
