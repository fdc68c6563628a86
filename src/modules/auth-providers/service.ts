import type { Kysely } from 'kysely';
import { runPrepared, type Change, type Prepared, type RecordAudit } from '../../change.js';
import type { Tables, Trx } from '../../db/tables.js';
import { AppError, assertFound } from '../../errors.js';
import type { Clock } from '../../lib/clock.js';
import { isId, type Ids } from '../../lib/ids.js';
import { decodeCursor, DEFAULT_LIMIT, toPage } from '../../lib/pagination.js';
import { union } from '../../lib/permissions.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { ConfigDocument } from '../config/schemas.js';
import { assertHolds, type RolesService } from '../roles/service.js';
import type { SessionsService } from '../sessions/service.js';
import type { UsersService } from '../users/service.js';
import type {
  AuthProvider,
  CreateAuthProviderBody,
  ListAuthProvidersQuery,
  UpdateAuthProviderBody,
} from './schemas.js';
import type { AuthProvidersStore, ProviderPatch } from './store.js';
import { assertRolesExist, checkIssuer, normalizeDomains, roleNamesOf } from './validate.js';

export type AuthProvidersDeps = {
  db: Kysely<Tables>;
  change: Change;
  record: RecordAudit;
  store: AuthProvidersStore;
  ids: Ids;
  clock: Clock;
  settings: () => ConfigDocument;
  secrets: SecretBox;
  roles: Pick<RolesService, 'findByNames' | 'assign' | 'unassign'>;
  users: Pick<UsersService, 'get' | 'findLinked' | 'createLinked' | 'anyLinked'>;
  sessions: Pick<SessionsService, 'signIn'>;
  /** openid-client's `customFetch`: every call to a provider goes through the SSRF-guarded dispatcher. */
  fetch: (url: string, init: RequestInit) => Promise<Response>;
};

/** Where a provider's client secret is sealed: bound to its row. */
export function secretContext(id: string): string {
  return `auth_providers.client_secret:${id}`;
}

/** A path id that is not a provider TypeID names no provider: 404 without a query. */
export function providerId(id: string): string {
  if (!isId('idp', id)) throw new AppError('not_found', 'No identity provider has this id.');
  return id;
}

/**
 * The roles a provider names exist (422 with a pointer otherwise), and the caller holds every permission they
 * grant (403 otherwise): a provider's mapping gives roles at sign-in without anyone's scopes, so configuring it
 * is where "no escalation" is kept. Read through the change's transaction: a batch may make the roles first.
 */
async function checkRoles(
  { store }: AuthProvidersDeps,
  ctx: RequestCtx,
  trx: Trx,
  fields: Pick<UpdateAuthProviderBody, 'role_mapping' | 'default_roles'>,
): Promise<void> {
  const used = roleNamesOf(fields);
  if (used.length === 0) return;
  const found = await store.rolesNamed(trx, [...new Set(used.map((u) => u.name))]);
  assertRolesExist(used, new Set(found.map((r) => r.name)));
  assertHolds(ctx, union(found.map((r) => r.permissions)), 'Giving these roles at single sign-on');
}

/**
 * Users are linked to a provider by its subjects: another issuer could name any of them, so the issuer of a
 * provider with linked users does not change (a new provider gets new links).
 */
function issuerLocked(): AppError {
  const message = 'cannot change while users are linked to this provider; add a new provider instead';
  return new AppError('unprocessable', `The issuer ${message}.`, {
    errors: [{ in: 'body', pointer: '/issuer', message }],
  });
}

/** Managing identity providers: create, read, update, delete (auth:read / auth:write). */
export function providerAdmin(deps: AuthProvidersDeps) {
  const reads = providerReads(deps);
  return { ...reads, ...providerCreation(deps), ...providerChanges(deps, (id) => reads.get(id)) };
}

function providerReads({ db, store }: AuthProvidersDeps) {
  return {
    /** Throws `not_found`. */
    async get(id: string): Promise<AuthProvider> {
      return assertFound(await store.findById(db, providerId(id)), 'The identity provider');
    },

    async list(query: ListAuthProvidersQuery): Promise<{ data: AuthProvider[]; next_cursor: string | null }> {
      const limit = query.limit ?? DEFAULT_LIMIT;
      const after = query.cursor ? String(decodeCursor(query.cursor, null)[0]) : null;
      const rows = await store.list(db, after, limit);
      return toPage(
        rows,
        limit,
        (r) => r,
        (r) => [r.id],
        null,
      );
    },
  };
}

function providerCreation(deps: AuthProvidersDeps) {
  const { change, store, ids, clock, settings, secrets } = deps;
  /**
   * A provider's creation made ready: the issuer checked (SSRF guard), the id drawn, the client secret sealed;
   * the roles it gives are judged inside. Throws `validation_failed`.
   */
  async function prepareCreate(
    ctx: RequestCtx,
    { client_secret, ...input }: CreateAuthProviderBody,
  ): Promise<Prepared<AuthProvider>> {
    const issuer = await checkIssuer(input.issuer, settings().webhooks.allow_private_targets);
    const id = ids.next('idp');
    const sealed = secrets.seal(client_secret, secretContext(id));
    const now = clock.now();
    return {
      spec: { action: 'auth_provider.create', target: { type: 'auth_provider', id }, input: { ...input } },
      write: async (trx) => {
        await checkRoles(deps, ctx, trx, input);
        const after = await store.insert(trx, {
          id,
          name: input.name,
          issuer,
          client_id: input.client_id,
          client_secret: sealed,
          scopes: input.scopes ?? ['openid', 'email', 'profile'],
          role_mapping: input.role_mapping ?? [],
          jit: input.jit ?? false,
          default_roles: input.default_roles ?? [],
          email_domains: normalizeDomains(input.email_domains) ?? null,
          enabled: input.enabled ?? true,
          created_by: ctx.principal?.userId ?? null,
          created_at: now,
          updated_at: now,
        });
        return { before: null, after };
      },
    };
  }
  return {
    prepareCreate,
    /** Throws `validation_failed`, `unprocessable`, `forbidden`, `auth_provider.name_taken`. */
    create: async (ctx: RequestCtx, body: CreateAuthProviderBody): Promise<AuthProvider> =>
      runPrepared(change, ctx, await prepareCreate(ctx, body)),
  };
}

function providerChanges(deps: AuthProvidersDeps, get: (id: string) => Promise<AuthProvider>) {
  const { change, store, clock, settings, secrets } = deps;
  /**
   * An update made ready: a new issuer checked (SSRF guard; locked while users are linked), a new client
   * secret sealed; the roles it gives, before and after, are judged inside. Throws `not_found`,
   * `validation_failed`, `unprocessable`.
   */
  async function prepareUpdate(
    ctx: RequestCtx,
    rawId: string,
    input: UpdateAuthProviderBody,
  ): Promise<Prepared<AuthProvider>> {
    const current = await get(rawId);
    const id = current.id;
    const { client_secret, ...rest } = input;
    if (rest.issuer !== undefined) {
      rest.issuer = await checkIssuer(rest.issuer, settings().webhooks.allow_private_targets);
      if (rest.issuer !== current.issuer && (await deps.users.anyLinked(id))) throw issuerLocked();
    }
    const patch: ProviderPatch = {
      ...rest,
      ...(rest.email_domains !== undefined ? { email_domains: normalizeDomains(rest.email_domains) } : {}),
      ...(client_secret !== undefined
        ? { client_secret: secrets.seal(client_secret, secretContext(id)) }
        : {}),
      updated_at: clock.now(),
    };
    const spec = {
      action: 'auth_provider.update' as const,
      target: { type: 'auth_provider', id },
      input: { ...rest },
      ...(client_secret !== undefined ? { detail: 'client secret replaced' } : {}),
    };
    const write = async (trx: Trx) => {
      const before = assertFound(await store.findById(trx, id), 'The identity provider');
      // Changing a provider that gives roles needs what they grant, as giving them does.
      await checkRoles(deps, ctx, trx, before);
      await checkRoles(deps, ctx, trx, rest);
      return { before, after: assertFound(await store.update(trx, id, patch), 'The identity provider') };
    };
    return { spec, write };
  }

  /** A deletion made ready: 404 early; the roles it gives are judged inside. Throws `not_found`. */
  async function prepareRemove(ctx: RequestCtx, rawId: string): Promise<Prepared<null>> {
    const { id } = await get(rawId);
    return {
      spec: { action: 'auth_provider.delete', target: { type: 'auth_provider', id } },
      write: async (trx) => {
        const before = assertFound(await store.findById(trx, id), 'The identity provider');
        await checkRoles(deps, ctx, trx, before);
        await store.delete(trx, id);
        return { before, after: null };
      },
    };
  }

  return {
    prepareUpdate,
    prepareRemove,
    /** Updates the fields present; without `client_secret` the stored one stays. Throws as `create`, `not_found`. */
    update: async (ctx: RequestCtx, id: string, input: UpdateAuthProviderBody): Promise<AuthProvider> =>
      runPrepared(change, ctx, await prepareUpdate(ctx, id, input)),

    /** Users it created stay (they can no longer sign in through it). Throws `not_found`, `forbidden`. */
    async remove(ctx: RequestCtx, id: string): Promise<void> {
      await runPrepared(change, ctx, await prepareRemove(ctx, id));
    },
  };
}
