import { createHash } from 'node:crypto';
import { Type, type TSchema } from 'typebox';
import { fieldError } from '../errors.js';
import { SAFE_TEXT_PATTERN, Str, StringEnum } from '../lib/schema.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

/** The query fields every list takes. */
export const PageQueryFields = {
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_LIMIT,
      default: DEFAULT_LIMIT,
      description: 'Page size, 1 to 500.',
    }),
  ),
  cursor: Type.Optional(Str({ maxLength: 1024, description: 'The `next_cursor` of the previous page.' })),
};

/** `?include=total`, on the lists that can count: the answer then carries `total`. */
export const IncludeTotalField = {
  include: Type.Optional(
    StringEnum(['total'], {
      description:
        '`total`: the answer also carries `total`, the count of every row the filters match (not only this page).',
    }),
  ),
};

/** A list answer; `total` only when asked for with `?include=total`. */
export type PageOf<T> = { data: T[]; next_cursor: string | null; total?: number };

/** The `total` of a list asked with `?include=total`. */
export function withTotal<P extends object>(page: P, total: number | undefined): P & { total?: number } {
  return total === undefined ? page : { ...page, total };
}

/** `{ data, next_cursor }`: the shape of every list answer. */
export function Page<T extends TSchema>(item: T, title: string) {
  return Type.Object(
    { data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) },
    { additionalProperties: false, title },
  );
}

/** `Page(Item)` of a list that takes `?include=total`: `total` is there only when asked for. */
export function CountedPage<T extends TSchema>(
  item: T,
  title: string,
  totalDescription = 'With `?include=total`: how many rows match the filters, on every page alike.',
) {
  return Type.Object(
    {
      data: Type.Array(item),
      next_cursor: Type.Union([Type.String(), Type.Null()]),
      total: Type.Optional(Type.Integer({ minimum: 0, description: totalDescription })),
    },
    { additionalProperties: false, title },
  );
}

const SAFE_TEXT = new RegExp(SAFE_TEXT_PATTERN, 'u');

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 16);
}

/**
 * Encodes the last row's keyset values and a hash of the filters. The checksum makes a tampered cursor a
 * 400 rather than a silently different page; the filter hash makes reusing a cursor with other filters one.
 */
export function encodeCursor(keys: readonly (string | number)[], filters: unknown = null): string {
  const body = { k: keys, f: digest(filters) };
  return Buffer.from(JSON.stringify({ ...body, c: digest(body) })).toString('base64url');
}

/** Decodes a cursor made by `encodeCursor` with the same filters. Throws `validation_failed` otherwise. */
export function decodeCursor(cursor: string, filters: unknown = null, arity = 1): (string | number)[] {
  const bad = (why: string) => fieldError('query', '/cursor', `The cursor ${why}; start again without one.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad('is malformed');
  }
  const p = parsed as { k?: unknown; f?: unknown; c?: unknown };
  if (!p || typeof p !== 'object' || !Array.isArray(p.k) || p.k.length !== arity) throw bad('is malformed');
  // The checksum is no secret: a forged key must still be a value the database compares without an error.
  if (!p.k.every((v) => (typeof v === 'string' && SAFE_TEXT.test(v)) || Number.isSafeInteger(v)))
    throw bad('is malformed');
  if (p.c !== digest({ k: p.k, f: p.f })) throw bad('was altered');
  if (p.f !== digest(filters)) throw bad('belongs to a query with other filters or another sort');
  return p.k as (string | number)[];
}

/**
 * Decodes a one-key cursor whose key is an integer in `0..max` (a `seq`, a version): the checksum is no
 * secret, so a forged cursor must not carry a value the column cannot hold. Throws `validation_failed`.
 */
export function decodeIntCursor(cursor: string, filters: unknown, max: number): number {
  const [key] = decodeCursor(cursor, filters);
  if (typeof key !== 'number' || key < 0 || key > max)
    throw fieldError('query', '/cursor', 'The cursor is malformed; start again without one.');
  return key;
}

/** Turns `limit + 1` fetched rows into a page: the extra row only tells that there is a next page. */
export function toPage<R, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
  keys: (row: R) => (string | number)[],
  filters: unknown = null,
) {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    data: pageRows.map(map),
    next_cursor: more && last !== undefined ? encodeCursor(keys(last), filters) : null,
  };
}
