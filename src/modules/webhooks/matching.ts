import { eventTypes } from '../events/catalog.js';

/** True when a subscription (`user.create`, `user.*`, `*`) covers an event type. */
export function subscribed(patterns: readonly string[], type: string): boolean {
  return patterns.some(
    (p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))),
  );
}

/** The patterns that name nothing in the event catalogue (a typo would otherwise silently never fire). */
export function unknownPatterns(patterns: readonly string[]): string[] {
  const types = eventTypes().map((t) => t.type as string);
  return patterns.filter((p) => p !== '*' && !types.some((t) => subscribed([p], t)));
}

const MAX_PAYLOAD = 20 * 1024;

/** The Standard Webhooks body, `{type, timestamp, data}`, kept under 20 kB (a larger resource is cut to its id). */
export function payloadOf(type: string, createdAtMs: number, data: unknown): string {
  const body = JSON.stringify({ type, timestamp: new Date(createdAtMs).toISOString(), data });
  if (body.length <= MAX_PAYLOAD) return body;
  const id = (data as { id?: unknown } | null)?.id ?? null;
  return JSON.stringify({
    type,
    timestamp: new Date(createdAtMs).toISOString(),
    data: { id, truncated: true },
  });
}
