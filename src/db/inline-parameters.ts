/**
 * Replaces each `$n` outside string literals of a compiled PostgreSQL query by parameter n written as a
 * literal: null, booleans and safe integers as they are, strings through `escape` (pg's `escapeLiteral`). For
 * statements that take no bind parameters (COPY, several statements in one query); throws for any other value
 * rather than guess how to write it.
 */
export function inlineParameters(
  text: string,
  parameters: readonly unknown[],
  escape: (value: string) => string,
): string {
  return text.replace(/'(?:[^']|'')*'|\$(\d+)/g, (match, n: string | undefined) => {
    if (n === undefined) return match;
    const value = parameters[Number(n) - 1];
    if (value === null) return 'null';
    if (typeof value === 'boolean') return String(value);
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    if (typeof value === 'string') return escape(value);
    throw new Error(`cannot inline parameter $${n} (${typeof value})`);
  });
}

/**
 * `COPY (query) TO STDOUT` for a query of one text column whose values hold no control characters: CSV with a
 * delimiter and a quote that cannot occur writes each text as it is, then a newline (the text format would
 * double every backslash). Used by the export (`createCopyText`) and by its baseline in bench/audit.
 */
export function copyTextStatement(
  text: string,
  parameters: readonly unknown[],
  escape: (value: string) => string,
): string {
  return `copy (${inlineParameters(text, parameters, escape)}) to stdout with (format csv, delimiter e'\\x01', quote e'\\x02')`;
}
