/**
 * The signed-in credential: in memory and in sessionStorage (so a reload keeps it, closing the tab forgets
 * it), never in localStorage. `kind` says whether sign-out must revoke a session on the server.
 */
export type Credential = { token: string; kind: 'session' | 'token' };

const KEY = 'gatehouse.credential';
const listeners = new Set<() => void>();

function read(): Credential | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<Credential>;
    return typeof parsed.token === 'string' && (parsed.kind === 'session' || parsed.kind === 'token')
      ? { token: parsed.token, kind: parsed.kind }
      : null;
  } catch {
    return null;
  }
}

let current: Credential | null = read();

export const credential = {
  get: (): Credential | null => current,
  token: (): string | null => current?.token ?? null,
  set: (next: Credential | null): void => {
    current = next;
    if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
    else sessionStorage.removeItem(KEY);
    for (const listener of listeners) listener();
  },
  subscribe: (listener: () => void): (() => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
