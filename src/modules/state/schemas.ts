import { Type, type Static, type TSchema } from 'typebox';
import { Str, StringEnum } from '../../lib/schema.js';
import { SECRET_MAX_LENGTH, SECRET_MIN_LENGTH, SECRET_PATTERN } from '../../lib/standard-webhooks.js';
import { CreateAuditStreamBody } from '../audit-streams/schemas.js';
import { CreateAuthProviderBody, Domain, RoleRule } from '../auth-providers/schemas.js';
import { ConfigDocument } from '../config/schemas.js';
import { PluginFields } from '../plugins/schemas.js';
import { CreateRoleBody, Permission } from '../roles/schemas.js';
import { CreateUserBody } from '../users/schemas.js';
import { CreateWebhookBody, Schedule, TimeoutS } from '../webhooks/schemas.js';

/** Upper bounds of a document: a body past them is refused before any work (README). */
export const LIMITS = {
  roles: 1_000,
  assignments: 20_000,
  users: 10_000,
  webhooks: 10_000,
  plugins: 200,
  providers: 100,
  streams: 100,
} as const;
/** The largest plan body, in bytes. */
export const PLAN_BODY_LIMIT = 8 * 1024 * 1024;

/**
 * Each item's fields are its own API's schemas (`POST /api/<kind>`), so a document states the limits its
 * items are held to when they are applied, and no other (issue #20).
 */
const role = CreateRoleBody.properties;
const user = CreateUserBody.properties;
const webhook = CreateWebhookBody.properties;
const provider = CreateAuthProviderBody.properties;
const stream = CreateAuditStreamBody.properties;
/** A `by_role` key: a property name, matched against the roles by name when applied. */
const RoleKey = Str({ minLength: 1, maxLength: 128 });
const List = <T extends TSchema>(item: T, maxItems: number) => Type.Array(item, { maxItems });
const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);
/**
 * A signing secret to set when the item is created: write-only, never exported, ignored by the plan's compare.
 * Its limits are those of the check it meets (`whsec_` and base64 of 24 to 64 bytes).
 */
const CreateSecret = (what: string) =>
  Type.Optional(
    Str({
      minLength: SECRET_MIN_LENGTH,
      maxLength: SECRET_MAX_LENGTH,
      pattern: SECRET_PATTERN,
      writeOnly: true,
      description: `${what}, used only when the item is created; write it as \${ENV_VAR} and let the CLI fill it in.`,
    }),
  );

export const StateRole = Type.Object(
  {
    name: role.name,
    description: role.description,
    permissions: List(Permission, 500),
    builtin: Type.Optional(
      Type.Boolean({ description: 'Read only: admin and auditor (never deleted by a prune).' }),
    ),
  },
  { additionalProperties: false },
);

export const StateAssignment = Type.Object(
  { user: user.username, role: role.name },
  { additionalProperties: false, description: 'A role held by a user, both by name.' },
);

export const StateUser = Type.Object(
  {
    username: user.username,
    email: user.email,
    display_name: user.display_name,
    kind: Type.Optional(StringEnum(['human', 'service'])),
    disabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, description: 'Never a password or its hash.' },
);

export const StateWebhook = Type.Object(
  {
    url: webhook.url,
    description: webhook.description,
    events: List(webhook.events.items, 100),
    enabled: Type.Optional(Type.Boolean()),
    retry_schedule_s: Type.Optional(Nullable(Schedule)),
    timeout_s: Type.Optional(Nullable(TimeoutS)),
    secret: CreateSecret('The signing secret (whsec_…); without it one is drawn'),
  },
  { additionalProperties: false, description: 'Keyed by url (webhooks have no name); never the secret.' },
);

export const StatePlugin = Type.Object(
  {
    name: PluginFields.name,
    kind: StringEnum(['module', 'http']),
    url: Type.Optional(Nullable(PluginFields.url)),
    enabled: Type.Optional(Type.Boolean()),
    config: Type.Optional(
      Type.Object({}, { additionalProperties: true, description: 'Fields marked writeOnly are left out.' }),
    ),
  },
  { additionalProperties: false },
);

export const StateProvider = Type.Object(
  {
    name: provider.name,
    issuer: provider.issuer,
    client_id: provider.client_id,
    scopes: Type.Optional(List(provider.scopes.items, 50)),
    role_mapping: Type.Optional(List(RoleRule, 100)),
    jit: Type.Optional(Type.Boolean()),
    default_roles: Type.Optional(List(provider.default_roles.items, 50)),
    email_domains: Type.Optional(Nullable(List(Domain, 100))),
    enabled: Type.Optional(Type.Boolean()),
    client_secret: Type.Optional(
      Type.Unsafe<string>({
        ...provider.client_secret,
        description: `The client secret (required to create a provider), used only when it is created; write it as \${ENV_VAR} and let the CLI fill it in.`,
      }),
    ),
  },
  { additionalProperties: false, description: 'Never the client secret.' },
);

export const StateStream = Type.Object(
  {
    name: stream.name,
    url: stream.url,
    actions: List(stream.actions.items, 100),
    secret: CreateSecret('The signing secret (whsec_…); without it one is drawn'),
  },
  { additionalProperties: false, description: 'Never the secret.' },
);

const RateLimits = ConfigDocument.properties.rate_limits;
const { by_token: _byToken, ...rateLimitFields } = RateLimits.properties;
/** The settings, with `rate_limits.by_role` keyed by role name and no `by_token` (tokens are not exported). */
export const StateSettings = Type.Object(
  {
    ...ConfigDocument.properties,
    rate_limits: Type.Object(
      {
        ...rateLimitFields,
        by_role: Type.Record(
          RoleKey,
          Type.Object(RateLimits.properties.default.properties, { additionalProperties: false }),
          {
            default: {},
            maxProperties: LIMITS.roles,
            description: 'Per role name.',
          },
        ),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export const StateDocument = Type.Object(
  {
    version: Type.Literal(1),
    roles: Type.Optional(List(StateRole, LIMITS.roles)),
    assignments: Type.Optional(List(StateAssignment, LIMITS.assignments)),
    users: Type.Optional(List(StateUser, LIMITS.users)),
    webhooks: Type.Optional(List(StateWebhook, LIMITS.webhooks)),
    plugins: Type.Optional(List(StatePlugin, LIMITS.plugins)),
    settings: Type.Optional(StateSettings),
    providers: Type.Optional(List(StateProvider, LIMITS.providers)),
    streams: Type.Optional(List(StateStream, LIMITS.streams)),
  },
  {
    additionalProperties: false,
    title: 'StateDocument',
    description:
      'The declarative state, every item keyed by its name (a webhook by its url). A list left out is not managed.',
  },
);
export type StateDocument = Static<typeof StateDocument>;

export const ExportQuery = Type.Object(
  { include: Type.Optional(Type.Literal('users', { description: '`users`: add the users.' })) },
  { additionalProperties: false },
);

export const PlanBody = Type.Object(
  {
    document: StateDocument,
    prune: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'Delete what a listed kind holds and the document does not.',
      }),
    ),
  },
  { additionalProperties: false, title: 'PlanBody' },
);
export type PlanBody = Static<typeof PlanBody>;

export const PlanChange = Type.Object(
  {
    kind: Type.String(),
    key: Type.String(),
    op: StringEnum(['create', 'update', 'delete', 'unchanged']),
    diff: Type.Array(
      Type.Object(
        {
          op: StringEnum(['add', 'remove', 'replace']),
          path: Type.String(),
          value: Type.Optional(Type.Unknown()),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type PlanChange = Static<typeof PlanChange>;

export const Plan = Type.Object(
  {
    snapshot: Type.String({
      description: 'The version of the state the plan was computed against (the future If-Match of apply).',
    }),
    changes: Type.Array(PlanChange),
  },
  { additionalProperties: false, title: 'Plan' },
);
export type Plan = Static<typeof Plan>;

export const Applied = Type.Object(
  {
    previous: Type.String({ description: 'The snapshot the document was applied to (the If-Match sent).' }),
    event_id: Type.String({
      description: 'The `config.apply` audit event (`evt_…`) whose `after.events` names every change made.',
    }),
    changes: Type.Array(PlanChange, { description: 'What was done: the plan, as applied.' }),
  },
  { additionalProperties: false, title: 'Applied' },
);
export type Applied = Static<typeof Applied>;
