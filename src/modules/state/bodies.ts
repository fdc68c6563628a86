import type { ValidateFunction } from 'ajv';
import type { TSchema } from 'typebox';
import { AppError, type FieldError } from '../../errors.js';
import { makeAjv } from '../../lib/ajv.js';
import { toFieldErrors } from '../../lib/field-errors.js';
import { UpdateAuthProviderBody } from '../auth-providers/schemas.js';
import { CreateAuditStreamBody } from '../audit-streams/schemas.js';
import { CreateRoleBody } from '../roles/schemas.js';
import { CreateUserBody, USERNAME_PATTERN } from '../users/schemas.js';
import { CreateWebhookBody } from '../webhooks/schemas.js';
import type { StateDocument } from './schemas.js';

export type Item = Record<string, unknown>;
export type ListKind = 'roles' | 'users' | 'webhooks' | 'plugins' | 'providers' | 'streams';

/** The fields of `item` named in `keys` that it has (an absent field is left as it is). */
function pick(item: Item, keys: readonly string[]): Item {
  const out: Item = {};
  for (const k of keys) if (item[k] !== undefined) out[k] = item[k];
  return out;
}

const ROLE = ['description', 'permissions'] as const;
const USER = ['email', 'display_name', 'kind', 'disabled'] as const;
const WEBHOOK = ['url', 'description', 'events', 'enabled', 'retry_schedule_s', 'timeout_s'] as const;
const PROVIDER = [
  'issuer',
  'client_id',
  'scopes',
  'role_mapping',
  'jit',
  'default_roles',
  'email_domains',
  'enabled',
] as const;
const STREAM = ['url', 'actions'] as const;

/**
 * How each kind's item becomes the body its own API takes, for a create and for an update: a document's
 * item is held to the same schema as that body (the same limits and patterns as `POST /api/<kind>`).
 */
export const BODIES: Record<ListKind, { create: (i: Item) => Item; update: (i: Item) => Item }> = {
  roles: {
    create: (i) => ({ name: i.name, ...pick(i, ROLE), permissions: uniq(i.permissions) }),
    update: (i) => ({ ...pick(i, ROLE), permissions: uniq(i.permissions) }),
  },
  users: { create: (i) => ({ username: i.username, ...pick(i, USER) }), update: (i) => pick(i, USER) },
  webhooks: { create: (i) => pick(i, WEBHOOK), update: (i) => pick(i, WEBHOOK.slice(1)) },
  plugins: {
    create: (i) => ({ kind: i.kind, name: i.name, ...pick(i, ['config', 'enabled']) }),
    update: (i) => pick(i, ['config', 'enabled']),
  },
  providers: {
    create: (i) => ({ name: i.name, ...pick(i, [...PROVIDER, 'client_secret']) }),
    update: (i) => pick(i, PROVIDER),
  },
  streams: { create: (i) => ({ name: i.name, ...pick(i, STREAM) }), update: (i) => pick(i, STREAM) },
};

const uniq = (v: unknown) => [...new Set(v as string[])];

/** What an item is checked against: its kind's create body (a provider's secret may be left out). */
const CHECKED: Partial<Record<ListKind, TSchema>> = {
  roles: CreateRoleBody,
  users: CreateUserBody,
  webhooks: CreateWebhookBody,
  providers: UpdateAuthProviderBody,
  streams: CreateAuditStreamBody,
};

let compiled: Map<ListKind, ValidateFunction> | undefined;
function validators(): Map<ListKind, ValidateFunction> {
  if (compiled) return compiled;
  const ajv = makeAjv(false);
  compiled = new Map(Object.entries(CHECKED).map(([k, schema]) => [k as ListKind, ajv.compile(schema)]));
  return compiled;
}

/**
 * Every item of the document as its kind's API would take it: a 400 with a pointer per failing item
 * (`/document/users/3/username`), the first error of each. A plugin's config is checked by the plugin's own
 * schema when it is applied.
 */
export function assertItemsValid(doc: StateDocument): void {
  const errors: FieldError[] = [];
  for (const [kind, validate] of validators()) {
    (doc[kind] as Item[] | undefined)?.forEach((item, i) => {
      if (validate(structuredClone(BODIES[kind].create(item)))) return;
      for (const e of toFieldErrors(validate.errors ?? [], 'body'))
        errors.push({ ...e, pointer: `/document/${kind}/${i}${e.pointer}` });
    });
  }
  errors.push(...usernameErrors(doc));
  if (errors.length > 0)
    throw new AppError('validation_failed', 'Items of the document are not valid.', { errors });
}

/** Usernames as the API stores them (NFKC, lower case), or the plan would never find them. */
function usernameErrors(doc: StateDocument): FieldError[] {
  const errors: FieldError[] = [];
  const check = (name: string, pointer: string) => {
    const normal = name.normalize('NFKC').toLowerCase();
    if (normal !== name)
      errors.push({ in: 'body', pointer, message: `write it as it is stored: "${normal}"` });
    else if (!USERNAME_PATTERN.test(name))
      errors.push({ in: 'body', pointer, message: '1–64 characters of a-z 0-9 . _ - @' });
  };
  doc.users?.forEach((u, i) => check(u.username, `/document/users/${i}/username`));
  doc.assignments?.forEach((a, i) => check(a.user, `/document/assignments/${i}/user`));
  return errors;
}
