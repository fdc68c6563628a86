import { createHash, createHmac } from 'node:crypto';
import canonicalizeJson from 'canonicalize';
import { sql, type RawBuilder } from 'kysely';
import { Type, type Static, type TSchema } from 'typebox';
import { fromJson, toIso } from '../../db/codecs.js';
import type { DialectHelpers } from '../../db/dialects/helpers.js';
import type { AuditEventsTable } from '../../db/tables.js';
import { Timestamp, StringEnum } from '../../lib/schema.js';

const Nullable = <S extends TSchema>(schema: S) => Type.Union([schema, Type.Null()]);

/**
 * The one definition of an audit event. Everything else is derived from its fields, in this order: the stored
 * row (`toRow`), the API shape (`toAuditEvent`), the hash input (`chainPayload`), the NDJSON line the database
 * writes (`exportLineSql`) and the CSV columns (`CSV_COLUMNS`). Adding a field here adds it everywhere; a field
 * whose kind `fieldKind` cannot tell is a start-up error, not a silent gap.
 */
export const AuditEvent = Type.Object(
  {
    seq: Type.Integer({
      description: 'Commit order, gap-free; use it with `order=asc&after=` to tail.',
    }),
    id: Type.String({ description: 'evt_…: the same id as the outbox event of a change.' }),
    ts: Timestamp,
    actor: Type.String({ description: '`system`, `anonymous`, or a user id.' }),
    actor_name: Nullable(Type.String()),
    token_id: Nullable(Type.String()),
    action: Type.String({ examples: ['user.create'] }),
    target: Nullable(
      Type.Object({ type: Type.String(), id: Nullable(Type.String()) }, { additionalProperties: false }),
    ),
    outcome: StringEnum(['success', 'denied', 'error']),
    request_id: Nullable(Type.String()),
    ip: Nullable(Type.String()),
    user_agent: Nullable(Type.String()),
    detail: Nullable(Type.String()),
    changes: Type.Union(
      [
        Type.Object({ before: Type.Unknown(), after: Type.Unknown() }, { additionalProperties: false }),
        Type.Null(),
      ],
      { description: 'The resource before and after the change; secrets are never included.' },
    ),
    prev_hash: Type.String({ description: 'The hash of the event before this one in seq order.' }),
    hash: Type.String({
      description:
        "HMAC-SHA256 with the server's audit key over the canonical JSON (RFC 8785) of this event and prev_hash (plain SHA-256 for events written before the chain had a key).",
    }),
  },
  { additionalProperties: false, title: 'AuditEvent' },
);
export type AuditEvent = Static<typeof AuditEvent>;

/**
 * How a field is stored: `text` as it is, `int` as a number, `time` as epoch milliseconds (ISO 8601 in the
 * API), `json` as JSON text, `target` as the two columns `target_type` and `target_id`.
 */
type FieldKind = 'text' | 'int' | 'time' | 'json' | 'target';
/** `keys`: a JSON field's keys in schema order (PostgreSQL's jsonb keeps its own order; the API keeps this one). */
type Field = { key: keyof AuditEvent; kind: FieldKind; keys?: string[] };

function fieldKind(key: string, schema: TSchema & Record<string, unknown>): FieldKind {
  const variants = (schema.anyOf as Array<Record<string, unknown>> | undefined) ?? [schema];
  const object = variants.find((v) => v.type === 'object') as
    { properties?: Record<string, unknown> } | undefined;
  if (object?.properties && 'type' in object.properties && 'id' in object.properties) return 'target';
  if (object) return 'json';
  if (schema.type === 'integer') return 'int';
  if (schema.format === 'date-time') return 'time';
  if (variants.every((v) => v.type === 'string' || v.type === 'null' || typeof v.const === 'string'))
    return 'text';
  throw new Error(`audit event field ${key}: no stored form for its schema`);
}

/** The event's fields in schema order with their stored kinds. */
export const FIELDS: readonly Field[] = Object.entries(
  AuditEvent.properties as unknown as Record<string, TSchema & Record<string, unknown>>,
).map(([key, schema]) => {
  const variants = (schema.anyOf as Array<{ type?: unknown; properties?: object }> | undefined) ?? [schema];
  const object = variants.find((v) => v.type === 'object');
  return {
    key: key as Field['key'],
    kind: fieldKind(key, schema),
    keys: Object.keys(object?.properties ?? {}),
  };
});

/**
 * A stored JSON value as the API shows it: an object's schema keys first, in schema order, so every reader
 * (the API, an audit stream's NDJSON line) gives the same bytes on both dialects.
 */
function inSchemaOrder(f: Field, value: unknown): unknown {
  if (!f.keys?.length || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const v = value as Record<string, unknown>;
  return Object.fromEntries(
    [...f.keys.filter((k) => k in v), ...Object.keys(v).filter((k) => !f.keys?.includes(k))].map((k) => [
      k,
      v[k],
    ]),
  );
}

/** A stored row's columns for a field: one, or two for the target. */
const columnsOf = (f: Field): string[] => (f.kind === 'target' ? ['target_type', 'target_id'] : [f.key]);

/** The API shape of a stored row. */
export function toAuditEvent(row: AuditEventsTable): AuditEvent {
  const r = row as unknown as Record<string, unknown>;
  const event: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const value = r[f.key];
    if (f.kind === 'target')
      event.target = row.target_type === null ? null : { type: row.target_type, id: row.target_id };
    else if (f.kind === 'time') event[f.key] = toIso(Number(value));
    else if (f.kind === 'int') event[f.key] = Number(value);
    else if (f.kind === 'json')
      event[f.key] = value === null ? null : inSchemaOrder(f, fromJson<unknown>(value));
    else event[f.key] = value;
  }
  return event as AuditEvent;
}

/** RFC 8785 JSON Canonicalization Scheme (the `canonicalize` package). */
export const canonicalize: (input: unknown) => string | undefined = canonicalizeJson;

/**
 * The fields a link of the chain covers, in the form they are hashed: every stored column of the event but the
 * hash itself, numbers as numbers and `changes` parsed (so the hash does not depend on how JSON was spelled).
 */
export function chainPayload(row: Omit<AuditEventsTable, 'hash'>): Record<string, unknown> {
  const r = row as unknown as Record<string, unknown>;
  const payload: Record<string, unknown> = {};
  for (const f of FIELDS) {
    if (f.key === 'hash') continue;
    for (const column of columnsOf(f)) {
      const value = r[column];
      if (f.kind === 'int' || f.kind === 'time') payload[column] = Number(value);
      else if (f.kind === 'json') payload[column] = value === null ? null : fromJson<unknown>(value);
      else payload[column] = value;
    }
  }
  return payload;
}

/**
 * HMAC-SHA256 with the chain key over the RFC 8785 canonical JSON of the link, which includes the previous
 * hash; without a key, plain SHA-256: the links written before the chain had a key (`audit_head.keyed_from`).
 */
export function chainHash(row: Omit<AuditEventsTable, 'hash'>, key?: Buffer): string {
  const text = canonicalize(chainPayload(row)) ?? '';
  return (key ? createHmac('sha256', key) : createHash('sha256')).update(text).digest('hex');
}

/** Placeholders the canonical JSON is cut at (`canonicalParts`): none is a value a real event can hold there. */
const CUT_PREV = 'prev-hash-placeholder';
const CUT_SEQ = -1;
const CUT_TS = -2;

/**
 * The canonical JSON of a link with prev_hash, seq and ts left out: `[a, b, c, d]` such that
 * `a + prev_hash + b + seq + c + ts + d === canonicalize(chainPayload(row))`, for a database that hashes the
 * link itself (PostgreSQL, where the head is read in the appending statement). RFC 8785 sorts keys, so the
 * three come after `changes` (the only field that may hold objects), in this order; the last occurrence of
 * each placeholder is the top-level one.
 */
export function canonicalParts(
  row: Omit<AuditEventsTable, 'hash' | 'seq' | 'ts' | 'prev_hash'>,
): [string, string, string, string] {
  const text = canonicalize(chainPayload({ ...row, seq: CUT_SEQ, ts: CUT_TS, prev_hash: CUT_PREV })) ?? '';
  const at = (token: string, value: string) => {
    const i = text.lastIndexOf(token);
    if (i < 0) throw new Error(`canonical audit JSON without ${token}`);
    return [i + token.length - value.length, i + token.length] as const;
  };
  const [p0, p1] = at(`,"prev_hash":"${CUT_PREV}`, CUT_PREV);
  const [s0, s1] = at(`,"seq":${CUT_SEQ}`, String(CUT_SEQ));
  const [t0, t1] = at(`,"ts":${CUT_TS}`, String(CUT_TS));
  if (!(p1 < s0 && s1 < t0)) throw new Error('canonical audit JSON in an unexpected key order');
  return [text.slice(0, p0), text.slice(p1, s0), text.slice(s1, t0), text.slice(t1)];
}

/**
 * The SQL expression that writes an event's JSON line, `JSON.stringify(toAuditEvent(row))` with the stored
 * `changes` text as it is, in the database: an export row is then one string instead of seventeen columns
 * turned into JavaScript values and back into JSON, which was most of the export's CPU (bench/RESULTS.md,
 * audit). test/audit/chain-export-retention.test.ts holds the two to the same bytes.
 */
export function exportLineSql({
  jsonText: q,
  isoText,
}: Pick<DialectHelpers, 'jsonText' | 'isoText'>): RawBuilder<string> {
  const parts = FIELDS.map((f, i) => {
    const key = sql.lit(`${i === 0 ? '{' : ','}"${f.key}":`);
    if (f.kind === 'int') return sql`${key} || ${sql.ref(f.key)}`;
    if (f.kind === 'time') return sql`${key} || '"' || ${isoText(f.key)} || '"'`;
    if (f.kind === 'json') return sql`${key} || coalesce(cast(${sql.ref(f.key)} as text), 'null')`;
    if (f.kind === 'target')
      return sql`${key} || (case when target_type is null then 'null' else '{"type":' || ${q('target_type')} || ',"id":' || ${q('target_id')} || '}' end)`;
    return sql`${key} || ${q(f.key)}`;
  });
  return sql<string>`${sql.join(parts, sql` || `)} || '}'`;
}

/** The CSV header's columns: the stored columns in the event's order. */
export const CSV_COLUMNS: readonly string[] = FIELDS.flatMap(columnsOf);

/**
 * RFC 4180 quoting, and a leading `'` on cells a spreadsheet would run as a formula (CSV injection):
 * usernames and user agents are caller-controlled.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line of a stored row, in `CSV_COLUMNS` order; times as ISO 8601, `changes` as JSON. */
export function toCsvRow(row: AuditEventsTable): string {
  const r = row as unknown as Record<string, unknown>;
  return FIELDS.flatMap((f) =>
    columnsOf(f).map((column) => {
      const value = r[column];
      if (f.kind === 'time') return csvCell(toIso(Number(value)));
      if (f.kind === 'int') return csvCell(Number(value));
      if (f.kind === 'json') return csvCell(value === null ? null : fromJson<unknown>(value));
      return csvCell(value);
    }),
  ).join(',');
}
