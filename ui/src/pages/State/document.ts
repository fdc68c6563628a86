import { setAt } from '../../lib/json-pointer.ts';

export type Op = 'create' | 'update' | 'delete' | 'unchanged';
export const OPS: readonly Op[] = ['create', 'update', 'delete', 'unchanged'];
export type Counts = Record<Op, number>;

/** What a pasted or uploaded document turned into: the value, or why it could not be read. */
export type Parsed = { ok: true; document: Record<string, unknown> } | { ok: false; reason: string };

/**
 * JSON, or else YAML (the export's other format). The YAML parser is fetched only when the text is not JSON,
 * so a JSON document costs no extra download.
 */
export async function parseDocument(text: string): Promise<Parsed> {
  if (!text.trim()) return { ok: false, reason: 'Paste a document or upload a file first.' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const { parse, YAMLError } = await import('yaml');
    try {
      value = parse(text, { uniqueKeys: true, maxAliasCount: 100 });
    } catch (err) {
      const at = err instanceof YAMLError && err.linePos ? ` (line ${err.linePos[0].line})` : '';
      return { ok: false, reason: `The document is neither valid JSON nor valid YAML${at}.` };
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return { ok: false, reason: 'The document must be an object with "version": 1, as the export is.' };
  return { ok: true, document: value as Record<string, unknown> };
}

export function countOps(changes: readonly { op: Op }[]): Counts {
  const counts: Counts = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const c of changes) counts[c.op]++;
  return counts;
}

const NOUN: Record<Op, [string, string]> = {
  create: ['creation', 'creations'],
  update: ['update', 'updates'],
  delete: ['deletion', 'deletions'],
  unchanged: ['unchanged item', 'unchanged items'],
};

/** "2 creations, 1 update and 1 deletion": the changes an apply would make, for people. */
export function describeCounts(counts: Counts): string {
  const parts = (['create', 'update', 'delete'] as const)
    .filter((op) => counts[op] > 0)
    .map((op) => `${counts[op]} ${NOUN[op][counts[op] === 1 ? 0 : 1]}`);
  const last = parts.pop();
  if (last === undefined) return 'no changes';
  return parts.length === 0 ? last : `${parts.join(', ')} and ${last}`;
}

// The key each list's items are known by (DESIGN.md, export/plan); a webhook has no name, so its url.
const LISTS: Record<string, { kind: string; key: (item: Record<string, unknown>) => unknown }> = {
  roles: { kind: 'Role', key: (i) => i.name },
  users: { kind: 'User', key: (i) => i.username },
  assignments: { kind: 'Assignment', key: (i) => `${String(i.user)} → ${String(i.role)}` },
  webhooks: { kind: 'Webhook', key: (i) => i.url },
  plugins: { kind: 'Plugin', key: (i) => i.name },
  providers: { kind: 'Identity provider', key: (i) => i.name },
  streams: { kind: 'Audit stream', key: (i) => i.name },
};

const unescape = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

/**
 * Where a problem's JSON Pointer points, in the words of the document: `/document/roles/3/permissions` becomes
 * `Role "ops" › permissions` when the fourth role is named ops.
 */
export function describePointer(document: unknown, pointer: string): string {
  const parts = pointer.split('/').slice(1).map(unescape);
  if (parts[0] === 'document') parts.shift();
  if (parts.length === 0) return 'The document';
  const [list, index, ...rest] = parts;
  const known = list !== undefined ? LISTS[list] : undefined;
  const items = (document as Record<string, unknown> | null)?.[list ?? ''];
  let head = list === 'settings' ? 'Settings' : (list ?? '');
  if (known && index !== undefined && /^\d+$/.test(index)) {
    const item = Array.isArray(items)
      ? (items[Number(index)] as Record<string, unknown> | undefined)
      : undefined;
    const key = item && typeof item === 'object' ? known.key(item) : undefined;
    head =
      typeof key === 'string' && key
        ? `${known.kind} "${key}"`
        : `${known.kind} ${Number(index) + 1} of the list`;
  } else if (index !== undefined) {
    rest.unshift(index);
  }
  return [head, ...rest].join(' › ');
}

/** Saves `text` as a file through a temporary link. */
export function download(text: string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

const ENV_REFERENCE = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/;
const escapeKey = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Where the document writes `${NAME}`: the CLI fills these from its environment, the console cannot, and a
 * secret sent as the literal text would be a wrong secret. Pointers are as the API gives them (`/document/…`).
 */
export function envReferences(document: unknown): { pointer: string; reference: string }[] {
  const found: { pointer: string; reference: string }[] = [];
  // Iterative, so a deeply nested paste cannot overflow the stack.
  const stack: [unknown, string][] = [[document, '/document']];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [value, pointer] = next;
    if (typeof value === 'string') {
      const match = ENV_REFERENCE.exec(value);
      if (match) found.push({ pointer, reference: match[0] });
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) stack.push([v, `${pointer}/${escapeKey(k)}`]);
    }
  }
  return found.sort((a, b) => a.pointer.localeCompare(b.pointer));
}

type Item = Record<string, unknown>;
// Where an item of each plan kind sits in an export, and its key there (the plan's `key`).
const KIND_LIST: Record<string, { list: string; key: (item: Item) => string }> = {
  role: { list: 'roles', key: (i) => String(i.name) },
  assignment: { list: 'assignments', key: (i) => `${String(i.user)}/${String(i.role)}` },
  user: { list: 'users', key: (i) => String(i.username) },
  webhook: { list: 'webhooks', key: (i) => String(i.url) },
  plugin: { list: 'plugins', key: (i) => String(i.name) },
  provider: { list: 'providers', key: (i) => String(i.name) },
  stream: { list: 'streams', key: (i) => String(i.name) },
};

/** The item a change is about as the current export has it (undefined when it is not there). */
export function currentItem(current: Item | null, kind: string, key: string): unknown {
  if (!current) return undefined;
  if (kind === 'settings') return current.settings;
  const where = KIND_LIST[kind];
  const list = where ? current[where.list] : undefined;
  return Array.isArray(list) ? (list as Item[]).find((i) => where?.key(i) === key) : undefined;
}

type Patch = { op: 'add' | 'remove' | 'replace'; path: string; value?: unknown }[];

/**
 * A change as before and after values: a create from nothing, a delete to nothing, an update as the current
 * item with the plan's operations applied (`{}` when the current item is not known: then only what changes).
 */
export function beforeAfter(
  change: { op: Op; diff: Patch },
  before: unknown,
): { before: unknown; after: unknown } {
  if (change.op === 'create') return { before: null, after: change.diff[0]?.value ?? null };
  if (change.op === 'delete') return { before: before ?? null, after: null };
  let after: unknown = before ?? {};
  for (const d of change.diff) after = setAt(after, d.path, d.op === 'remove' ? undefined : d.value);
  return { before: before ?? {}, after };
}
