import type { Kysely } from 'kysely';
import type { Change } from '../../change.js';
import type { Tables } from '../../db/tables.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { USERNAME_PATTERN, type User } from './schemas.js';
import type { UsersStore } from './store.js';

type Deps = { db: Kysely<Tables>; change: Change; store: UsersStore; ids: Ids; clock: Clock };

/** A human user created at its first single sign-on: what the provider said of it. */
export type LinkedUserInput = {
  providerId: string;
  externalId: string;
  /** Username candidates in order of preference (preferred_username, the email's local part, …). */
  usernames: string[];
  email: string | null;
  displayName: string | null;
};

/** A username the policy accepts, from any text: NFKC, lower-case, other characters to `-`, 1–64 long. */
function toUsername(raw: string): string | null {
  const name = raw
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^a-z0-9._@-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return USERNAME_PATTERN.test(name) ? name : null;
}

/** Users linked to an identity provider (single sign-on): found by the provider's subject, or created. */
export function linkedUsers({ db, change, store, ids, clock }: Deps) {
  /** The first free username among the candidates, else the first with a numeric suffix, else from the subject. */
  async function freeUsername(candidates: string[], subject: string): Promise<string> {
    const names = candidates.map(toUsername).filter((n): n is string => !!n);
    for (const name of names) if (!(await store.usernameExists(db, name))) return name;
    const base = (names[0] ?? toUsername(subject) ?? 'user').slice(0, 56);
    if (names.length === 0 && !(await store.usernameExists(db, base))) return base;
    for (let i = 2; i < 1000; i++) {
      const name = `${base}-${i}`;
      if (!(await store.usernameExists(db, name))) return name;
    }
    return `user-${ids.next('user').slice(-20)}`;
  }

  return {
    /** Whether any user is linked to this provider (its issuer then cannot change). */
    async anyLinked(providerId: string): Promise<boolean> {
      return store.anyLinked(db, providerId);
    },

    /** The user linked to this provider's subject, if any. */
    async findLinked(providerId: string, externalId: string): Promise<User | undefined> {
      return store.findByExternal(db, providerId, externalId);
    },

    /**
     * Creates a human user (no password) linked to a provider's subject, audited as `user.create`. The username
     * is the first free one of the candidates, made valid for the username policy. Throws
     * `user.username_taken` (a concurrent sign-in took it), `conflict` (already linked).
     */
    async createLinked(ctx: RequestCtx, input: LinkedUserInput): Promise<User> {
      const username = await freeUsername(input.usernames, input.externalId);
      const id = ids.next('user');
      const now = clock.now();
      return change(
        ctx,
        {
          action: 'user.create',
          target: { type: 'user', id },
          input: { username, email: input.email, provider_id: input.providerId },
          detail: 'created at its first single sign-on',
        },
        async (trx) => ({
          before: null,
          after: await store.insert(trx, {
            id,
            username,
            email: input.email,
            display_name: input.displayName,
            kind: 'human',
            disabled: false,
            password_hash: null,
            external_id: input.externalId,
            provider_id: input.providerId,
            created_at: now,
            updated_at: now,
          }),
        }),
      );
    },
  };
}
