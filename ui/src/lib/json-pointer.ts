/** Writes `value` at a JSON Pointer inside a copy of `doc`, creating objects on the way. */
export function setAt(doc: unknown, pointer: string, value: unknown): unknown {
  const keys = pointer
    .split('/')
    .slice(1)
    .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  const root = structuredClone(doc ?? {}) as Record<string, unknown>;
  let node = root;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) {
      // Reflect.deleteProperty: the key comes from a pointer, so it is dynamic by nature.
      if (value === undefined) Reflect.deleteProperty(node, key);
      else node[key] = value;
      return;
    }
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  });
  return root;
}
