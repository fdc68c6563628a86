import { Type, type Static } from 'typebox';
import { Timestamp } from '../../lib/schema.js';

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
