import { Type, type Static } from 'typebox';
import { IncludeTotalField, PageQueryFields } from '../../lib/pagination.js';
import { ALL_SCOPES, type Scope } from '../../lib/permissions.js';
import { Str, Timestamp } from '../../lib/schema.js';

/** One of the published scopes, exactly: case or whitespace variants are a 400. */
export const Permission = Type.Unsafe<Scope>(
  Type.String({
    enum: [...ALL_SCOPES],
    description:
      '`<resource>:<read|write>` over users, roles, tokens, plugins, config, audit, webhooks; `*` for all.',
  }),
);

export const Permissions = Type.Array(Permission, { uniqueItems: true, maxItems: ALL_SCOPES.length });

export const Role = Type.Object(
  {
    id: Type.String({ examples: ['role_01jd8y6v7kf3zr4x6qk9n2m1ab'] }),
    name: Type.String(),
    description: Type.String(),
    permissions: Type.Array(Type.String()),
    builtin: Type.Boolean({ description: 'admin and auditor: cannot be deleted, renamed or emptied.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { additionalProperties: false, title: 'Role' },
);
export type Role = Static<typeof Role>;

const RoleName = Str({
  minLength: 1,
  maxLength: 64,
  pattern: '^[a-z][a-z0-9._-]{0,63}$',
  description: 'Lower-case, unique.',
});
const Description = Str({ maxLength: 512 });

export const CreateRoleBody = Type.Object(
  { name: RoleName, description: Type.Optional(Description), permissions: Permissions },
  { additionalProperties: false, title: 'CreateRoleBody' },
);
export type CreateRoleBody = Static<typeof CreateRoleBody>;

export const UpdateRoleBody = Type.Object(
  {
    name: Type.Optional(RoleName),
    description: Type.Optional(Description),
    permissions: Type.Optional(Permissions),
  },
  { additionalProperties: false, minProperties: 1, title: 'UpdateRoleBody' },
);
export type UpdateRoleBody = Static<typeof UpdateRoleBody>;

export const ListRolesQuery = Type.Object(
  { ...PageQueryFields, ...IncludeTotalField },
  { additionalProperties: false },
);
export type ListRolesQuery = Static<typeof ListRolesQuery>;

export const Member = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    kind: Type.String(),
    disabled: Type.Boolean(),
    assigned_at: Timestamp,
  },
  { additionalProperties: false, title: 'RoleMember' },
);
export type Member = Static<typeof Member>;

export const UserRoleParams = Type.Object(
  { id: Type.String({ maxLength: 128 }), roleId: Type.String({ maxLength: 128 }) },
  { additionalProperties: false },
);
