import { Type, type Static } from 'typebox';
import { Str, Timestamp, StringEnum } from '../../lib/schema.js';
import { PASSWORD_MAX_LENGTH, User } from '../users/schemas.js';

export const LoginBody = Type.Object(
  {
    username: Str({ minLength: 1, maxLength: 256 }),
    // At most what a stored password may have (see PASSWORD_MAX_LENGTH: it fits the sign-in routes' 8 KiB body).
    password: Str({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH, writeOnly: true }),
  },
  { additionalProperties: false, title: 'LoginBody' },
);
export type LoginBody = Static<typeof LoginBody>;

export const Session = Type.Object(
  {
    token: Type.String({
      description: 'Session token (`gts_…`): send it as `Authorization: Bearer`. Shown once.',
    }),
    session_id: Type.String(),
    expires_at: Timestamp,
    user: User,
  },
  { additionalProperties: false, title: 'Session' },
);
export type Session = Static<typeof Session>;

export const Me = Type.Object(
  {
    user: User,
    token: Type.Object(
      {
        id: Type.String(),
        kind: StringEnum(['token', 'session']),
        expires_at: Type.Union([Timestamp, Type.Null()]),
      },
      { additionalProperties: false },
    ),
    scopes: Type.Array(
      Type.String({ description: "Effective: the token's scopes narrowed by your current roles." }),
    ),
    mfa_enrollment_required: Type.Optional(
      Type.Literal(true, {
        description:
          'Present on a session that must enrol a second factor first (auth.require_mfa_for_roles): until then only GET /api/me, /api/me/mfa… and logout answer.',
      }),
    ),
  },
  { additionalProperties: false, title: 'Me' },
);
export type Me = Static<typeof Me>;
