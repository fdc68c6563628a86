import type { Writable } from 'node:stream';
import type { Problem } from '@gatehouse/client';

/** A failure the command line explains itself: the message goes to stderr, the code is the exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A column: its heading and how a row shows in it. */
export type Column<T> = [heading: string, cell: (row: T) => string | number | boolean | null | undefined];

/** Aligned columns with a heading row; the last column is not padded. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map(([, cell]) => String(cell(row) ?? '-')));
  const headings = columns.map(([heading]) => heading);
  const widths = headings.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headings), ...cells.map(line)].join('\n') + '\n';
}

/** Fields and values, one a line: `username  alice`. */
type Value = string | number | boolean | null | undefined | readonly string[];

export function record(entries: readonly [string, Value][]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  const show = (v: Value): string => {
    if (v === null || v === undefined) return '-';
    return typeof v === 'object' ? v.join(', ') : String(v);
  };
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${show(v)}`).join('\n') + '\n';
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** What to check when a request fails this way. */
function hint(problem: Problem, url: string): string | undefined {
  if (problem.status === 0)
    return `Could not reach ${url}. Check the server URL (--url, GATEHOUSE_URL or the profile's) and that the server is running.`;
  if (problem.status === 401)
    return 'Check the token (--token, GATEHOUSE_TOKEN, or `gatehouse login` for the profile).';
  return undefined;
}

/** A problem for a person: title and status, detail, each field error, then what to check. */
export function formatProblem(problem: Problem, url: string): string {
  const status = problem.status ? ` (${problem.status})` : '';
  const lines = [`error: ${problem.title}${status}`];
  if (problem.detail) lines.push(`  ${problem.detail}`);
  for (const e of problem.errors ?? []) lines.push(`  ${e.in} ${e.pointer || '/'}: ${e.message}`);
  if (problem.required_permission) lines.push(`  required permission: ${problem.required_permission}`);
  const more = hint(problem, url);
  if (more) lines.push(more);
  if (problem.request_id) lines.push(`  request id: ${problem.request_id}`);
  return lines.join('\n') + '\n';
}

/** Writes and waits for the stream to take it, so a large output is not cut by the exit. */
export async function write(stream: Writable, text: string | Uint8Array): Promise<void> {
  if (!stream.write(text)) await new Promise((resolve) => stream.once('drain', resolve));
}
