/**
 * A bounded, short-lived cache of token lookups keyed by the secret's SHA-256. Entries live under a second,
 * so another instance's revocation is seen within that time; in this process every change that can narrow
 * or end a token's access calls `clear()` synchronously after it commits.
 */
export type AuthCache<V> = {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  /** The cached value, or `load()`'s, cached (a miss too, so a flood of bad secrets costs one query each 500 ms). */
  getOrLoad(key: string, load: () => Promise<V>): Promise<V>;
  clear(): void;
  size(): number;
};

export function createAuthCache<V>({ max = 10_000, ttlMs = 500, now = () => Date.now() } = {}): AuthCache<V> {
  const entries = new Map<string, { value: V; until: number }>();
  return {
    get(key) {
      const hit = entries.get(key);
      if (!hit) return undefined;
      if (hit.until <= now()) {
        entries.delete(key);
        return undefined;
      }
      return hit.value;
    },
    set(key, value) {
      // Map keeps insertion order: the first key is the oldest entry.
      if (entries.size >= max) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
      entries.set(key, { value, until: now() + ttlMs });
    },
    async getOrLoad(key, load) {
      const hit = this.get(key);
      if (hit !== undefined) return hit;
      const value = await load();
      this.set(key, value);
      return value;
    },
    clear: () => entries.clear(),
    size: () => entries.size,
  };
}
