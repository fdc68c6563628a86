import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemCtx } from '../../src/lib/request-ctx.js';
import {
  counts,
  expectProblem,
  makePrincipal,
  makeUser,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { forEachDialect } from '../helpers/databases.js';
import { followProvider, startTestProvider, type TestProvider } from '../helpers/oidc-provider.js';

const ORIGIN = 'http://gatehouse.test';

forEachDialect((database) => {
  let app: TestApp;
  let idp: TestProvider;
  /** Providers created in beforeAll: jit with mapping, and one without jit. */
  let jit: { id: string };
  let noJit: { id: string };
  let domains: { id: string };

  const setSettings = (patch: Record<string, unknown>) =>
    app.services.config.patch(systemCtx('test'), patch, undefined, false);

  const createProvider = async (body: Record<string, unknown>, token?: string) =>
    app.request({ method: 'POST', url: '/api/auth/providers', payload: body, ...(token ? { token } : {}) });

  const providerBody = (overrides: Record<string, unknown> = {}) => ({
    name: `idp-${Math.random().toString(36).slice(2, 10)}`,
    issuer: idp.issuer,
    client_id: idp.clientId,
    client_secret: idp.clientSecret,
    scopes: ['openid', 'email', 'profile', 'groups'],
    ...overrides,
  });

  beforeAll(async () => {
    app = await startTestApp(database().url);
    idp = await startTestProvider();
    await setSettings({ webhooks: { allow_private_targets: true }, auth: { public_url: ORIGIN } });
    for (const [name, permissions] of [
      ['platform', ['webhooks:read']],
      ['viewer', ['users:read']],
    ] as const) {
      const res = await app.request({ method: 'POST', url: '/api/roles', payload: { name, permissions } });
      expect(res.statusCode, res.body).toBe(201);
    }
    const made = async (overrides: Record<string, unknown>) => {
      const res = await createProvider(providerBody(overrides));
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as { id: string };
    };
    jit = await made({
      jit: true,
      default_roles: ['viewer'],
      role_mapping: [{ claim: 'groups', contains: 'platform-admins', role: 'platform' }],
    });
    noJit = await made({ jit: false });
    domains = await made({ jit: true, email_domains: ['example.com'] });
    idp.setRedirectUris([jit, noJit, domains].map((p) => `${ORIGIN}/api/auth/oidc/${p.id}/callback`));
  });
  afterAll(async () => {
    await app?.close();
    await idp?.close();
  });

  /** start → provider → the callback URL with code and state (not yet sent to Gatehouse). */
  const toCallback = async (providerId: string, sub: string, returnTo = '/console/') => {
    idp.signInAs(sub);
    const start = await app.request({
      method: 'GET',
      url: `/api/auth/oidc/${providerId}/start?return_to=${encodeURIComponent(returnTo)}`,
      token: null,
    });
    expect(start.statusCode, start.body).toBe(302);
    return followProvider(String(start.headers.location), ORIGIN);
  };
  const callback = (url: URL) =>
    app.request({ method: 'GET', url: `${url.pathname}${url.search}`, token: null });
  const exchange = (ticket: string) =>
    app.request({ method: 'POST', url: '/api/auth/oidc/exchange', payload: { ticket }, token: null });

  /** A whole sign-in; the session answer. */
  const signIn = async (providerId: string, sub: string) => {
    const res = await callback(await toCallback(providerId, sub));
    expect(res.statusCode, res.body).toBe(302);
    const location = String(res.headers.location);
    expect(location).toMatch(/^\/console\/#sso=[A-Za-z0-9_-]{43}$/);
    const session = await exchange(location.split('#sso=')[1]!);
    expect(session.statusCode, session.body).toBe(200);
    return session.json() as { token: string; user: { id: string; username: string } };
  };
  const rolesOf = async (userId: string) =>
    (
      (await app.request({ method: 'GET', url: `/api/users/${userId}/roles` })).json().data as {
        name: string;
      }[]
    )
      .map((r) => r.name)
      .sort();

  describe('the sign-in flow', () => {
    it('discovers the provider and signs a new person in: PKCE, state, nonce; JIT with default roles and mapping', async () => {
      idp.accounts.set('alice-sub', {
        sub: 'alice-sub',
        email: 'alice@example.com',
        email_verified: true,
        preferred_username: 'Alice',
        groups: ['platform-admins'],
      });
      const cb = await toCallback(jit.id, 'alice-sub');
      expect(cb.searchParams.get('code')).toBeTruthy();
      const start = new URL(
        String(
          (await app.request({ method: 'GET', url: `/api/auth/oidc/${jit.id}/start`, token: null })).headers
            .location,
        ),
      );
      expect(start.searchParams.get('code_challenge_method')).toBe('S256');
      expect(start.searchParams.get('nonce')).toBeTruthy();
      expect(start.searchParams.get('redirect_uri')).toBe(`${ORIGIN}/api/auth/oidc/${jit.id}/callback`);

      const res = await callback(cb);
      expect(res.statusCode, res.body).toBe(302);
      const ticket = String(res.headers.location).split('#sso=')[1]!;
      const session = await exchange(ticket);
      expect(session.statusCode, session.body).toBe(200);
      const body = session.json();
      expect(body.token).toMatch(/^gts_/);
      expect(body.user).toMatchObject({ username: 'alice', external_id: 'alice-sub', provider_id: jit.id });
      const me = await app.request({ method: 'GET', url: '/api/me', token: body.token });
      expect(me.statusCode).toBe(200);
      expect(me.json().user.id).toBe(body.user.id);
      expect(me.json().scopes).toEqual(expect.arrayContaining(['users:read', 'webhooks:read']));
      expect(await rolesOf(body.user.id)).toEqual(['platform', 'viewer']);
      // The ticket works once.
      expectProblem(await exchange(ticket), 401, 'auth.sso_ticket_invalid');
    });
  });
});
