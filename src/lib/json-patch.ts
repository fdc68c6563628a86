/** JSON Merge Patch (RFC 7396) and a JSON Patch (RFC 6902) diff, for plain JSON values. */

export type PatchOp = { op: 'add' | 'remove' | 'replace'; path: string; value?: unknown };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Applies a merge patch: objects merge, `null` deletes, anything else replaces. Never mutates. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) Reflect.deleteProperty(out, key);
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The RFC 6902 operations that turn `from` into `to`; arrays are replaced whole. Keys in sorted order. */
export function diff(from: unknown, to: unknown, path = ''): PatchOp[] {
  if (equal(from, to)) return [];
  if (!isObject(from) || !isObject(to)) return [{ op: 'replace', path, value: to }];
  const ops: PatchOp[] = [];
  const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
  for (const key of keys) {
    const p = `${path}/${escape(key)}`;
    if (!(key in to)) ops.push({ op: 'remove', path: p });
    else if (!(key in from)) ops.push({ op: 'add', path: p, value: to[key] });
    else ops.push(...diff(from[key], to[key], p));
  }
  return ops;
}
