import { Type, type Static } from 'typebox';
import { IncludeTotalField, PageQueryFields } from '../../lib/pagination.js';
import { Str, Timestamp, StringEnum } from '../../lib/schema.js';

const Name = Str({ minLength: 2, maxLength: 63, pattern: '^[a-z][a-z0-9-]{1,62}$' });
/** An http plugin's endpoint. */
const Url = Str({ minLength: 8, maxLength: 2048 });
/** A plugin's name and an http plugin's url, as the state document holds them (the same limits). */
export const PluginFields = { name: Name, url: Url };
const HookList = Type.Array(Str({ maxLength: 100, pattern: '^(\\*|[a-z_]+\\.(\\*|[a-z_]+))$' }), {
  maxItems: 100,
  uniqueItems: true,
});

export const Manifest = Type.Object(
  {
    name: Name,
    version: Str({
      maxLength: 64,
      pattern: '^\\d+\\.\\d+\\.\\d+(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$',
      description: 'Semantic version.',
    }),
    description: Type.Optional(Str({ maxLength: 1000 })),
    hooks: Type.Optional(
      Type.Object(
        { before: Type.Optional(HookList), after: Type.Optional(HookList) },
        { additionalProperties: false },
      ),
    ),
    config_schema: Type.Optional(
      Type.Object(
        {},
        { additionalProperties: true, description: 'JSON Schema 2020-12; remote $ref is refused.' },
      ),
    ),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    failure_policy: Type.Optional(StringEnum(['fail', 'ignore'])),
    order: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000 })),
    audit_stream: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, title: 'PluginManifest' },
);
export type Manifest = Static<typeof Manifest>;

export const Plugin = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    kind: StringEnum(['module', 'http']),
    url: Type.Union([Type.String(), Type.Null()]),
    manifest: Type.Object({}, { additionalProperties: true }),
    enabled: Type.Boolean(),
    config: Type.Object(
      {},
      { additionalProperties: true, description: 'Fields the schema marks writeOnly are never shown.' },
    ),
    config_version: Type.Integer(),
    health: Type.Object(
      {
        calls: Type.Integer(),
        failures: Type.Integer(),
        last_error: Type.Union([Type.String(), Type.Null()]),
        p99_ms: Type.Union([Type.Number(), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    created_at: Timestamp,
    updated_at: Timestamp,
    created_by: Type.Union([Type.String(), Type.Null()], {
      description:
        'The user whose current read permissions filter what the after-hooks and audit feed receive (set on register and by a config change); null: they receive nothing.',
    }),
  },
  { additionalProperties: false, title: 'Plugin' },
);
export type Plugin = Static<typeof Plugin>;

export const PluginWithSecret = Type.Object(
  {
    ...Plugin.properties,
    secret: Type.Union([Type.String(), Type.Null()], {
      description: 'http plugins: the whsec_ secret that signs calls to it; shown once.',
    }),
  },
  { additionalProperties: false, title: 'PluginWithSecret' },
);

export const RegisterPluginBody = Type.Union(
  [
    Type.Object(
      {
        kind: Type.Literal('module'),
        name: Name,
        config: Type.Optional(Type.Object({}, { additionalProperties: true })),
        enabled: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        kind: Type.Literal('http'),
        url: Url,
        manifest: Manifest,
        config: Type.Optional(Type.Object({}, { additionalProperties: true })),
        enabled: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
  ],
  { title: 'RegisterPluginBody' },
);
export type RegisterPluginBody = Static<typeof RegisterPluginBody>;

export const ConfigBody = Type.Object({}, { additionalProperties: true, title: 'PluginConfig' });
export const DryRunQuery = Type.Object(
  { dry_run: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);
export const ListQuery = Type.Object(
  { ...PageQueryFields, ...IncludeTotalField },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;
