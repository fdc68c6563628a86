import { Type, type Static } from 'typebox';
import { IncludeTotalField, PageQueryFields } from '../../lib/pagination.js';
import { Nullable, Str, Timestamp, StringEnum } from '../../lib/schema.js';

export const UserKind = StringEnum(['human', 'service'], {
  description: '`human` users may sign in to the console; `service` accounts use tokens only.',
});

/** The longest username, stored and accepted: one constant for the check and the schema. */
export const USERNAME_MAX_LENGTH = 64;

/** Stored form: 1–64 of `a-z 0-9 . _ - @`. Input is NFKC-normalised and lower-cased first. */
export const USERNAME_PATTERN = new RegExp(`^[a-z0-9._@-]{1,${USERNAME_MAX_LENGTH}}$`);

/**
 * `maxLength` is the stored limit: NFKC never turns one code point into nothing, nor two into one ASCII
 * character (compositions are never ASCII), so an input longer than 64 code points can never be accepted.
 */
const Username = Str({
  minLength: 1,
  maxLength: USERNAME_MAX_LENGTH,
  description: `1–${USERNAME_MAX_LENGTH} characters of a-z 0-9 . _ - @ after Unicode NFKC normalisation and lower-casing; unique regardless of case and width.`,
  examples: ['alice'],
});
const Email = Type.String({ format: 'email', maxLength: 254, pattern: '^[^\\u0000\\uD800-\\uDFFF]*$' });
const DisplayName = Str({ minLength: 1, maxLength: 128 });
/**
 * The lowest `passwords.min_length` the settings allow. The policy is a runtime setting (default 12), so the
 * schema states the minimum it can always enforce, this floor, and its description names the policy.
 */
export const PASSWORD_MIN_LENGTH_FLOOR = 8;
export const PASSWORD_MIN_LENGTH_DEFAULT = 12;
/**
 * The longest password, in characters (code points, as `maxLength` and `textLength` count them), for a stored
 * one and at sign-in. Written as JSON escapes only what JSON requires (six bytes at most per character), one
 * with a longest username fits the sign-in routes' 8 KiB body.
 */
export const PASSWORD_MAX_LENGTH = 1024;

/** Write-only: never in an answer, a log, an audit row or an event. */
export const Password = Str({
  minLength: PASSWORD_MIN_LENGTH_FLOOR,
  maxLength: PASSWORD_MAX_LENGTH,
  writeOnly: true,
  description: `At least the \`passwords.min_length\` setting's characters (default ${PASSWORD_MIN_LENGTH_DEFAULT}; never below ${PASSWORD_MIN_LENGTH_FLOOR}, the schema's minLength) and at most ${PASSWORD_MAX_LENGTH.toLocaleString('en')}, counted in Unicode code points as minLength and maxLength are; human users only. null removes it.`,
});

export const User = Type.Object(
  {
    id: Type.String({ examples: ['user_01jd8y6v7kf3zr4x6qk9n2m1ab'] }),
    username: Type.String(),
    email: Type.Union([Type.String(), Type.Null()]),
    display_name: Type.Union([Type.String(), Type.Null()]),
    kind: UserKind,
    disabled: Type.Boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
    external_id: Type.Optional(
      Type.String({ description: "A user linked to an identity provider: the provider's subject (`sub`)." }),
    ),
    provider_id: Type.Optional(
      Type.String({ description: 'A user linked to an identity provider: its id (`idp_…`).' }),
    ),
  },
  { additionalProperties: false, title: 'User' },
);
export type User = Static<typeof User>;

const userFields = {
  username: Username,
  email: Type.Optional(Nullable(Email)),
  display_name: Type.Optional(Nullable(DisplayName)),
  kind: Type.Optional(UserKind),
  disabled: Type.Optional(Type.Boolean()),
  password: Type.Optional(Nullable(Password)),
};

export const CreateUserBody = Type.Object(userFields, {
  additionalProperties: false,
  title: 'CreateUserBody',
});
export type CreateUserBody = Static<typeof CreateUserBody>;

/** PUT updates the fields present and leaves the others. */
export const UpdateUserBody = Type.Object(
  {
    ...userFields,
    username: Type.Optional(Username),
    current_password: Type.Optional(
      Str({
        minLength: 1,
        maxLength: 1024,
        writeOnly: true,
        description:
          'Your current password, when you change your own password without holding every permission you have (e.g. with a narrower token).',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1, title: 'UpdateUserBody' },
);
export type UpdateUserBody = Static<typeof UpdateUserBody>;

/** The `sort` values of the users list. */
export const USER_SORTS = [
  'username',
  '-username',
  'email',
  '-email',
  'display_name',
  '-display_name',
  'created_at',
  '-created_at',
] as const;

export const ListUsersQuery = Type.Object(
  {
    ...PageQueryFields,
    ...IncludeTotalField,
    q: Type.Optional(
      Str({
        minLength: 1,
        maxLength: 256,
        description:
          'Found anywhere in the username, the email or the display name, regardless of case and width (Unicode NFKC); `%`, `_` and `\\` match themselves.',
      }),
    ),
    kind: Type.Optional(UserKind),
    status: Type.Optional(
      StringEnum(['active', 'disabled'], {
        description:
          '`active`: users that are not disabled; `disabled`: those that are. Same as `disabled=`.',
      }),
    ),
    disabled: Type.Optional(Type.Boolean()),
    sort: Type.Optional(
      StringEnum(USER_SORTS, {
        description:
          'The order: a field, `-` for descending, the id breaking ties (email and display name regardless of case; a missing one sorts as empty). Default: creation order (by id).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ListUsersQuery = Static<typeof ListUsersQuery>;
