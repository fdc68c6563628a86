import { typeid, TypeID } from 'typeid-js';

/** The only TypeID prefixes Gatehouse issues. */
export const ID_PREFIXES = [
  'user',
  'role',
  'tok',
  'sess',
  'plugin',
  'whk',
  'dlv',
  'evt',
  'stream',
  'mfa',
  'idp',
] as const;
export type IdPrefix = (typeof ID_PREFIXES)[number];

export type Ids = { next(prefix: IdPrefix): string };

/** Time-sortable, type-prefixed ids (`user_01h…`). */
export function createIds(): Ids {
  return { next: (prefix) => typeid(prefix).toString() };
}

/** True when `id` is a well-formed TypeID with this prefix; a path id that fails this is a 404. */
export function isId(prefix: IdPrefix, id: string): boolean {
  if (!id.startsWith(`${prefix}_`) || id.length !== prefix.length + 27) return false;
  try {
    return TypeID.fromString(id).getType() === prefix;
  } catch {
    return false;
  }
}
