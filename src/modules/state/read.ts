import type { Scope } from '../../lib/permissions.js';
import { AppError } from '../../errors.js';
import type { AuditStreamsService } from '../audit-streams/service.js';
import type { AuthProvidersService } from '../auth-providers/module.js';
import type { ConfigService } from '../config/service.js';
import type { PluginsService } from '../plugins/service.js';
import type { RolesService } from '../roles/service.js';
import type { UsersService } from '../users/service.js';
import type { WebhooksService } from '../webhooks/service.js';
import { LIMITS, type StateDocument } from './schemas.js';

/** The services the state is read through (their list reads only). */
export type StateSources = {
  users: Pick<UsersService, 'list'>;
  roles: Pick<RolesService, 'list' | 'members'>;
  webhooks: Pick<WebhooksService, 'list'>;
  plugins: Pick<PluginsService, 'list'>;
  providers: Pick<AuthProvidersService, 'list'>;
  streams: Pick<AuditStreamsService, 'list'>;
  config: Pick<ConfigService, 'get'>;
};

type Page<T> = { data: T[]; next_cursor: string | null };

/** The ids behind the names of a read state, per list: what an apply changes. */
export type StateIds = Record<
  'roles' | 'users' | 'webhooks' | 'plugins' | 'providers' | 'streams',
  Map<string, string>
>;
const emptyIds = (): StateIds => ({
  roles: new Map(),
  users: new Map(),
  webhooks: new Map(),
  plugins: new Map(),
  providers: new Map(),
  streams: new Map(),
});
type Doc = Required<StateDocument>;

/** Every item of a listing, page by page; more than `max` is a 422 (the document would be refused too). */
async function drain<T>(
  what: string,
  max: number,
  fetch: (q: { limit: number; cursor?: string }) => Promise<Page<T>>,
): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetch({ limit: 500, ...(cursor ? { cursor } : {}) });
    out.push(...page.data);
    if (out.length > max)
      throw new AppError('unprocessable', `More than ${max} ${what}: too many for one document.`);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

const byKey =
  <T>(key: (t: T) => string) =>
  (a: T, b: T): number => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

/** Objects with their keys sorted, all the way down: two equal states serialize to equal bytes. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(obj)
      .sort()
      .map((k) => [k, sortKeys(obj[k])]),
  );
}

/** Records each item's id under its name in `into`; returns the items. */
function remember<T extends { id: string }>(
  items: T[],
  into: Map<string, string>,
  name: (t: T) => string,
): T[] {
  for (const item of items) into.set(name(item), item.id);
  return items;
}

async function readRoles(src: StateSources, ids: StateIds) {
  const roles = (await drain('roles', LIMITS.roles, (q) => src.roles.list(q))).sort(byKey((r) => r.name));
  for (const r of roles) ids.roles.set(r.name, r.id);
  const assignments: Doc['assignments'] = [];
  for (const role of roles) {
    const members = await drain('assignments', LIMITS.assignments, (q) => src.roles.members(role.id, q));
    for (const m of members) assignments.push({ user: m.username, role: role.name });
  }
  if (assignments.length > LIMITS.assignments)
    throw new AppError('unprocessable', `More than ${LIMITS.assignments} assignments.`);
  assignments.sort(byKey((a) => `${a.user}\u0000${a.role}`));
  return { roles, assignments };
}

/** The settings, `rate_limits.by_role` re-keyed from role ids to names, `by_token` left out. */
function readSettings(src: StateSources, roleNames: Map<string, string>): Doc['settings'] {
  const { rate_limits, ...rest } = src.config.get().document;
  const { by_token: _byToken, by_role, ...limits } = rate_limits;
  const named: Record<string, { max: number; window_s: number }> = {};
  for (const [id, limit] of Object.entries(by_role)) {
    const name = roleNames.get(id);
    if (name) named[name] = limit;
  }
  return { ...rest, rate_limits: { ...limits, by_role: named } };
}

/** The current state as a document (users only when asked), sorted, every object's keys sorted. */
export async function readState(src: StateSources, includeUsers: boolean): Promise<StateDocument> {
  return (await readStateWithIds(src, includeUsers)).doc;
}

/** The current state and the ids behind its names. */
export async function readStateWithIds(
  src: StateSources,
  includeUsers: boolean,
): Promise<{ doc: StateDocument; ids: StateIds }> {
  const ids = emptyIds();
  const { roles, assignments } = await readRoles(src, ids);
  const doc: StateDocument = {
    version: 1,
    roles: roles.map((r) => ({
      name: r.name,
      description: r.description,
      // Stored permissions are the scopes a role was created with, each checked then against the catalog.
      permissions: ([...r.permissions] as Scope[]).sort(),
      builtin: r.builtin,
    })),
    assignments,
    ...(includeUsers ? { users: await readUsers(src, ids) } : {}),
    webhooks: await readWebhooks(src, ids),
    plugins: await readPlugins(src, ids),
    settings: readSettings(src, new Map(roles.map((r) => [r.id, r.name]))),
    providers: await readProviders(src, ids),
    streams: remember(
      await drain('streams', LIMITS.streams, (q) => src.streams.list(q)),
      ids.streams,
      (s) => s.name,
    )
      .map((s) => ({ name: s.name, url: s.url, actions: s.actions }))
      .sort(byKey((s) => s.name)),
  };
  return { doc: sortKeys(doc) as StateDocument, ids };
}

async function readUsers(src: StateSources, ids: StateIds): Promise<Doc['users']> {
  return remember(await drain('users', LIMITS.users, (q) => src.users.list(q)), ids.users, (u) => u.username)
    .map((u) => ({
      username: u.username,
      email: u.email,
      display_name: u.display_name,
      kind: u.kind,
      disabled: u.disabled,
    }))
    .sort(byKey((u) => u.username));
}

async function readWebhooks(src: StateSources, ids: StateIds): Promise<Doc['webhooks']> {
  return remember(
    await drain('webhooks', LIMITS.webhooks, (q) => src.webhooks.list(q)),
    ids.webhooks,
    (w) => w.url,
  )
    .map((w) => ({
      url: w.url,
      description: w.description,
      events: w.events,
      enabled: w.enabled,
      retry_schedule_s: w.retry_schedule_s,
      timeout_s: w.timeout_s,
    }))
    .sort(byKey((w) => w.url));
}

async function readPlugins(src: StateSources, ids: StateIds): Promise<Doc['plugins']> {
  return remember(
    await drain('plugins', LIMITS.plugins, (q) => src.plugins.list(q)),
    ids.plugins,
    (p) => p.name,
  )
    .map((p) => ({ name: p.name, kind: p.kind, url: p.url, enabled: p.enabled, config: p.config }))
    .sort(byKey((p) => p.name));
}

async function readProviders(src: StateSources, ids: StateIds): Promise<Doc['providers']> {
  return remember(
    await drain('providers', LIMITS.providers, (q) => src.providers.list(q)),
    ids.providers,
    (p) => p.name,
  )
    .map((p) => ({
      name: p.name,
      issuer: p.issuer,
      client_id: p.client_id,
      scopes: p.scopes,
      role_mapping: p.role_mapping,
      jit: p.jit,
      default_roles: p.default_roles,
      email_domains: p.email_domains,
      enabled: p.enabled,
    }))
    .sort(byKey((p) => p.name));
}
