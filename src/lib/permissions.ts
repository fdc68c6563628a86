/**
 * Permissions are scopes `<resource>:<read|write>`, or `*` for all. A caller's effective scopes are a set of
 * concrete scopes; `*` is kept only when the token and its owner both hold it.
 */
export const RESOURCES = [
  'users',
  'roles',
  'tokens',
  'plugins',
  'config',
  'audit',
  'webhooks',
  'auth',
] as const;
export const SCOPES = RESOURCES.flatMap((r) => [`${r}:read`, `${r}:write`] as const);
export type Scope = (typeof SCOPES)[number] | '*';
export const ALL_SCOPES: readonly Scope[] = ['*', ...SCOPES];

/** The built-in roles, with the fixed ids the identity migration gave them. */
export const BUILTIN_ROLES = {
  admin: 'role_0000000000e008000000000001',
  auditor: 'role_0000000000e008000000000002',
} as const;

/** `*` expanded to every concrete scope. */
export function expand(scopes: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const s of scopes) {
    if (s === '*') SCOPES.forEach((c) => out.add(c));
    else out.add(s);
  }
  return out;
}

/** The scopes both sides hold. `*` survives only if both hold `*`. */
export function intersect(a: readonly string[], b: readonly string[]): string[] {
  if (a.includes('*') && b.includes('*')) return ['*'];
  const eb = expand(b);
  return [...expand(a)].filter((s) => eb.has(s)).sort();
}

/** The union of several permission lists (a user's roles), normalised: `['*']` if any grants all. */
export function union(lists: Iterable<readonly string[]>): string[] {
  const out = new Set<string>();
  for (const list of lists) for (const s of list) out.add(s);
  return out.has('*') ? ['*'] : [...out].sort();
}

/** The scopes in `wanted` that `held` does not grant (empty when `held` covers them all). */
export function missing(held: readonly string[], wanted: readonly string[]): string[] {
  if (held.includes('*')) return [];
  if (wanted.includes('*')) return ['*'];
  const h = new Set(held);
  return [...new Set(wanted)].filter((s) => !h.has(s)).sort();
}
