import { AppError, type FieldError } from '../../errors.js';
import { diff } from '../../lib/json-patch.js';
import { sortKeys } from './read.js';
import type { PlanChange, StateDocument } from './schemas.js';

type ListKind = 'roles' | 'assignments' | 'users' | 'webhooks' | 'plugins' | 'providers' | 'streams';
type Item = Record<string, unknown>;

/** Each list of the document: its change kind and the natural key of an item. */
const KINDS: readonly { list: ListKind; kind: string; key: (i: Item) => string; field: string }[] = [
  { list: 'roles', kind: 'role', key: (i) => String(i.name), field: 'name' },
  { list: 'assignments', kind: 'assignment', key: (i) => `${String(i.user)}/${String(i.role)}`, field: '' },
  { list: 'users', kind: 'user', key: (i) => String(i.username), field: 'username' },
  { list: 'webhooks', kind: 'webhook', key: (i) => String(i.url), field: 'url' },
  { list: 'plugins', kind: 'plugin', key: (i) => String(i.name), field: 'name' },
  { list: 'providers', kind: 'provider', key: (i) => String(i.name), field: 'name' },
  { list: 'streams', kind: 'stream', key: (i) => String(i.name), field: 'name' },
];

const fieldError = (pointer: string, message: string): FieldError => ({
  in: 'body',
  pointer: `/document${pointer}`,
  message,
});

/** Two items of one list with the same key: a 400 naming each repeat. */
export function assertUniqueKeys(doc: StateDocument): void {
  const errors: FieldError[] = [];
  for (const { list, key, field } of KINDS) {
    const seen = new Set<string>();
    (doc[list] as Item[] | undefined)?.forEach((item, i) => {
      const k = key(item);
      if (seen.has(k)) errors.push(fieldError(`/${list}/${i}${field ? `/${field}` : ''}`, `Repeats ${k}.`));
      seen.add(k);
    });
  }
  if (errors.length > 0)
    throw new AppError('validation_failed', 'The document names an item twice.', { errors });
}

/**
 * Names the document refers to must exist after the plan: in the document, or in the current state when the
 * document leaves that list out or keeps it without prune (built-in roles always stay). A 422 with pointers.
 */
export function assertReferences(doc: StateDocument, current: StateDocument, prune: boolean): void {
  const known = (list: 'roles' | 'users', key: (i: Item) => string, keep: (i: Item) => boolean) => {
    const names = new Set<string>();
    const targetList = doc[list] as Item[] | undefined;
    for (const i of (current[list] ?? []) as Item[]) if (!targetList || !prune || keep(i)) names.add(key(i));
    for (const i of targetList ?? []) names.add(key(i));
    return names;
  };
  const roles = known(
    'roles',
    (r) => String(r.name),
    (r) => r.builtin === true,
  );
  const users = known(
    'users',
    (u) => String(u.username),
    () => false,
  );
  const errors: FieldError[] = [];
  doc.assignments?.forEach((a, i) => {
    if (!users.has(a.user)) errors.push(fieldError(`/assignments/${i}/user`, `No user ${a.user}.`));
    if (!roles.has(a.role)) errors.push(fieldError(`/assignments/${i}/role`, `No role ${a.role}.`));
  });
  doc.providers?.forEach((p, i) => {
    p.role_mapping?.forEach((r, j) => {
      if (!roles.has(r.role))
        errors.push(fieldError(`/providers/${i}/role_mapping/${j}/role`, `No role ${r.role}.`));
    });
    p.default_roles?.forEach((r, j) => {
      if (!roles.has(r)) errors.push(fieldError(`/providers/${i}/default_roles/${j}`, `No role ${r}.`));
    });
  });
  for (const name of Object.keys(doc.settings?.rate_limits.by_role ?? {}))
    if (!roles.has(name))
      errors.push(fieldError(`/settings/rate_limits/by_role/${escape(name)}`, `No role ${name}.`));
  if (errors.length > 0)
    throw new AppError('unprocessable', 'The document refers to names that would not exist.', { errors });
}

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * What a compared item is: read-only markers and create-only secrets left out (a plan never shows a secret),
 * role permissions as a sorted set.
 */
function normalize(kind: string, item: Item): Item {
  const { builtin: _builtin, secret: _secret, client_secret: _clientSecret, ...rest } = item;
  if (kind !== 'role') return sortKeys(rest) as Item;
  return sortKeys({ ...rest, permissions: [...new Set(rest.permissions as string[])].sort() }) as Item;
}

/**
 * Items the document would create that cannot be created from a document: a provider without its
 * `client_secret`, an `http` plugin (its manifest is registered through `POST /api/plugins`). A 422 with a
 * pointer per item.
 */
export function assertCreatable(doc: StateDocument, current: StateDocument): void {
  const errors: FieldError[] = [];
  const providers = new Set((current.providers ?? []).map((p) => p.name));
  doc.providers?.forEach((p, i) => {
    if (!providers.has(p.name) && !p.client_secret)
      errors.push(fieldError(`/providers/${i}/client_secret`, 'is required to create a provider'));
  });
  const plugins = new Set((current.plugins ?? []).map((p) => p.name));
  doc.plugins?.forEach((p, i) => {
    if (!plugins.has(p.name) && p.kind === 'http')
      errors.push(
        fieldError(
          `/plugins/${i}/kind`,
          'an http plugin is registered with its manifest (POST /api/plugins)',
        ),
      );
  });
  if (errors.length > 0)
    throw new AppError('unprocessable', 'The document would create what it cannot describe.', { errors });
}

function compare(kind: string, key: string, from: Item | undefined, to: Item): PlanChange {
  if (!from) return { kind, key, op: 'create', diff: [{ op: 'add', path: '', value: to }] };
  const ops = diff(from, to);
  return { kind, key, op: ops.length ? 'update' : 'unchanged', diff: ops };
}

/** The changes turning `current` into `doc`, kind by kind, each kind sorted by key. */
export function planChanges(doc: StateDocument, current: StateDocument, prune: boolean): PlanChange[] {
  const changes: PlanChange[] = [];
  for (const { list, kind, key } of KINDS) {
    const target = doc[list] as Item[] | undefined;
    if (!target) continue;
    const now = new Map(((current[list] ?? []) as Item[]).map((i) => [key(i), i]));
    const out: PlanChange[] = [];
    const wanted = new Set<string>();
    for (const item of target) {
      const k = key(item);
      wanted.add(k);
      const from = now.get(k);
      // Fields a document leaves out keep their current value (an update names only what it gives).
      const to = normalize(kind, from ? { ...from, ...item } : item);
      out.push(compare(kind, k, from && normalize(kind, from), to));
    }
    if (prune)
      for (const [k, item] of now)
        if (!wanted.has(k) && !(kind === 'role' && item.builtin === true))
          out.push({ kind, key: k, op: 'delete', diff: [{ op: 'remove', path: '' }] });
    changes.push(...out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)));
  }
  if (doc.settings)
    changes.push(compare('settings', 'settings', current.settings, sortKeys(doc.settings) as Item));
  return changes;
}
