import { Type, type TSchema, type TSchemaOptions, type TString, type TStringOptions } from 'typebox';

/**
 * Rejects NUL and lone surrogates (Ajv compiles patterns with the `u` flag, where a surrogate range matches
 * only unpaired halves), so PostgreSQL never sees a byte it would answer with an error.
 */
export const SAFE_TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';

/**
 * A string's length as JSON Schema's `minLength`/`maxLength` count it (Ajv's default `unicode: true`): in code
 * points, an emoji one, not two UTF-16 units. A service rule on a schema-limited string counts with this, so
 * the schema and the service state one limit. (Request strings carry no lone surrogate, see below.)
 */
export function textLength(s: string): number {
  // Code points, not graphemes: a surrogate pair is one, as in Ajv's `ucs2length`.
  return s.length - (s.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}

/** A request string: always bounded, never NUL or a lone surrogate. */
export function Str(options: TStringOptions & { maxLength: number }): TString {
  return Type.String({ pattern: SAFE_TEXT_PATTERN, ...options });
}

/**
 * One of fixed strings, as `{ type: 'string', enum: [...] }`: code generators make an enum of it, where a
 * union of literals (`anyOf` of one-value enums) becomes nothing useful. Typed as the union of the values.
 */
export function StringEnum<const T extends readonly string[]>(values: T, options: TSchemaOptions = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A value or `null` (to clear an optional field). */
export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

/** ISO 8601 UTC with milliseconds, as every timestamp in the API. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2026-11-28T09:30:00.000Z'] });

/** A path id. A string that is not a TypeID of the route's prefix is a 404, checked by the service. */
export const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) }, { additionalProperties: false });

/**
 * Bounds for integers a request carries. Ajv accepts `1e20` and `"9223372036854775807"` as integers; unbounded,
 * they reach PostgreSQL, which answers "out of range" (a 500) where SQLite quietly compares. Every request
 * integer has a `maximum` at most the column's: `MAX_INT4` for `integer` columns, `MAX_SAFE_INT` (inside
 * `bigint`, and exact in JavaScript) for `bigint` ones. The OpenAPI contract test checks that none is missing.
 */
export const MAX_INT4 = 2_147_483_647;
export const MAX_SAFE_INT = Number.MAX_SAFE_INTEGER;
