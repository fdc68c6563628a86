import { fromJson, toBool, toIso, toJson } from '../../db/codecs.js';
import type { AuthProvidersTable, AuthSsoAttemptsTable, Queryable } from '../../db/tables.js';
import type { AuthProvider, RoleRule } from './schemas.js';

/** Columns an answer is made of: never `client_secret`. */
const COLUMNS = [
  'id',
  'name',
  'issuer',
  'client_id',
  'scopes',
  'role_mapping',
  'jit',
  'default_roles',
  'email_domains',
  'enabled',
  'created_by',
  'created_at',
  'updated_at',
] as const;
type Row = Pick<AuthProvidersTable, (typeof COLUMNS)[number]>;

function toProvider(row: Row): AuthProvider {
  return {
    id: row.id,
    name: row.name,
    issuer: row.issuer,
    client_id: row.client_id,
    client_secret_set: true,
    scopes: fromJson<string[]>(row.scopes),
    role_mapping: fromJson<RoleRule[]>(row.role_mapping),
    jit: toBool(row.jit),
    default_roles: fromJson<string[]>(row.default_roles),
    email_domains: row.email_domains === null ? null : fromJson<string[]>(row.email_domains),
    enabled: toBool(row.enabled),
    redirect_path: `/api/auth/oidc/${row.id}/callback`,
    created_by: row.created_by,
    created_at: toIso(Number(row.created_at)),
    updated_at: toIso(Number(row.updated_at)),
  };
}

/** A provider as stored, its JSON fields as strings. */
export type ProviderRow = Omit<
  AuthProvidersTable,
  'scopes' | 'role_mapping' | 'default_roles' | 'email_domains'
> & {
  scopes: string[];
  role_mapping: RoleRule[];
  default_roles: string[];
  email_domains: string[] | null;
};
export type ProviderPatch = Partial<Omit<ProviderRow, 'id' | 'created_at' | 'created_by'>> & {
  updated_at: number;
};

function encode<T extends Partial<ProviderRow>>(row: T) {
  const { scopes, role_mapping, default_roles, email_domains, ...rest } = row;
  return {
    ...rest,
    ...(scopes !== undefined ? { scopes: toJson(scopes) } : {}),
    ...(role_mapping !== undefined ? { role_mapping: toJson(role_mapping) } : {}),
    ...(default_roles !== undefined ? { default_roles: toJson(default_roles) } : {}),
    ...(email_domains !== undefined
      ? { email_domains: email_domains === null ? null : toJson(email_domains) }
      : {}),
  };
}

/** Identity providers. */
function providerRecords() {
  return {
    async insert(q: Queryable, row: ProviderRow): Promise<AuthProvider> {
      const values = encode(row) as AuthProvidersTable;
      return toProvider(
        await q.insertInto('auth_providers').values(values).returning(COLUMNS).executeTakeFirstOrThrow(),
      );
    },

    async findById(q: Queryable, id: string): Promise<AuthProvider | undefined> {
      const row = await q
        .selectFrom('auth_providers')
        .select(COLUMNS)
        .where('id', '=', id)
        .executeTakeFirst();
      return row && toProvider(row);
    },

    /** The one way a sealed client secret leaves the database: for the token call. */
    async findSealedSecret(q: Queryable, id: string): Promise<string | undefined> {
      const row = await q
        .selectFrom('auth_providers')
        .select('client_secret')
        .where('id', '=', id)
        .executeTakeFirst();
      return row?.client_secret;
    },

    async update(q: Queryable, id: string, patch: ProviderPatch): Promise<AuthProvider | undefined> {
      const row = await q
        .updateTable('auth_providers')
        .set(encode(patch))
        .where('id', '=', id)
        .returning(COLUMNS)
        .executeTakeFirst();
      return row && toProvider(row);
    },

    async delete(q: Queryable, id: string): Promise<void> {
      await q.deleteFrom('auth_providers').where('id', '=', id).execute();
    },

    async list(q: Queryable, afterId: string | null, limit: number): Promise<AuthProvider[]> {
      let query = q
        .selectFrom('auth_providers')
        .select(COLUMNS)
        .orderBy('id')
        .limit(limit + 1);
      if (afterId !== null) query = query.where('id', '>', afterId);
      return (await query.execute()).map(toProvider);
    },

    async listEnabled(q: Queryable): Promise<AuthProvider[]> {
      const rows = await q
        .selectFrom('auth_providers')
        .select(COLUMNS)
        .where('enabled', '=', true)
        .orderBy('name')
        .limit(100)
        .execute();
      return rows.map(toProvider);
    },
  };
}

export type Attempt = Pick<
  AuthSsoAttemptsTable,
  'state_hash' | 'provider_id' | 'nonce' | 'code_verifier' | 'redirect_uri' | 'return_to' | 'expires_at'
>;

/** SSO attempts: a state consumed once, then a ticket exchanged once. */
function attemptRecords() {
  return {
    async insertAttempt(q: Queryable, row: AuthSsoAttemptsTable): Promise<void> {
      await q.insertInto('auth_sso_attempts').values(row).execute();
    },

    /** Deletes attempts whose state and ticket have both run out. */
    async purgeAttempts(q: Queryable, before: number): Promise<void> {
      await q.deleteFrom('auth_sso_attempts').where('expires_at', '<', before).execute();
    },

    /**
     * Marks a live, unused attempt used and returns it; undefined when unknown, used or expired (a state
     * counts once, even when two callbacks race).
     */
    async consumeState(q: Queryable, stateHash: string, now: number): Promise<Attempt | undefined> {
      return q
        .updateTable('auth_sso_attempts')
        .set({ used_at: now })
        .where('state_hash', '=', stateHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .returning([
          'state_hash',
          'provider_id',
          'nonce',
          'code_verifier',
          'redirect_uri',
          'return_to',
          'expires_at',
        ])
        .executeTakeFirst();
    },

    async setTicket(
      q: Queryable,
      stateHash: string,
      ticket: { hash: string; userId: string; expiresAt: number },
    ): Promise<void> {
      await q
        .updateTable('auth_sso_attempts')
        .set({ ticket_hash: ticket.hash, user_id: ticket.userId, ticket_expires_at: ticket.expiresAt })
        .where('state_hash', '=', stateHash)
        .execute();
    },

    /** Marks a live, unused ticket used and returns its user; undefined when unknown, used or expired. */
    async consumeTicket(q: Queryable, ticketHash: string, now: number): Promise<string | undefined> {
      const row = await q
        .updateTable('auth_sso_attempts')
        .set({ ticket_used_at: now })
        .where('ticket_hash', '=', ticketHash)
        .where('ticket_used_at', 'is', null)
        .where('ticket_expires_at', '>', now)
        .returning(['user_id'])
        .executeTakeFirst();
      return row?.user_id ?? undefined;
    },
  };
}

/** What a provider's checks read of the roles (not the roles module's store: a read of two columns). */
function roleReads() {
  return {
    /**
     * The roles of these names and what they grant, as `q` sees them: inside a change, a role made earlier in
     * the same transaction (a batch) is there. Read only, for the checks on what a provider gives.
     */
    async rolesNamed(
      q: Queryable,
      names: readonly string[],
    ): Promise<{ name: string; permissions: string[] }[]> {
      if (names.length === 0) return [];
      const rows = await q
        .selectFrom('roles')
        .select(['name', 'permissions'])
        .where('name', 'in', names)
        .execute();
      return rows.map((r) => ({ name: r.name, permissions: fromJson<string[]>(r.permissions) }));
    },
  };
}

export function createAuthProvidersStore() {
  return { ...providerRecords(), ...roleReads(), ...attemptRecords() };
}
export type AuthProvidersStore = ReturnType<typeof createAuthProvidersStore>;
