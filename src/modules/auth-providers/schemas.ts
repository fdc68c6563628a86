import { Type, type Static } from 'typebox';
import { PageQueryFields } from '../../lib/pagination.js';
import { Nullable, Str, Timestamp } from '../../lib/schema.js';

const RoleName = Str({ minLength: 1, maxLength: 64, description: 'A role name.' });
export const Domain = Str({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.-]+$' });
const Scope = Str({ minLength: 1, maxLength: 64, pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$' });

export const RoleRule = Type.Union(
  [
    Type.Object(
      {
        claim: Str({ minLength: 1, maxLength: 128 }),
        contains: Str({ minLength: 1, maxLength: 256 }),
        role: RoleName,
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        claim: Str({ minLength: 1, maxLength: 128 }),
        equals: Str({ minLength: 1, maxLength: 256 }),
        role: RoleName,
      },
      { additionalProperties: false },
    ),
  ],
  {
    title: 'RoleRule',
    description:
      'Grants `role` while the claim (ID token claims merged with userinfo) matches: `contains` for a list claim (e.g. groups), `equals` for a string. Checked at every sign-in; a role named here is taken away when no rule for it matches.',
  },
);
export type RoleRule = Static<typeof RoleRule>;

const providerFields = {
  name: Str({ minLength: 1, maxLength: 64, examples: ['corp-sso'] }),
  issuer: Str({
    minLength: 1,
    maxLength: 2048,
    description:
      'The OpenID issuer URL (discovery at <issuer>/.well-known/openid-configuration). https; http only on loopback with webhooks.allow_private_targets. SSRF-guarded.',
  }),
  client_id: Str({ minLength: 1, maxLength: 256 }),
  client_secret: Str({
    minLength: 1,
    maxLength: 1024,
    writeOnly: true,
    description: 'Write-only: stored encrypted, never shown again.',
  }),
  scopes: Type.Optional(
    Type.Array(Scope, {
      minItems: 1,
      maxItems: 32,
      uniqueItems: true,
      default: ['openid', 'email', 'profile'],
    }),
  ),
  role_mapping: Type.Optional(Type.Array(RoleRule, { maxItems: 100 })),
  jit: Type.Optional(
    Type.Boolean({ description: 'Create unknown users at their first sign-in (just-in-time).' }),
  ),
  default_roles: Type.Optional(Type.Array(RoleName, { maxItems: 50, uniqueItems: true })),
  email_domains: Type.Optional(
    Nullable(
      Type.Array(Domain, {
        maxItems: 100,
        uniqueItems: true,
        description: 'Only people whose email is in one of these domains may sign in; null: anyone.',
      }),
    ),
  ),
  enabled: Type.Optional(Type.Boolean()),
};

export const CreateAuthProviderBody = Type.Object(providerFields, {
  additionalProperties: false,
  title: 'CreateAuthProviderBody',
});
export type CreateAuthProviderBody = Static<typeof CreateAuthProviderBody>;

/** PUT updates the fields present; without `client_secret` the stored one is kept. */
export const UpdateAuthProviderBody = Type.Object(
  {
    ...providerFields,
    name: Type.Optional(providerFields.name),
    issuer: Type.Optional(providerFields.issuer),
    client_id: Type.Optional(providerFields.client_id),
    client_secret: Type.Optional(providerFields.client_secret),
  },
  { additionalProperties: false, minProperties: 1, title: 'UpdateAuthProviderBody' },
);
export type UpdateAuthProviderBody = Static<typeof UpdateAuthProviderBody>;

export const AuthProvider = Type.Object(
  {
    id: Type.String({ examples: ['idp_01jd8y6v7kf3zr4x6qk9n2m1ab'] }),
    name: Type.String(),
    issuer: Type.String(),
    client_id: Type.String(),
    client_secret_set: Type.Boolean({ description: 'Always true: the secret itself is never shown.' }),
    scopes: Type.Array(Type.String()),
    role_mapping: Type.Array(RoleRule),
    jit: Type.Boolean(),
    default_roles: Type.Array(Type.String()),
    email_domains: Type.Union([Type.Array(Type.String()), Type.Null()]),
    enabled: Type.Boolean(),
    redirect_path: Type.String({
      description: 'Register <auth.public_url><redirect_path> as the redirect URI at the provider.',
    }),
    created_by: Type.Union([Type.String(), Type.Null()]),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { additionalProperties: false, title: 'AuthProvider' },
);
export type AuthProvider = Static<typeof AuthProvider>;

export const ListAuthProvidersQuery = Type.Object(PageQueryFields, { additionalProperties: false });
export type ListAuthProvidersQuery = Static<typeof ListAuthProvidersQuery>;

export const SsoStartQuery = Type.Object(
  {
    return_to: Type.Optional(
      Str({
        minLength: 1,
        maxLength: 1024,
        description:
          'A path on this server to come back to (default `/login`, the console sign-in page, which trades the ticket for a session); anything else is a 400.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SsoStartQuery = Static<typeof SsoStartQuery>;

/** The provider's answer, as the browser brings it back; its fields are checked by openid-client. */
export const SsoCallbackQuery = Type.Object(
  {
    state: Type.Optional(Str({ maxLength: 1024 })),
    code: Type.Optional(Str({ maxLength: 4096 })),
    error: Type.Optional(Str({ maxLength: 256 })),
    error_description: Type.Optional(Str({ maxLength: 1024 })),
    iss: Type.Optional(Str({ maxLength: 2048 })),
    session_state: Type.Optional(Str({ maxLength: 1024 })),
    scope: Type.Optional(Str({ maxLength: 2048 })),
  },
  {
    // Providers add parameters of their own (Google: authuser, hd, prompt); openid-client reads the whole URL.
    additionalProperties: true,
  },
);
export type SsoCallbackQuery = Static<typeof SsoCallbackQuery>;

export const SsoExchangeBody = Type.Object(
  {
    ticket: Str({
      minLength: 1,
      maxLength: 256,
      writeOnly: true,
      description: 'The one-time ticket the callback put in the URL fragment (`#sso=…`); valid 60 s.',
    }),
  },
  { additionalProperties: false, title: 'SsoExchangeBody' },
);
export type SsoExchangeBody = Static<typeof SsoExchangeBody>;

export const AuthMethods = Type.Object(
  {
    password: Type.Boolean({ description: 'False when auth.sso_only is on.' }),
    providers: Type.Array(
      Type.Object(
        { id: Type.String(), name: Type.String(), start_url: Type.String() },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, title: 'AuthMethods' },
);
export type AuthMethods = Static<typeof AuthMethods>;
