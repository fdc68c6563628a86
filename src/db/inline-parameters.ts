/**
 * Replaces each `$n` outside string literals of a compiled PostgreSQL query by parameter n written as a literal:
 * null, booleans and safe integers as they are, strings through `escape` (pg's `escapeLiteral`). For statements that take no bind
 * parameters (COPY, several statements in one query); throws for any other value rather than guess how to write it.
 */
export function inlineParameters(text: string, parameters: readonly unknown[], escape: (value: string) => string): string {
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
