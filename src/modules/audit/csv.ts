import { fromJson } from '../../db/codecs.js';
import type { AuditEventsTable } from '../../db/tables.js';

export const CSV_COLUMNS = [
  'seq',
  'id',
  'ts',
  'actor',
  'actor_name',
  'token_id',
  'action',
  'target_type',
  'target_id',
  'outcome',
  'request_id',
  'ip',
  'user_agent',
  'detail',
  'changes',
  'prev_hash',
  'hash',
] as const;

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

export function toCsvRow(row: AuditEventsTable): string {
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    ...row,
    seq: Number(row.seq),
    ts: new Date(Number(row.ts)).toISOString(),
    changes: row.changes === null ? null : fromJson<unknown>(row.changes),
  };
  return CSV_COLUMNS.map((c) => csvCell(values[c])).join(',');
}
