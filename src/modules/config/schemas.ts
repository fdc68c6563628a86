import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { PageQueryFields } from '../../lib/pagination.js';
import { MAX_INT4, Timestamp, StringEnum } from '../../lib/schema.js';
import { PASSWORD_MIN_LENGTH_DEFAULT, PASSWORD_MIN_LENGTH_FLOOR } from '../users/schemas.js';

const Limit = Type.Object(
  {
    max: Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Requests allowed per window.' }),
    window_s: Type.Integer({ minimum: 1, maximum: 86_400, description: 'Window length in seconds.' }),
  },
  { additionalProperties: false },
);
export type Limit = Static<typeof Limit>;

const limitWithDefault = (max: number, windowS: number, description: string) =>
  Type.Object(Limit.properties, {
    additionalProperties: false,
    default: { max, window_s: windowS },
    description,
  });

const limitMap = (idPattern: string, description: string) =>
  Type.Record(Type.String({ pattern: idPattern }), Limit, {
    default: {},
    description,
    additionalProperties: false,
  });

/** The system's settings: one document, every version kept. Defaults fill anything left out of a PUT. */
export const ConfigDocument = Type.Object(
  {
    rate_limits: Type.Object(
      {
        enabled: Type.Boolean({
          default: true,
          description: 'Turn the API rate limiter off entirely (not for production).',
        }),
        default: limitWithDefault(600, 60, 'Per token.'),
        anonymous: limitWithDefault(60, 60, 'Per IP, for requests without a valid token.'),
        login: limitWithDefault(10, 300, 'POST /api/auth/login per IP and username.'),
        by_role: limitMap(
          '^role_[0-9a-z]{26}$',
          'Per token whose owner has the role; several roles: the most generous.',
        ),
        by_token: limitMap('^tok_[0-9a-z]{26}$', 'Per token, overriding everything else.'),
        store_failure: StringEnum(['local', 'open', 'closed'], {
          default: 'local',
          description:
            'When Redis is unreachable: local counts per instance, open allows, closed answers 503.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    tokens: Type.Object(
      {
        default_ttl_days: Type.Integer({ minimum: 1, maximum: 3660, default: 30 }),
        max_ttl_days: Type.Integer({ minimum: 1, maximum: 3660, default: 366 }),
      },
      { additionalProperties: false, default: {} },
    ),
    sessions: Type.Object(
      { ttl_minutes: Type.Integer({ minimum: 5, maximum: 43_200, default: 480 }) },
      { additionalProperties: false, default: {} },
    ),
    auth: Type.Object(
      {
        sso_only: Type.Boolean({
          default: false,
          description:
            'Humans sign in through an identity provider only: password sign-in is refused (API tokens and the bootstrap token still work, for recovery).',
        }),
        public_url: Type.Union(
          [Type.String({ pattern: '^https?://[^/?#\\s]+$', maxLength: 255 }), Type.Null()],
          {
            default: null,
            description:
              'The origin people reach Gatehouse at (https://gatehouse.example.com, no path): OIDC redirect URIs are <public_url>/api/auth/oidc/{id}/callback and passkeys are bound to its host. Unset: taken from each request (local setups only).',
          },
        ),
        require_mfa_for_roles: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
          default: [],
          maxItems: 100,
          uniqueItems: true,
          description:
            'Role names whose members must have a second factor: a member without one may only enrol a factor until they do.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    passwords: Type.Object(
      {
        min_length: Type.Integer({
          minimum: PASSWORD_MIN_LENGTH_FLOOR,
          maximum: 256,
          default: PASSWORD_MIN_LENGTH_DEFAULT,
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    audit: Type.Object(
      {
        retention_days: Type.Integer({ minimum: 1, maximum: 36_500, default: 365 }),
        log_reads: Type.Boolean({ default: false, description: 'Audit successful reads too.' }),
      },
      { additionalProperties: false, default: {} },
    ),
    webhooks: Type.Object(
      {
        timeout_s: Type.Integer({ minimum: 1, maximum: 60, default: 15 }),
        retry_schedule_s: Type.Array(Type.Integer({ minimum: 0, maximum: 7 * 86_400 }), {
          minItems: 1,
          maxItems: 20,
          default: [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000],
        }),
        disable_after_days: Type.Integer({ minimum: 1, maximum: 90, default: 5 }),
        allow_private_targets: Type.Boolean({
          default: false,
          description: 'Allow loopback and private addresses (local setups, tests).',
        }),
        retention_days: Type.Integer({
          minimum: 1,
          maximum: 36_500,
          default: 30,
          description:
            'Days a finished delivery (succeeded, or failed with its schedule spent) is kept with its attempts, and a sent event for recover.',
        }),
        max_endpoints: Type.Integer({
          minimum: 1,
          maximum: 10_000,
          default: 100,
          description:
            'Webhook endpoints that may exist at once; creating one more is a 409 webhook.limit_reached.',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, title: 'ConfigDocument' },
);
export type ConfigDocument = Static<typeof ConfigDocument>;

/** The document with every default filled in. */
export function withDefaults(doc: unknown): unknown {
  return Value.Default(ConfigDocument, structuredClone(doc ?? {}));
}

export const DEFAULT_CONFIG = withDefaults({}) as ConfigDocument;

const Patch = Type.Array(
  Type.Object(
    { op: Type.String(), path: Type.String(), value: Type.Optional(Type.Unknown()) },
    { additionalProperties: false },
  ),
);

export const ConfigChange = Type.Object(
  { version: Type.Integer(), dry_run: Type.Boolean(), document: ConfigDocument, diff: Patch },
  { additionalProperties: false, title: 'ConfigChange' },
);

export const ConfigVersion = Type.Object(
  {
    version: Type.Integer(),
    created_at: Timestamp,
    actor: Type.String(),
    actor_name: Type.Union([Type.String(), Type.Null()]),
    diff: Patch,
  },
  { additionalProperties: false, title: 'ConfigVersion' },
);
export type ConfigVersion = Static<typeof ConfigVersion>;

export const DryRunQuery = Type.Object(
  { dry_run: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);
export const HistoryQuery = Type.Object({ ...PageQueryFields }, { additionalProperties: false });
export const VersionParams = Type.Object(
  { v: Type.Integer({ minimum: 1, maximum: MAX_INT4 }) },
  { additionalProperties: false },
);
export const RollbackBody = Type.Object(
  { version: Type.Integer({ minimum: 1, maximum: MAX_INT4 }) },
  { additionalProperties: false, title: 'RollbackBody' },
);
export const IfMatchHeaders = Type.Object({ 'if-match': Type.Optional(Type.String({ maxLength: 100 })) });
