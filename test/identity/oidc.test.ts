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
  const logLines: string[] = [];
  /** Secrets handed out or taken in (client secrets, tickets, session tokens): never in a log line. */
  const secrets: string[] = [];

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
    app = await startTestApp(database().url, { logLines });
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
      return res.json<{ id: string }>();
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
  const toCallback = async (providerId: string, sub: string, returnTo = '/login') => {
    idp.signInAs(sub);
    const start = await app.request({
      method: 'GET',
      url: `/api/auth/oidc/${providerId}/start?return_to=${encodeURIComponent(returnTo)}`,
      token: null,
    });
    expect(start.statusCode, start.body).toBe(302);
    return followProvider(String(start.headers.location), ORIGIN);
  };
  const callback = (url: URL) => {
    // The one-time code and state must never reach a log line (url-secrets redacts them).
    for (const name of ['code', 'state']) {
      const value = url.searchParams.get(name);
      if (value) secrets.push(value);
    }
    return app.request({ method: 'GET', url: `${url.pathname}${url.search}`, token: null });
  };
  const exchange = (ticket: string) =>
    app.request({ method: 'POST', url: '/api/auth/oidc/exchange', payload: { ticket }, token: null });

  /** A whole sign-in; the session answer. */
  const signIn = async (providerId: string, sub: string) => {
    const res = await callback(await toCallback(providerId, sub));
    expect(res.statusCode, res.body).toBe(302);
    const location = String(res.headers.location);
    expect(location).toMatch(/^\/login#sso=[A-Za-z0-9_-]{43}$/);
    secrets.push(location.split('#sso=')[1]!);
    const session = await exchange(location.split('#sso=')[1]!);
    expect(session.statusCode, session.body).toBe(200);
    secrets.push(session.json<{ token: string }>().token);
    return session.json<{ token: string; user: { id: string; username: string; email: string | null } }>();
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

    it('applies the role mapping at every sign-in: a role added, then taken away, others left alone', async () => {
      idp.accounts.set('bob-sub', {
        sub: 'bob-sub',
        email: 'bob@example.com',
        preferred_username: 'bob',
        groups: [],
      });
      const first = await signIn(jit.id, 'bob-sub');
      expect(await rolesOf(first.user.id)).toEqual(['viewer']);
      idp.accounts.get('bob-sub')!.groups = ['platform-admins', 'other'];
      const second = await signIn(jit.id, 'bob-sub');
      expect(second.user.id).toBe(first.user.id);
      expect(await rolesOf(first.user.id)).toEqual(['platform', 'viewer']);
      idp.accounts.get('bob-sub')!.groups = ['other'];
      await signIn(jit.id, 'bob-sub');
      // platform is named by the mapping and no longer matches; viewer (a default role) is not named: it stays.
      expect(await rolesOf(first.user.id)).toEqual(['viewer']);
      const audit = await app.request({
        method: 'GET',
        url: `/api/audit?action=role.unassign&target=user:${first.user.id}`,
      });
      expect(audit.json().data[0]).toMatchObject({ actor: 'system', outcome: 'success' });
    });

    it('a same username from another subject gets a unique username', async () => {
      idp.accounts.set('bob2-sub', { sub: 'bob2-sub', preferred_username: 'Bob' });
      const s = await signIn(jit.id, 'bob2-sub');
      expect(s.user.username).toBe('bob-2');
      expect(s.user).toMatchObject({ external_id: 'bob2-sub', provider_id: jit.id });
    });

    it('lists the enabled providers on the public sign-in methods', async () => {
      const res = await app.request({ method: 'GET', url: '/api/auth/methods', token: null });
      expect(res.statusCode).toBe(200);
      expect(res.json().password).toBe(true);
      expect(res.json().providers).toContainEqual({
        id: jit.id,
        name: expect.any(String),
        start_url: `/api/auth/oidc/${jit.id}/start`,
      });
    });
  });

  /** A denied sign-in: the problem, one denied audit row with the reason, no user, no session. */
  const expectDenied = async (
    run: () => Promise<Awaited<ReturnType<typeof callback>>>,
    status: number,
    code: string,
    reason: RegExp,
  ) => {
    const before = await counts(app);
    const sessionsBefore = await sessionCount();
    const res = await run();
    expectProblem(res, status, code);
    const after = await counts(app);
    expect(after.users).toBe(before.users);
    expect(after.outbox).toBe(before.outbox);
    expect(await sessionCount()).toBe(sessionsBefore);
    const audit = await app.request({
      method: 'GET',
      url: '/api/audit?action=auth.sso.login&outcome=denied&limit=1&order=desc',
    });
    expect(audit.json().data[0].detail).toMatch(reason);
    return res;
  };
  const sessionCount = async () =>
    Number(
      (
        await app.database.db
          .selectFrom('sessions')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('reuses a provider discovery across sign-ins, and discovers again once the provider changes', async () => {
    await signIn(jit.id, 'alice-sub');
    const before = idp.discoveries();
    await signIn(jit.id, 'alice-sub');
    await signIn(jit.id, 'alice-sub');
    expect(idp.discoveries()).toBe(before);
    app.clock.advance(1000);
    const changed = await app.request({
      method: 'PUT',
      url: `/api/auth/providers/${jit.id}`,
      payload: { scopes: ['openid', 'email', 'profile', 'groups'] },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    await signIn(jit.id, 'alice-sub');
    expect(idp.discoveries()).toBe(before + 1);
  });

  describe('refuses', () => {
    beforeAll(() => {
      idp.accounts.set('mallory-sub', {
        sub: 'mallory-sub',
        email: 'mallory@example.com',
        preferred_username: 'mallory',
        groups: ['platform-admins'],
      });
    });

    it('a tampered ID token (signature), an expired one, one from another issuer', async () => {
      for (const [how, reason] of [
        ['signature', /token validation failed.*signature/i],
        ['expired', /token validation failed.*"exp" \(expiration time\)/],
        ['issuer', /token validation failed.*"iss" \(issuer\)/],
      ] as const) {
        const cb = await toCallback(jit.id, 'mallory-sub');
        idp.tamperNext(how);
        await expectDenied(() => callback(cb), 403, 'auth.sso_denied', reason);
      }
    });

    it('a wrong nonce', async () => {
      idp.signInAs('mallory-sub');
      const start = await app.request({ method: 'GET', url: `/api/auth/oidc/${jit.id}/start`, token: null });
      const authorize = new URL(String(start.headers.location));
      authorize.searchParams.set('nonce', 'an-attackers-nonce');
      const cb = await followProvider(authorize.toString(), ORIGIN);
      await expectDenied(() => callback(cb), 403, 'auth.sso_denied', /nonce/);
    });

    it('a forged, a reused and an expired state', async () => {
      const cb = await toCallback(jit.id, 'mallory-sub');
      const forged = new URL(cb);
      forged.searchParams.set('state', 'forged-state-value');
      await expectDenied(() => callback(forged), 400, 'auth.sso_state_invalid', /state/);
      expect((await callback(cb)).statusCode).toBe(302);
      await expectDenied(() => callback(cb), 400, 'auth.sso_state_invalid', /state/);
      const late = await toCallback(jit.id, 'mallory-sub');
      app.clock.advance(11 * 60_000);
      await expectDenied(() => callback(late), 400, 'auth.sso_state_invalid', /state/);
      // A state of one provider at another's callback.
      const other = await toCallback(jit.id, 'mallory-sub');
      const swapped = new URL(other.toString().replace(jit.id, noJit.id));
      await expectDenied(() => callback(swapped), 400, 'auth.sso_state_invalid', /state/);
      await expectDenied(
        () =>
          app.request({
            method: 'GET',
            url: `/api/auth/oidc/${jit.id}/callback?hd=x&authuser=0`,
            token: null,
          }),
        400,
        'auth.sso_state_invalid',
        /state/,
      );
    });

    it('a browser that is refused goes back to the sign-in page with the problem code, not a JSON page', async () => {
      const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
      const before = await counts(app);
      const sessionsBefore = await sessionCount();
      const cb = await toCallback(jit.id, 'mallory-sub');
      const forged = new URL(cb);
      forged.searchParams.set('state', 'forged-state-value');
      const refused = await app.request({
        method: 'GET',
        url: `${forged.pathname}${forged.search}`,
        headers: html,
        token: null,
      });
      expect(refused.statusCode).toBe(302);
      expect(refused.headers.location).toBe('/login#sso_error=auth.sso_state_invalid');
      expect(refused.headers['cache-control']).toBe('no-store');
      idp.tamperNext('signature');
      const tampered = await app.request({
        method: 'GET',
        url: `${cb.pathname}${cb.search}`,
        headers: html,
        token: null,
      });
      expect(tampered.headers.location).toBe('/login#sso_error=auth.sso_denied');
      const unknown = await app.request({
        method: 'GET',
        url: '/api/auth/oidc/idp_01jd8y6v7kf3zr4x6qk9n2m1ab/start',
        headers: html,
        token: null,
      });
      expect(unknown.headers.location).toBe('/login#sso_error=not_found');
      // Nothing was written, and both refusals are audited with their reasons.
      expect((await counts(app)).users).toBe(before.users);
      expect(await sessionCount()).toBe(sessionsBefore);
      const audit = await app.request({
        method: 'GET',
        url: '/api/audit?action=auth.sso.login&outcome=denied&limit=2',
      });
      expect(
        audit
          .json()
          .data.map((e: { detail: string }) => e.detail)
          .join(' '),
      ).toMatch(/state[\s\S]*signature|signature[\s\S]*state/i);
    });

    it('an unknown subject without jit, an email domain not allowed, a disabled user', async () => {
      idp.accounts.set('nojit-sub', { sub: 'nojit-sub', email: 'x@example.com' });
      await expectDenied(
        async () => callback(await toCallback(noJit.id, 'nojit-sub')),
        403,
        'auth.sso_denied',
        /just-in-time/,
      );
      idp.accounts.set('eve-sub', { sub: 'eve-sub', email: 'eve@evil.test', email_verified: true });
      await expectDenied(
        async () => callback(await toCallback(domains.id, 'eve-sub')),
        403,
        'auth.sso_denied',
        /domain/,
      );
      idp.accounts.set('carol-sub', { sub: 'carol-sub', email: 'carol@example.com', email_verified: true });
      const carol = await signIn(domains.id, 'carol-sub');
      expect(carol.user.email).toBe('carol@example.com');
      const off = await app.request({
        method: 'PUT',
        url: `/api/users/${carol.user.id}`,
        payload: { disabled: true },
      });
      expect(off.statusCode, off.body).toBe(200);
      await expectDenied(
        async () => callback(await toCallback(domains.id, 'carol-sub')),
        403,
        'auth.sso_denied',
        /disabled/,
      );
    });

    it('a provider whose discovery document names another issuer', async () => {
      const res = await createProvider(
        providerBody({ issuer: idp.issuer.replace('127.0.0.1', 'localhost') }),
      );
      expect(res.statusCode, res.body).toBe(201);
      const before = await counts(app);
      const p = expectProblem(
        await app.request({ method: 'GET', url: `/api/auth/oidc/${res.json().id}/start`, token: null }),
        403,
        'auth.sso_denied',
      );
      expect(p.detail).toMatch(/discovery failed.*issuer/i);
      expect((await counts(app)).users).toBe(before.users);
      await app.request({ method: 'DELETE', url: `/api/auth/providers/${res.json().id}` });
    });

    it('ticket exchanges count against the sign-in limit', async () => {
      await setSettings({ rate_limits: { login: { max: 2, window_s: 60 } } });
      try {
        // From an address of its own, so earlier exchanges in this file do not count.
        const remoteAddress = database().name === 'sqlite' ? '192.0.2.7' : '192.0.2.8';
        const fromIp = (ticket: string) =>
          app.request({
            method: 'POST',
            url: '/api/auth/oidc/exchange',
            payload: { ticket },
            token: null,
            remoteAddress,
          });
        for (let i = 0; i < 2; i++) expectProblem(await fromIp(`guess-${i}`), 401, 'auth.sso_ticket_invalid');
        expectProblem(await fromIp('guess-3'), 429, 'rate_limited');
      } finally {
        await setSettings({ rate_limits: { login: { max: 1_000_000, window_s: 60 } } });
      }
    });

    it('bad tickets and bad return_to', async () => {
      expectProblem(await exchange('not-a-ticket'), 401, 'auth.sso_ticket_invalid');
      const cb = await toCallback(jit.id, 'mallory-sub');
      const ticket = String((await callback(cb)).headers.location).split('#sso=')[1]!;
      app.clock.advance(61_000);
      expectProblem(await exchange(ticket), 401, 'auth.sso_ticket_invalid');
      for (const bad of [
        'https://evil.test/',
        '//evil.test/x',
        '/\\evil.test',
        'console',
        '/a#b',
        '/x\u0000',
      ])
        expectProblem(
          await app.request({
            method: 'GET',
            url: `/api/auth/oidc/${jit.id}/start?return_to=${encodeURIComponent(bad)}`,
            token: null,
          }),
          400,
          'validation_failed',
        );
    });

    it('unknown providers: 404 on every route', async () => {
      const unknown = 'idp_01jd8y6v7kf3zr4x6qk9n2m1ab';
      for (const [method, url] of [
        ['GET', `/api/auth/providers/${unknown}`],
        ['DELETE', `/api/auth/providers/${unknown}`],
        ['GET', '/api/auth/providers/not-an-id'],
      ] as const)
        expectProblem(await app.request({ method, url }), 404, 'not_found');
      expectProblem(
        await app.request({ method: 'PUT', url: `/api/auth/providers/${unknown}`, payload: { name: 'x' } }),
        404,
        'not_found',
      );
      expectProblem(
        await app.request({ method: 'GET', url: `/api/auth/oidc/${unknown}/start`, token: null }),
        404,
        'not_found',
      );
      expectProblem(
        await app.request({
          method: 'GET',
          url: `/api/auth/oidc/${unknown}/callback?state=x&code=y`,
          token: null,
        }),
        404,
        'not_found',
      );
    });
  });

  describe('managing providers', () => {
    it('never shows, logs or stores the client secret in plain text; PUT without it keeps it', async () => {
      const secret = 'very-secret-value-4242';
      secrets.push(secret, idp.clientSecret);
      const created = await createProvider(providerBody({ client_secret: secret }));
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json()).toMatchObject({
        client_secret_set: true,
        scopes: expect.any(Array),
        jit: false,
        enabled: true,
      });
      const id = created.json().id as string;
      const answers = [
        created.body,
        (await app.request({ method: 'GET', url: `/api/auth/providers/${id}` })).body,
        (await app.request({ method: 'GET', url: '/api/auth/providers' })).body,
        (
          await app.request({
            method: 'PUT',
            url: `/api/auth/providers/${id}`,
            payload: { client_secret: `${secret}-2` },
          })
        ).body,
        (await app.request({ method: 'GET', url: '/api/audit?limit=500' })).body,
        (await app.request({ method: 'GET', url: '/api/events/types' })).body,
      ];
      for (const body of answers) expect(body).not.toContain(secret);
      const row = await app.database.db
        .selectFrom('auth_providers')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(row.client_secret).toMatch(/^v1\./);
      expect(JSON.stringify(row)).not.toContain(secret);
      // The sealed secret is bound to its row: PUT without it keeps it, and a sign-in through it works.
      const renamed = await app.request({
        method: 'PUT',
        url: `/api/auth/providers/${jit.id}`,
        payload: { enabled: true },
      });
      expect(renamed.statusCode, renamed.body).toBe(200);
      await signIn(jit.id, 'alice-sub');
      expect((await app.request({ method: 'DELETE', url: `/api/auth/providers/${id}` })).statusCode).toBe(
        204,
      );
    });

    it('keeps the issuer of a provider with linked users; a disabled provider offers no sign-in', async () => {
      const moved = await app.request({
        method: 'PUT',
        url: `/api/auth/providers/${jit.id}`,
        payload: { issuer: idp.issuer.replace('127.0.0.1', 'localhost') },
      });
      const p = expectProblem(moved, 422, 'unprocessable');
      expect(p.errors?.[0]?.pointer).toBe('/issuer');
      const same = await app.request({
        method: 'PUT',
        url: `/api/auth/providers/${jit.id}`,
        payload: { issuer: idp.issuer },
      });
      expect(same.statusCode, same.body).toBe(200);
      const off = await app.request({
        method: 'PUT',
        url: `/api/auth/providers/${noJit.id}`,
        payload: { enabled: false },
      });
      expect(off.json()).toMatchObject({ enabled: false });
      expectProblem(
        await app.request({ method: 'GET', url: `/api/auth/oidc/${noJit.id}/start`, token: null }),
        404,
        'not_found',
      );
      const methods = (await app.request({ method: 'GET', url: '/api/auth/methods', token: null })).json();
      expect(methods.providers.map((m: { id: string }) => m.id)).not.toContain(noJit.id);
      await app.request({
        method: 'PUT',
        url: `/api/auth/providers/${noJit.id}`,
        payload: { enabled: true },
      });
    });

    it('refuses bad bodies: malformed issuer, unknown roles, wrong types, unknown fields, huge bodies', async () => {
      const before = await counts(app);
      const bad = async (body: Record<string, unknown>, status: number, code: string, pointer?: string) => {
        const p = expectProblem(await createProvider(body), status, code);
        if (pointer) expect(p.errors?.map((e) => e.pointer)).toContain(pointer);
      };
      await bad(providerBody({ issuer: 'not a url' }), 400, 'validation_failed', '/issuer');
      await bad(providerBody({ issuer: 'ftp://127.0.0.1/' }), 400, 'validation_failed', '/issuer');
      await bad(providerBody({ issuer: 'http://example.com' }), 400, 'validation_failed', '/issuer');
      await bad(providerBody({ issuer: `${idp.issuer}?x=1` }), 400, 'validation_failed', '/issuer');
      await bad(providerBody({ default_roles: ['nope'] }), 422, 'unprocessable', '/default_roles/0');
      await bad(
        providerBody({ role_mapping: [{ claim: 'groups', contains: 'x', role: 'ghost' }] }),
        422,
        'unprocessable',
        '/role_mapping/0/role',
      );
      await bad(
        providerBody({ role_mapping: [{ claim: 'groups', contains: 'x', equals: 'y', role: 'viewer' }] }),
        400,
        'validation_failed',
      );
      await bad(providerBody({ jit: 'yes' }), 400, 'validation_failed');
      await bad(providerBody({ client_secret: 42 }), 400, 'validation_failed');
      await bad(providerBody({ id: 'idp_x' }), 400, 'validation_failed');
      await bad({ name: 'x' }, 400, 'validation_failed');
      await bad(providerBody({ name: 'a'.repeat(2 * 1024 * 1024) }), 413, 'payload_too_large');
      expectProblem(
        await app.request({
          method: 'POST',
          url: '/api/auth/oidc/exchange',
          payload: { ticket: 'x'.repeat(9000) },
          token: null,
        }),
        413,
        'payload_too_large',
      );
      expectProblem(
        await app.request({
          method: 'POST',
          url: '/api/auth/oidc/exchange',
          payload: { ticket: 7 },
          token: null,
        }),
        400,
        'validation_failed',
      );
      const dup = await createProvider(providerBody({ name: 'dup-name' }));
      expect(dup.statusCode).toBe(201);
      expectProblem(
        await createProvider(providerBody({ name: 'dup-name' })),
        409,
        'auth_provider.name_taken',
      );
      await app.request({ method: 'DELETE', url: `/api/auth/providers/${dup.json().id}` });
      const after = await counts(app);
      expect(after.users).toBe(before.users);
    });

    it('weaker tokens: auth:read cannot write, no auth scope cannot read, and no escalation through the mapping', async () => {
      const reader = await makePrincipal(app, { permissions: ['auth:read'] });
      const nobody = await makePrincipal(app, { permissions: ['users:read'] });
      const writer = await makePrincipal(app, { permissions: ['auth:read', 'auth:write'] });
      expect(
        (await app.request({ method: 'GET', url: '/api/auth/providers', token: reader.token })).statusCode,
      ).toBe(200);
      expectProblem(await createProvider(providerBody(), reader.token), 403, 'forbidden');
      expectProblem(
        await app.request({ method: 'DELETE', url: `/api/auth/providers/${jit.id}`, token: reader.token }),
        403,
        'forbidden',
      );
      expectProblem(
        await app.request({ method: 'GET', url: '/api/auth/providers', token: nobody.token }),
        403,
        'forbidden',
      );
      // Mapping a role gives it without anyone's scopes at sign-in: configuring it needs what it grants.
      const esc = expectProblem(
        await createProvider(providerBody({ default_roles: ['admin'] }), writer.token),
        403,
        'forbidden',
      );
      expect(esc.required_permission).toBeDefined();
      expectProblem(
        await app.request({
          method: 'PUT',
          url: `/api/auth/providers/${jit.id}`,
          payload: { enabled: false },
          token: writer.token,
        }),
        403,
        'forbidden',
      );
      const ok = await createProvider(providerBody(), writer.token);
      expect(ok.statusCode, ok.body).toBe(201);
    });

    it('SSRF: a loopback issuer is refused at save and at sign-in while private targets are refused', async () => {
      await setSettings({ webhooks: { allow_private_targets: false } });
      try {
        for (const issuer of [
          idp.issuer,
          idp.issuer.replace('http:', 'https:'),
          'https://[::1]:1/',
          'https://localhost/',
        ])
          expectProblem(await createProvider(providerBody({ issuer })), 400, 'validation_failed');
        const before = await counts(app);
        expectProblem(
          await app.request({ method: 'GET', url: `/api/auth/oidc/${jit.id}/start`, token: null }),
          403,
          'auth.sso_denied',
        );
        expect((await counts(app)).users).toBe(before.users);
      } finally {
        await setSettings({ webhooks: { allow_private_targets: true } });
      }
    });

    it('auth.sso_only refuses password sign-in; API tokens still work', async () => {
      const pw = 'correct horse battery staple';
      const u = await app.request({ method: 'POST', url: '/api/users', payload: makeUser({ password: pw }) });
      await setSettings({ auth: { sso_only: true } });
      try {
        const res = await app.request({
          method: 'POST',
          url: '/api/auth/login',
          payload: { username: u.json().username, password: pw },
          token: null,
        });
        const p = expectProblem(res, 403, 'auth.sso_only');
        expect(p.detail).toMatch(/single sign-on/);
        // The bootstrap token, and any API token, still work.
        expect((await app.request({ method: 'GET', url: '/api/me' })).statusCode).toBe(200);
        const minted = await makePrincipal(app, { permissions: ['users:read'] });
        expect(
          (await app.request({ method: 'GET', url: '/api/users', token: minted.token })).statusCode,
        ).toBe(200);
        expect(
          (await app.request({ method: 'GET', url: '/api/auth/methods', token: null })).json().password,
        ).toBe(false);
        await signIn(jit.id, 'alice-sub');
      } finally {
        await setSettings({ auth: { sso_only: false } });
      }
      const back = await app.request({
        method: 'POST',
        url: '/api/auth/login',
        payload: { username: u.json().username, password: pw },
        token: null,
      });
      expect(back.statusCode).toBe(200);
    });
  });

  // Last: everything above handed out or took in secrets; none of them may be in a log line.
  it('logged no client secret, authorization code, state, ticket or session token', () => {
    expect(secrets.length).toBeGreaterThan(10);
    expect(logLines.length).toBeGreaterThan(10);
    const log = logLines.join('\n');
    expect(log).toContain('/api/auth/oidc/');
    for (const secret of secrets) expect(log, 'a secret in the log').not.toContain(secret);
  });
});
