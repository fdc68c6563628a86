import { randomBytes } from 'node:crypto';
import { AppError } from '../../errors.js';
import type { RequestCtx } from '../../lib/request-ctx.js';
import { SecretBoxError } from '../../lib/secret-box.js';
import { hashToken } from '../../lib/secret-token.js';
import type { User } from '../users/schemas.js';
import type { Session } from '../sessions/schemas.js';
import {
  authorizationUrl,
  discover,
  randomNonce,
  randomState,
  randomVerifier,
  redeem,
  SsoDenied,
  type OidcDeps,
} from './oidc.js';
import type { AuthMethods, AuthProvider, SsoCallbackQuery } from './schemas.js';
import { providerId, secretContext, type AuthProvidersDeps } from './service.js';
import { applyRoleMapping, emailAllowed, usernameCandidates } from './claims.js';
import { checkReturnTo } from './validate.js';

/** How long a browser has to come back from the provider, and to exchange its ticket. */
export const STATE_TTL_MS = 10 * 60_000;
export const TICKET_TTL_MS = 60_000;

type Parts = {
  oidc: OidcDeps;
  enabledProvider: (rawId: string) => Promise<AuthProvider>;
  deny: (ctx: RequestCtx, id: string, reason: string, state?: boolean) => Promise<never>;
};

/** The single sign-on flow: start, callback, ticket exchange, and the sign-in methods. */
export function ssoFlow(deps: AuthProvidersDeps) {
  const { db, store, record, settings } = deps;
  const parts: Parts = {
    oidc: {
      fetch: deps.fetch,
      allowPrivate: () => settings().webhooks.allow_private_targets,
      secrets: deps.secrets,
      sealedSecret: (id) => store.findSealedSecret(db, id),
      secretContext,
    },
    /** An enabled provider, or 404. */
    enabledProvider: async (rawId) => {
      const p = await store.findById(db, providerId(rawId));
      if (!p?.enabled) throw new AppError('not_found', 'No enabled identity provider has this id.');
      return p;
    },
    /** Audits a refused sign-in and answers it: 400 for the state, 403 for anything else. */
    deny: async (ctx, id, reason, state = false) => {
      await record(ctx, {
        action: 'auth.sso.login',
        target: { type: 'auth_provider', id },
        outcome: 'denied',
        detail: reason,
      });
      throw state
        ? new AppError('auth.sso_state_invalid', `The sign-in cannot continue: ${reason}. Start it again.`)
        : new AppError('auth.sso_denied', `Single sign-on refused: ${reason}.`);
    },
  };
  return { ...ssoStart(deps, parts), ...ssoCallback(deps, parts), ...ssoSignIn(deps) };
}

function ssoStart(deps: AuthProvidersDeps, { oidc, enabledProvider, deny }: Parts) {
  const { db, store, clock, record } = deps;
  return {
    /**
     * The provider's authorization URL for a new sign-in (PKCE S256, state, nonce; 10 minutes to come back),
     * after a fresh discovery. `origin`: where the callback is (auth.public_url, else the request's).
     * Throws `not_found`, `validation_failed` (return_to), `auth.sso_denied` (provider unreachable or refused).
     */
    async start(
      ctx: RequestCtx,
      rawId: string,
      rawReturnTo: string | undefined,
      origin: string,
    ): Promise<string> {
      const provider = await enabledProvider(rawId);
      const returnTo = checkReturnTo(rawReturnTo);
      let config;
      try {
        config = await discover(oidc, provider);
      } catch (err) {
        if (err instanceof SsoDenied) return deny(ctx, provider.id, err.message);
        throw err;
      }
      const [state, nonce, verifier] = [randomState(), randomNonce(), randomVerifier()];
      const stateHash = hashToken(state);
      const redirectUri = `${origin}/api/auth/oidc/${provider.id}/callback`;
      const now = clock.now();
      await store.purgeAttempts(db, now - 3_600_000);
      await store.insertAttempt(db, {
        state_hash: stateHash,
        provider_id: provider.id,
        nonce,
        code_verifier: deps.secrets.seal(verifier, `auth_sso_attempts.code_verifier:${stateHash}`),
        redirect_uri: redirectUri,
        return_to: returnTo,
        created_at: now,
        expires_at: now + STATE_TTL_MS,
        used_at: null,
        ticket_hash: null,
        user_id: null,
        ticket_expires_at: null,
        ticket_used_at: null,
      });
      await record(ctx, {
        action: 'auth.sso.start',
        target: { type: 'auth_provider', id: provider.id },
        outcome: 'success',
      });
      return authorizationUrl(config, { redirectUri, scopes: provider.scopes, state, nonce, verifier });
    },
  };
}

function ssoCallback(deps: AuthProvidersDeps, { oidc, deny }: Parts) {
  const { db, store, clock, record } = deps;
  return {
    /**
     * The provider sent the browser back: the state is consumed (once), the code redeemed and the ID token
     * checked by openid-client, the user found or created (jit), its mapped roles set; the answer is where to
     * send the browser, with a one-time ticket in the fragment. Throws `not_found`, `auth.sso_state_invalid`,
     * `auth.sso_denied`; every outcome is audited as `auth.sso.login`.
     */
    async callback(ctx: RequestCtx, rawId: string, query: SsoCallbackQuery, search: string): Promise<string> {
      const id = providerId(rawId);
      const provider = await store.findById(db, id);
      if (!provider) throw new AppError('not_found', 'No identity provider has this id.');
      const now = clock.now();
      const attempt = query.state ? await store.consumeState(db, hashToken(query.state), now) : undefined;
      if (!attempt || attempt.provider_id !== id || !query.state)
        return deny(ctx, id, 'unknown, used or expired state', true);
      if (!provider.enabled) return deny(ctx, id, 'the provider is disabled');
      if (query.error) return deny(ctx, id, `the provider answered ${query.error}`);
      let identity;
      try {
        const config = await discover(oidc, provider);
        const verifier = deps.secrets.open(
          attempt.code_verifier,
          `auth_sso_attempts.code_verifier:${attempt.state_hash}`,
        );
        identity = await redeem(config, new URL(`${attempt.redirect_uri}${search}`), {
          state: query.state,
          nonce: attempt.nonce,
          verifier,
        });
      } catch (err) {
        if (err instanceof SsoDenied) return deny(ctx, id, err.message);
        if (err instanceof SecretBoxError)
          return deny(ctx, id, 'the sign-in state does not open with this key');
        throw err;
      }
      const user = await resolveUser(deps, ctx, provider, identity, (reason) => deny(ctx, id, reason));
      await applyRoleMapping(deps.roles, ctx, user.id, provider, identity.claims);
      const ticket = randomBytes(32).toString('base64url');
      await store.setTicket(db, attempt.state_hash, {
        hash: hashToken(ticket),
        userId: user.id,
        expiresAt: clock.now() + TICKET_TTL_MS,
      });
      await record(
        { ...ctx, principal: null },
        {
          action: 'auth.sso.login',
          target: { type: 'user', id: user.id },
          outcome: 'success',
          detail: `${user.username} through ${provider.name}`,
        },
      );
      return `${attempt.return_to}#sso=${ticket}`;
    },
  };
}

function ssoSignIn({ db, store, clock, record, settings, users, sessions }: AuthProvidersDeps) {
  return {
    /** A ticket for a session, once, within 60 s. Throws `auth.sso_ticket_invalid`. */
    async exchange(ctx: RequestCtx, ticket: string): Promise<Session> {
      const userId = await store.consumeTicket(db, hashToken(ticket), clock.now());
      const user = userId ? await users.get(userId).catch(() => undefined) : undefined;
      if (!user || user.disabled) {
        await record(ctx, {
          action: 'auth.sso.exchange',
          target: null,
          outcome: 'denied',
          detail: 'unknown, used or expired ticket',
        });
        throw new AppError(
          'auth.sso_ticket_invalid',
          'Sign in again: the ticket is unknown, used or expired.',
        );
      }
      return sessions.signIn(ctx, user.id, { action: 'auth.sso.exchange' });
    },

    /** What the sign-in page offers: passwords (unless auth.sso_only) and the enabled providers. */
    async methods(): Promise<AuthMethods> {
      const providers = await store.listEnabled(db);
      return {
        password: !settings().auth.sso_only,
        providers: providers.map((p) => ({
          id: p.id,
          name: p.name,
          start_url: `/api/auth/oidc/${p.id}/start`,
        })),
      };
    },
  };
}

/** The user this subject is linked to, or a new one (jit); refused when not allowed or disabled. */
async function resolveUser(
  { users, roles }: AuthProvidersDeps,
  ctx: RequestCtx,
  provider: AuthProvider,
  identity: { sub: string; claims: Record<string, unknown> },
  refuse: (reason: string) => Promise<never>,
): Promise<User> {
  const email = typeof identity.claims.email === 'string' ? identity.claims.email.toLowerCase() : null;
  if (provider.email_domains !== null && !emailAllowed(email, identity.claims, provider.email_domains))
    return refuse(`the email domain is not allowed (${email ?? 'no verified email'})`);
  let user = await users.findLinked(provider.id, identity.sub);
  if (!user) {
    if (!provider.jit) return refuse('no user is linked to this subject and just-in-time creation is off');
    const system = { ...ctx, principal: null, system: true };
    user = await users.createLinked(system, {
      providerId: provider.id,
      externalId: identity.sub,
      usernames: usernameCandidates(identity.claims),
      email: email !== null && email.length <= 254 ? email : null,
      displayName: typeof identity.claims.name === 'string' ? identity.claims.name.slice(0, 128) : null,
    });
    await applyDefaultRoles(roles, system, user.id, provider.default_roles);
  }
  if (user.disabled) return refuse('the user is disabled');
  return user;
}
/** Gives a user created at its first sign-in the provider's default roles (as the server). */
async function applyDefaultRoles(
  roles: AuthProvidersDeps['roles'],
  system: RequestCtx,
  userId: string,
  names: string[],
): Promise<void> {
  for (const role of await roles.findByNames(names)) await roles.assign(system, userId, role.id);
}
