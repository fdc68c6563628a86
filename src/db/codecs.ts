/** Conversions between portable column values and API values, the same on both dialects. */

/** Epoch milliseconds → ISO 8601 UTC with milliseconds. */
export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

export function toIsoOrNull(ms: number | null): string | null {
  return ms === null ? null : toIso(Number(ms));
}

/** PostgreSQL gives booleans, SQLite gives 0/1. */
export function toBool(value: boolean | number | null): boolean {
  return value === true || value === 1;
}

/** PostgreSQL `jsonb` arrives parsed; SQLite text arrives as a string. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the stored shape
export function fromJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

/** Both dialects accept a JSON string for a JSON column. */
export function toJson(value: unknown): string {
  return JSON.stringify(value);
}
