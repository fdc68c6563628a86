import type { Kysely } from 'kysely';
import type { Change, RecordAudit } from '../../change.js';
import type { Tables, Trx } from '../../db/tables.js';
import { AppError } from '../../errors.js';
import type { AuthCache } from '../../lib/auth-cache.js';
import type { Clock } from '../../lib/clock.js';
import type { Ids } from '../../lib/ids.js';
import type { Passwords } from '../../lib/passwords.js';
import { union } from '../../lib/permissions.js';
import type { Principal, RequestCtx } from '../../lib/request-ctx.js';
import { generateToken, hashToken, verifyTokenChecksum } from '../../lib/secret-token.js';
import { USERNAME_PATTERN } from '../users/schemas.js';
import type { UsersService } from '../users/service.js';
import type { ConfigDocument } from '../config/schemas.js';
import type { LoginBody, Me, Session } from './schemas.js';
import type { LiveSession, SessionsStore } from './store.js';

type SessionsServiceDeps = {
  db: Kysely<Tables>;
  change: Change;
  record: RecordAudit;
  store: SessionsStore;
  ids: Ids;
  clock: Clock;
  passwords: Passwords;
  users: Pick<UsersService, 'get'>;
  cache: AuthCache<LiveSession | null>;
  settings: () => ConfigDocument;
  /**
   * Called once the password is right, before a session opens: throws (e.g. `mfa_required`) when the sign-in
   * needs another step. Wired to the mfa module.
   */
  afterPassword?: (ctx: RequestCtx, userId: string) => Promise<void>;
};

export function createSessionsService(deps: SessionsServiceDeps) {
  return { ...sessionSignIn(deps), ...sessionEnding(deps), ...sessionIdentity(deps) };
}
export type SessionsService = ReturnType<typeof createSessionsService>;

/** The user a sign-in names, or undefined; the password check always runs (dummy hash when unknown). */
async function checkCredentials(
  { db, store, passwords }: SessionsServiceDeps,
  { username, password }: LoginBody,
): Promise<string | undefined> {
  const name = username.normalize('NFKC').toLowerCase();
  const creds = USERNAME_PATTERN.test(name) ? await store.findCredentials(db, name) : undefined;
  if (!creds?.passwordHash || creds.disabled) {
    await passwords.verifyDummy(password);
    return undefined;
  }
  return (await passwords.verify(creds.passwordHash, password)) ? creds.id : undefined;
}

/** Opens a session for a signed-in user: one change audited as `auth.login` (`within` runs in it first). */
/** How a session came to be, as its audit action says. */
type SessionAction = 'auth.login' | 'auth.sso.exchange';

async function openSession(
  deps: SessionsServiceDeps,
  ctx: RequestCtx,
  userId: string,
  opts: { action?: SessionAction; detail?: string; within?: (trx: Trx) => Promise<void> },
): Promise<Session> {
  const { change, store, ids, clock } = deps;
  const user = await deps.users.get(userId);
  const secret = generateToken('gts');
  const id = ids.next('sess');
  const now = clock.now();
  const expiresAt = now + deps.settings().sessions.ttl_minutes * 60_000;
  // The audit row names the user who signed in as its actor.
  const asUser: RequestCtx = {
    ...ctx,
    principal: {
      userId,
      username: user.username,
      tokenId: id,
      tokenKind: 'session',
      scopes: [],
      ownerScopes: [],
      roleIds: [],
      expiresAt,
    },
  };
  const spec = { action: opts.action ?? 'auth.login', target: { type: 'session', id } } as const;
  const session = await change(
    asUser,
    opts.detail === undefined ? spec : { ...spec, detail: opts.detail },
    async (trx) => {
      await opts.within?.(trx);
      return {
        before: null,
        after: await store.insert(trx, {
          id,
          user_id: userId,
          secret_hash: hashToken(secret),
          created_at: now,
          expires_at: expiresAt,
          last_used_at: null,
          revoked_at: null,
          ip: ctx.ip,
          user_agent: ctx.userAgent,
        }),
      };
    },
  ).finally(() => {
    // The change audited under `asUser`, success or refusal: the request's own ctx must not audit again.
    ctx.audited = true;
  });
  return { token: secret, session_id: id, expires_at: new Date(session.expires_at).toISOString(), user };
}

/** Signing in with a password. */
function sessionSignIn(deps: SessionsServiceDeps) {
  const { record } = deps;

  return {
    /**
     * Signs a human user in with a password and returns a session token, shown once. A wrong password, an
     * unknown or disabled user, or a user without a password all answer the same 401, in the same time.
     * Every attempt is audited as `auth.login`. Throws `auth.invalid_credentials`.
     */
    async login(ctx: RequestCtx, input: LoginBody): Promise<Session> {
      await refuseIfSsoOnly(deps, ctx);
      const userId = await checkCredentials(deps, input);
      if (!userId) {
        await record(ctx, {
          action: 'auth.login',
          target: null,
          outcome: 'denied',
          detail: `wrong username or password for "${input.username.slice(0, 64)}"`,
        });
        throw new AppError('auth.invalid_credentials', 'Check the username and password and try again.');
      }
      await deps.afterPassword?.(ctx, userId);
      return openSession(deps, ctx, userId, {});
    },

    /**
     * Opens a session for a user whose sign-in another module completed: a second factor (`within` runs in the
     * session's transaction, spending the factor's proof; `detail` says which) or single sign-on (`action`
     * `auth.sso.exchange`). The caller has checked that the user is enabled.
     */
    async signIn(
      ctx: RequestCtx,
      userId: string,
      opts: { action?: SessionAction; detail?: string; within?: (trx: Trx) => Promise<void> },
    ): Promise<Session> {
      return openSession(deps, ctx, userId, opts);
    },
  };
}

/** With auth.sso_only on, password sign-in is refused (403 `auth.sso_only`), audited as a denied `auth.login`. */
async function refuseIfSsoOnly({ settings, record }: SessionsServiceDeps, ctx: RequestCtx): Promise<void> {
  if (!settings().auth.sso_only) return;
  await record(ctx, {
    action: 'auth.login',
    target: null,
    outcome: 'denied',
    detail: 'password sign-in is turned off (auth.sso_only)',
  });
  throw new AppError(
    'auth.sso_only',
    'Sign in through single sign-on (GET /api/auth/methods lists the providers); API tokens still work.',
  );
}

/** Ending sessions: the caller's own, or all of a user's. */
function sessionEnding({ change, store, clock, cache }: SessionsServiceDeps) {
  return {
    /**
     * Ends every live session of a user but `exceptId`, inside the caller's transaction (a disable or a
     * password change); the caller clears the auth caches after its commit. The count ended.
     */
    async endAllOf(trx: Trx, userId: string, exceptId: string | null, now: number): Promise<number> {
      return store.revokeAllOfUser(trx, userId, exceptId, now);
    },

    /** Ends the caller's session; its token stops working at once. */
    async logout(ctx: RequestCtx): Promise<void> {
      const id = ctx.principal?.tokenId;
      if (!id || ctx.principal?.tokenKind !== 'session')
        throw new AppError('forbidden', 'Only a session can sign out.', { required_permission: 'session' });
      await change(ctx, { action: 'auth.logout', target: { type: 'session', id } }, async (trx) => {
        await store.revoke(trx, id, clock.now());
        return { before: { session_id: id }, after: null };
      });
      cache.clear();
    },
  };
}

/** Who a session secret belongs to, and who is calling. */
function sessionIdentity({ db, store, clock, cache, users }: SessionsServiceDeps) {
  return {
    /** The principal for a session secret (`gts_…`), or null. Scopes are the user's current permissions. */
    async authenticate(secret: string): Promise<Principal | null> {
      if (!verifyTokenChecksum(secret, 'gts')) return null;
      const hash = hashToken(secret);
      const now = clock.now();
      const live = await cache.getOrLoad(
        hash,
        async () => (await store.findLiveByHash(db, hash, now)) ?? null,
      );
      if (!live || live.expiresAt <= now) return null;
      const owner = union(live.rolePermissions);
      return {
        userId: live.userId,
        username: live.username,
        tokenId: live.sessionId,
        tokenKind: 'session',
        scopes: owner,
        ownerScopes: owner,
        roleIds: live.roleIds,
        expiresAt: live.expiresAt,
      };
    },

    /** Who is calling, with the effective scopes of the token used. */
    async me(ctx: RequestCtx): Promise<Me> {
      const p = ctx.principal;
      if (!p) throw new AppError('unauthenticated');
      return {
        user: await users.get(p.userId),
        token: {
          id: p.tokenId,
          kind: p.tokenKind,
          expires_at: p.expiresAt === null ? null : new Date(p.expiresAt).toISOString(),
        },
        scopes: [...p.scopes],
        ...(p.mustEnrolMfa === true ? { mfa_enrollment_required: true as const } : {}),
      };
    },
  };
}
