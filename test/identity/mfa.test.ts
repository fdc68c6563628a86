import * as OTPAuth from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_ROLE,
  counts,
  expectProblem,
  makePrincipal,
  makeUser,
  startTestApp,
  type TestApp,
} from '../helpers/app.js';
import { systemCtx } from '../../src/lib/request-ctx.js';
import { forEachDialect } from '../helpers/databases.js';
import { softAuthenticator } from '../helpers/soft-authenticator.js';

const PASSWORD = 'correct horse battery staple';
const ORIGIN = 'http://localhost:5173';

forEachDialect((database) => {
  let app: TestApp;
  /** Every secret handed out during the run: none may appear in the audit log or in a later answer. */
  const secrets: string[] = [];
  const logLines: string[] = [];

  beforeAll(async () => {
    app = await startTestApp(database().url, { logLines });
    expect((await patchAuth({ public_url: ORIGIN })).statusCode).toBe(200);
  });
  afterAll(async () => app?.close());

  const patchAuth = (auth: object) =>
    app.request({
      method: 'PATCH',
      url: '/api/config',
      payload: JSON.stringify({ auth }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
  const login = (username: string, password = PASSWORD) =>
    app.request({ method: 'POST', url: '/api/auth/login', payload: { username, password }, token: null });
  const second = (payload: object) =>
    app.request({ method: 'POST', url: '/api/auth/login/mfa', payload, token: null });
  const codeFor = (uri: string, offsetMs = 0) =>
    OTPAuth.URI.parse(uri).generate({ timestamp: app.clock.now() + offsetMs });
  /** The next 30-second step, so a new TOTP code exists. */
  const nextStep = () => app.clock.advance(30_000);

  /** A person with a password (and roles), signed in: its id, username and session token. */
  async function person(roles: string[] = []) {
    const res = await app.request({
      method: 'POST',
      url: '/api/users',
      payload: makeUser({ password: PASSWORD }),
    });
    expect(res.statusCode, res.body).toBe(201);
    const { id, username } = res.json<{ id: string; username: string }>();
    for (const role of roles) await app.request({ method: 'PUT', url: `/api/users/${id}/roles/${role}` });
    const session = login(username);
    const token = (await session).json().token as string;
    return { id, username, session: token };
  }

  /** Enrols and confirms a TOTP factor for a session: the factor id, the otpauth URI and the recovery codes. */
  async function enrolTotp(session: string) {
    const res = await app.request({ method: 'POST', url: '/api/me/mfa/totp', payload: {}, token: session });
    expect(res.statusCode, res.body).toBe(201);
    const { id, otpauth_uri: uri } = res.json<{ id: string; otpauth_uri: string }>();
    secrets.push(OTPAuth.URI.parse(uri).secret.base32);
    const confirm = await app.request({
      method: 'POST',
      url: `/api/me/mfa/totp/${id}/confirm`,
      payload: { code: codeFor(uri) },
      token: session,
    });
    expect(confirm.statusCode, confirm.body).toBe(200);
    const codes = confirm.json().recovery_codes as string[];
    secrets.push(...codes);
    nextStep();
    return { id, uri, codes };
  }

  /** The mfa_token of a password sign-in that needs a second factor. */
  async function mfaToken(username: string): Promise<{ token: string; methods: string[] }> {
    const res = await login(username);
    const body = expectProblem(res, 401, 'mfa_required') as { mfa_token?: string; methods?: string[] };
    expect(body.mfa_token).toMatch(/^gtm_[0-9A-Za-z]{40}$/);
    secrets.push(body.mfa_token!);
    return { token: body.mfa_token!, methods: body.methods! };
  }

  async function sessionsOf(userId: string): Promise<number> {
    const row = await app.database.db
      .selectFrom('sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  describe('succeeds', () => {
    it('enrols TOTP: the URI and QR once, confirmed by a code, with ten recovery codes shown once', async () => {
      const p = await person();
      const res = await app.request({
        method: 'POST',
        url: '/api/me/mfa/totp',
        payload: { name: 'Phone' },
        token: p.session,
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const { id, otpauth_uri: uri, qr_svg: qr } = res.json();
      expect(id).toMatch(/^mfa_/);
      const parsed = OTPAuth.URI.parse(uri) as OTPAuth.TOTP;
      expect(parsed).toBeInstanceOf(OTPAuth.TOTP);
      expect(parsed.issuer).toBe('Gatehouse');
      expect(parsed.label).toBe(p.username);
      expect(qr).toMatch(/^<svg/);
      secrets.push(parsed.secret.base32);
      const list = await app.request({ method: 'GET', url: '/api/me/mfa', token: p.session });
      expect(list.json()).toMatchObject({
        factors: [{ id, kind: 'totp', name: 'Phone', status: 'pending' }],
        recovery_codes_left: 0,
      });
      expect(list.body).not.toContain(parsed.secret.base32);
      const confirm = await app.request({
        method: 'POST',
        url: `/api/me/mfa/totp/${id}/confirm`,
        payload: { code: codeFor(uri) },
        token: p.session,
      });
      expect(confirm.statusCode, confirm.body).toBe(200);
      const codes = confirm.json().recovery_codes as string[];
      secrets.push(...codes);
      expect(codes).toHaveLength(10);
      expect(new Set(codes).size).toBe(10);
      for (const c of codes) expect(c).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
      const after = (await app.request({ method: 'GET', url: '/api/me/mfa', token: p.session })).json();
      expect(after).toMatchObject({
        factors: [{ id, status: 'active', confirmed_at: expect.any(String) }],
        recovery_codes_left: 10,
      });
    });

    it('the audit log filters MFA actions exactly (auth.mfa.enrol) and by prefix (auth.mfa.*), with the last segment as verb', async () => {
      const { session } = await person();
      await enrolTotp(session);
      const page = async (action: string) => {
        const res = await app.request({ method: 'GET', url: `/api/audit?limit=500&action=${action}` });
        expect(res.statusCode, res.body).toBe(200);
        return res.json().data as { action: string; verb: string }[];
      };
      const exact = await page('auth.mfa.enrol');
      expect(exact.length).toBeGreaterThan(0);
      expect(new Set(exact.map((e) => e.action))).toEqual(new Set(['auth.mfa.enrol']));
      const prefixed = await page('auth.mfa.*');
      expect(new Set(prefixed.map((e) => e.action))).toEqual(new Set(['auth.mfa.enrol', 'auth.mfa.confirm']));
      // `auth.*` still takes the whole resource; the verb of `auth.mfa.enrol` is `enrol`.
      const resource = await page('auth.*');
      expect(resource.map((e) => e.action)).toEqual(expect.arrayContaining(['auth.mfa.enrol', 'auth.login']));
      expect((await page('enrol')).every((e) => e.action === 'auth.mfa.enrol')).toBe(true);
      for (const bad of ['auth.mfa.enrol.x', 'auth..mfa', 'auth.mfa.*.x', 'AUTH.mfa'])
        expectProblem(
          await app.request({ method: 'GET', url: `/api/audit?action=${bad}` }),
          400,
          'validation_failed',
        );
    });

    it('two factors confirmed at once: exactly one answer carries the recovery codes, and those are the ones that work', async () => {
      const { session, username } = await person();
      const start = async () => {
        const res = await app.request({
          method: 'POST',
          url: '/api/me/mfa/totp',
          payload: {},
          token: session,
        });
        expect(res.statusCode, res.body).toBe(201);
        const { id, otpauth_uri: uri } = res.json<{ id: string; otpauth_uri: string }>();
        secrets.push(OTPAuth.URI.parse(uri).secret.base32);
        return { id, uri };
      };
      const [a, b] = [await start(), await start()];
      const confirm = (f: { id: string; uri: string }) =>
        app.request({
          method: 'POST',
          url: `/api/me/mfa/totp/${f.id}/confirm`,
          payload: { code: codeFor(f.uri) },
          token: session,
        });
      const answers = await Promise.all([confirm(a), confirm(b)]);
      for (const r of answers) expect(r.statusCode, r.body).toBe(200);
      const lists = answers.map((r) => r.json().recovery_codes as string[]);
      secrets.push(...lists.flat());
      expect(lists.map((l) => l.length).sort((x, y) => x - y)).toEqual([0, 10]);
      const issued = lists.find((l) => l.length === 10)!;
      const mine = await app.request({ method: 'GET', url: '/api/me/mfa', token: session });
      expect(mine.json().recovery_codes_left).toBe(10);
      const first = (await login(username)).json<{ mfa_token: string }>().mfa_token;
      const signedIn = await second({ mfa_token: first, recovery_code: issued[0] });
      expect(signedIn.statusCode, signedIn.body).toBe(200);
    });

    it('a password sign-in then needs the code; the code gives a session as a password sign-in does', async () => {
      const p = await person();
      const { uri } = await enrolTotp(p.session);
      const { token, methods } = await mfaToken(p.username);
      expect(methods).toEqual(['totp', 'recovery']);
      const res = await second({ mfa_token: token, code: codeFor(uri) });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const session = res.json();
      expect(session).toMatchObject({
        token: expect.stringMatching(/^gts_/),
        session_id: expect.stringMatching(/^sess_/),
        user: { id: p.id },
      });
      const me = await app.request({ method: 'GET', url: '/api/me', token: session.token });
      expect(me.json().token).toMatchObject({ id: session.session_id, kind: 'session' });
      // The token was spent.
      expectProblem(await second({ mfa_token: token, code: codeFor(uri, 30_000) }), 401, 'mfa.invalid_token');
    });

    it('recovery codes work once each', async () => {
      const p = await person();
      const { codes } = await enrolTotp(p.session);
      const first = await mfaToken(p.username);
      expect(
        (await second({ mfa_token: first.token, recovery_code: codes[0]!.toUpperCase() })).statusCode,
      ).toBe(200);
      const again = await mfaToken(p.username);
      expectProblem(
        await second({ mfa_token: again.token, recovery_code: codes[0] }),
        401,
        'mfa.invalid_code',
      );
      expect(
        (await second({ mfa_token: again.token, recovery_code: codes[1]!.replace(/-/g, '') })).statusCode,
      ).toBe(200);
      const left = (await app.request({ method: 'GET', url: '/api/me/mfa', token: p.session })).json();
      expect(left.recovery_codes_left).toBe(8);
    });

    it('recovery codes are replaced on request; the old ones stop working', async () => {
      const p = await person();
      const { codes } = await enrolTotp(p.session);
      const res = await app.request({ method: 'POST', url: '/api/me/mfa/recovery-codes', token: p.session });
      expect(res.statusCode, res.body).toBe(200);
      const fresh = res.json().recovery_codes as string[];
      secrets.push(...fresh);
      expect(fresh).toHaveLength(10);
      expect(fresh).not.toContain(codes[0]);
      expectProblem(
        await second({ mfa_token: (await mfaToken(p.username)).token, recovery_code: codes[0] }),
        401,
        'mfa.invalid_code',
      );
      expect(
        (await second({ mfa_token: (await mfaToken(p.username)).token, recovery_code: fresh[0] })).statusCode,
      ).toBe(200);
    });

    it('registers a passkey (software authenticator) and signs in with it; its counter moves', async () => {
      const p = await person();
      const key = softAuthenticator('localhost', ORIGIN);
      const options = await app.request({
        method: 'POST',
        url: '/api/me/mfa/webauthn/register/options',
        token: p.session,
      });
      expect(options.statusCode, options.body).toBe(200);
      const opts = options.json();
      expect(opts).toMatchObject({
        rp: { id: 'localhost', name: 'Gatehouse' },
        user: { name: p.username },
        attestation: 'none',
      });
      // Only algorithms every supported runtime verifies (no ML-DSA, which Node 22 lacks): Ed25519, ES256, RS256.
      expect(opts.pubKeyCredParams.map((c: { alg: number }) => c.alg)).toEqual([-8, -7, -257]);
      const verify = await app.request({
        method: 'POST',
        url: '/api/me/mfa/webauthn/register/verify',
        payload: { name: 'Laptop', response: key.register(opts.challenge) },
        token: p.session,
      });
      expect(verify.statusCode, verify.body).toBe(201);
      expect(verify.json().factor).toMatchObject({ kind: 'webauthn', name: 'Laptop', status: 'active' });
      expect(verify.json().recovery_codes).toHaveLength(10);
      secrets.push(...(verify.json().recovery_codes as string[]));

      const { token, methods } = await mfaToken(p.username);
      expect(methods).toEqual(['webauthn', 'recovery']);
      const challenge = await app.request({
        method: 'POST',
        url: '/api/auth/login/mfa/webauthn/options',
        payload: { mfa_token: token },
        token: null,
      });
      expect(challenge.statusCode, challenge.body).toBe(200);
      expect(challenge.json().allowCredentials).toEqual([expect.objectContaining({ id: key.id })]);
      const res = await second({ mfa_token: token, webauthn: key.assert(challenge.json().challenge) });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().user.id).toBe(p.id);

      // A second factor confirmed later gives no new recovery codes: the first ones stay.
      const totp = await app.request({
        method: 'POST',
        url: '/api/me/mfa/totp',
        payload: {},
        token: p.session,
      });
      const uri = totp.json().otpauth_uri as string;
      const confirm = await app.request({
        method: 'POST',
        url: `/api/me/mfa/totp/${totp.json().id}/confirm`,
        payload: { code: codeFor(uri) },
        token: p.session,
      });
      expect(confirm.json()).toEqual({ recovery_codes: [] });
    });

    it('without auth.public_url, passkeys are bound to the host the request came to', async () => {
      expect((await patchAuth({ public_url: null })).statusCode).toBe(200);
      try {
        const p = await person();
        const key = softAuthenticator('localhost', 'http://localhost:80');
        // An Origin naming another host is ignored: the Host header decides.
        const headers = { origin: 'https://evil.example' };
        const opts = await app.request({
          method: 'POST',
          url: '/api/me/mfa/webauthn/register/options',
          token: p.session,
          headers,
        });
        expect(opts.json().rp.id).toBe('localhost');
        const verify = await app.request({
          method: 'POST',
          url: '/api/me/mfa/webauthn/register/verify',
          payload: { response: key.register(opts.json().challenge as string) },
          token: p.session,
          headers,
        });
        expect(verify.statusCode, verify.body).toBe(201);
      } finally {
        expect((await patchAuth({ public_url: ORIGIN })).statusCode).toBe(200);
      }
    });

    it('removing the last factor: the password alone signs in again', async () => {
      const p = await person();
      const { id } = await enrolTotp(p.session);
      expect(
        (await app.request({ method: 'DELETE', url: `/api/me/mfa/${id}`, token: p.session })).statusCode,
      ).toBe(204);
      expect((await login(p.username)).statusCode).toBe(200);
      expect((await app.request({ method: 'GET', url: '/api/me/mfa', token: p.session })).json()).toEqual({
        factors: [],
        recovery_codes_left: 0,
      });
    });

    it("an admin resets another user's factors: the password alone signs in again", async () => {
      const p = await person();
      await enrolTotp(p.session);
      const res = await app.request({ method: 'DELETE', url: `/api/users/${p.id}/mfa` });
      expect(res.statusCode, res.body).toBe(204);
      expect((await login(p.username)).statusCode).toBe(200);
    });

    it('require_mfa_for_roles: an admin session without a factor may only enrol; then everything', async () => {
      const p = await person([ADMIN_ROLE]);
      expect((await patchAuth({ require_mfa_for_roles: ['admin'] })).statusCode).toBe(200);
      try {
        const blocked = await app.request({ method: 'GET', url: '/api/users', token: p.session });
        expect(expectProblem(blocked, 403, 'mfa_enrollment_required').detail).toMatch(/enrol/);
        expectProblem(
          await app.request({ method: 'POST', url: '/api/users', payload: makeUser(), token: p.session }),
          403,
          'mfa_enrollment_required',
        );
        expectProblem(
          await app.request({ method: 'GET', url: '/api/audit', token: p.session }),
          403,
          'mfa_enrollment_required',
        );
        const me = await app.request({ method: 'GET', url: '/api/me', token: p.session });
        expect(me.json()).toMatchObject({ mfa_enrollment_required: true });
        expect((await app.request({ method: 'GET', url: '/api/me/mfa', token: p.session })).statusCode).toBe(
          200,
        );
        // API tokens are not people signing in: the admin's token is not held back.
        expect((await app.request({ method: 'GET', url: '/api/users' })).statusCode).toBe(200);
        // A user without the role is not held back either.
        const other = await person();
        expect(
          (await app.request({ method: 'GET', url: '/api/me/mfa', token: other.session })).statusCode,
        ).toBe(200);
        await enrolTotp(p.session);
        expect((await app.request({ method: 'GET', url: '/api/users', token: p.session })).statusCode).toBe(
          200,
        );
        const enrolled = await app.request({ method: 'GET', url: '/api/me', token: p.session });
        expect(enrolled.json()).not.toHaveProperty('mfa_enrollment_required');
        const out = await person([ADMIN_ROLE]);
        expect(
          (await app.request({ method: 'POST', url: '/api/auth/logout', token: out.session })).statusCode,
        ).toBe(204);
      } finally {
        expect((await patchAuth({ require_mfa_for_roles: [] })).statusCode).toBe(200);
      }
    });
  });

  describe('rejects', () => {
    it('a wrong code, and a code used already: 401, no session', async () => {
      const p = await person();
      const { uri } = await enrolTotp(p.session);
      const before = await sessionsOf(p.id);
      const { token } = await mfaToken(p.username);
      const right = codeFor(uri);
      const wrong = right === '000000' ? '111111' : '000000';
      expectProblem(await second({ mfa_token: token, code: wrong }), 401, 'mfa.invalid_code');
      expect((await second({ mfa_token: token, code: right })).statusCode).toBe(200);
      const replay = await mfaToken(p.username);
      expectProblem(await second({ mfa_token: replay.token, code: right }), 401, 'mfa.invalid_code');
      expect(await sessionsOf(p.id)).toBe(before + 1);
      nextStep();
      expect((await second({ mfa_token: replay.token, code: codeFor(uri) })).statusCode).toBe(200);
    });

    it('five wrong answers spend an mfa_token; ten on an account answer 429 with Retry-After until the window passes', async () => {
      const p = await person();
      const { uri } = await enrolTotp(p.session);
      const wrong = () => (codeFor(uri) === '000000' ? '111111' : '000000');
      const first = await mfaToken(p.username);
      for (let i = 0; i < 5; i++)
        expectProblem(await second({ mfa_token: first.token, code: wrong() }), 401, 'mfa.invalid_code');
      expectProblem(await second({ mfa_token: first.token, code: codeFor(uri) }), 401, 'mfa.invalid_token');
      const next = await mfaToken(p.username);
      for (let i = 0; i < 5; i++)
        expectProblem(await second({ mfa_token: next.token, code: wrong() }), 401, 'mfa.invalid_code');
      const third = await mfaToken(p.username);
      const limited = await second({ mfa_token: third.token, code: codeFor(uri) });
      expectProblem(limited, 429, 'rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      app.clock.advance(16 * 60_000);
      const fresh = await mfaToken(p.username);
      expect((await second({ mfa_token: fresh.token, code: codeFor(uri) })).statusCode).toBe(200);
    });

    it('an mfa_token expires after 5 minutes; an unknown one is refused', async () => {
      const p = await person();
      const { uri } = await enrolTotp(p.session);
      const { token } = await mfaToken(p.username);
      app.clock.advance(5 * 60_000 + 1);
      expectProblem(await second({ mfa_token: token, code: codeFor(uri) }), 401, 'mfa.invalid_token');
      expectProblem(
        await second({ mfa_token: `gtm_${'a'.repeat(40)}`, code: '123456' }),
        401,
        'mfa.invalid_token',
      );
    });

    it('an mfa_token from before auth.sso_only was turned on is refused: the password step would be now', async () => {
      const p = await person();
      const { uri } = await enrolTotp(p.session);
      const { token } = await mfaToken(p.username);
      await app.services.config.patch(systemCtx('test'), { auth: { sso_only: true } }, undefined, false);
      try {
        expectProblem(await second({ mfa_token: token, code: codeFor(uri) }), 403, 'auth.sso_only');
        expect(await sessionsOf(p.id)).toBe(1);
      } finally {
        await app.services.config.patch(systemCtx('test'), { auth: { sso_only: false } }, undefined, false);
      }
    });

    it('the /api/me/mfa routes need a session: an API token is refused with 403', async () => {
      const res = await app.request({ method: 'POST', url: '/api/me/mfa/totp', payload: {} });
      expect(expectProblem(res, 403, 'forbidden').required_permission).toBe('session');
      expectProblem(await app.request({ method: 'GET', url: '/api/me/mfa' }), 403, 'forbidden');
    });

    it("another person's factor is a 404; a wrong first code leaves the factor pending", async () => {
      const a = await person();
      const b = await person();
      const { id } = await enrolTotp(a.session);
      const pending = (
        await app.request({ method: 'POST', url: '/api/me/mfa/totp', payload: {}, token: a.session })
      ).json();
      secrets.push(OTPAuth.URI.parse(pending.otpauth_uri as string).secret.base32);
      expectProblem(
        await app.request({ method: 'DELETE', url: `/api/me/mfa/${id}`, token: b.session }),
        404,
        'not_found',
      );
      expectProblem(
        await app.request({
          method: 'POST',
          url: `/api/me/mfa/totp/${pending.id}/confirm`,
          payload: { code: '123456' },
          token: b.session,
        }),
        404,
        'not_found',
      );
      expectProblem(
        await app.request({ method: 'DELETE', url: '/api/me/mfa/not-an-id', token: a.session }),
        404,
        'not_found',
      );
      const code = codeFor(pending.otpauth_uri as string) === '000000' ? '111111' : '000000';
      expectProblem(
        await app.request({
          method: 'POST',
          url: `/api/me/mfa/totp/${pending.id}/confirm`,
          payload: { code },
          token: a.session,
        }),
        400,
        'validation_failed',
      );
      const list = (await app.request({ method: 'GET', url: '/api/me/mfa', token: a.session })).json();
      expect(list.factors.map((f: { status: string }) => f.status)).toEqual(['active', 'pending']);
    });

    it('admin reset: refused for oneself, for a weaker admin, for a token without users:write; unknown ids 404', async () => {
      const target = await person(); // a human with no role: everyone holds what it holds
      await enrolTotp(target.session);
      const strong = await person([ADMIN_ROLE]);
      await enrolTotp(strong.session);
      const weak = await makePrincipal(app, { permissions: ['users:write', 'users:read'] });
      const reader = await makePrincipal(app, { permissions: ['users:read'] });
      const before = await counts(app);
      const self = await app.request({ method: 'DELETE', url: `/api/users/${app.adminId}/mfa` });
      expectProblem(self, 403, 'forbidden');
      const weaker = expectProblem(
        await app.request({ method: 'DELETE', url: `/api/users/${strong.id}/mfa`, token: weak.token }),
        403,
        'forbidden',
      );
      expect(weaker).toMatchObject({ rule: 'act_on_principal', required_permission: '*' });
      expect(
        expectProblem(
          await app.request({ method: 'DELETE', url: `/api/users/${target.id}/mfa`, token: reader.token }),
          403,
          'forbidden',
        ).required_permission,
      ).toBe('users:write');
      expectProblem(
        await app.request({ method: 'DELETE', url: '/api/users/user_01jd8y6v7kf3zr4x6qk9n2m1ab/mfa' }),
        404,
        'not_found',
      );
      expectProblem(await app.request({ method: 'DELETE', url: '/api/users/nope/mfa' }), 404, 'not_found');
      expect((await counts(app)).outbox).toBe(before.outbox);
      await mfaToken(strong.username); // still has its factor
      expect(
        (await app.request({ method: 'DELETE', url: `/api/users/${target.id}/mfa`, token: weak.token }))
          .statusCode,
      ).toBe(204);
    });

    it('hostile bodies are 4xx problems and change nothing', async () => {
      const p = await person();
      const { uri, codes } = await enrolTotp(p.session);
      const { token } = await mfaToken(p.username);
      const bodies: object[] = [
        { mfa_token: token },
        { mfa_token: token, code: codeFor(uri), recovery_code: codes[0] },
        { mfa_token: token, code: '12345' },
        { mfa_token: token, code: codeFor(uri), extra: 1 },
        { mfa_token: 'gtm_short', code: '123456' },
        { mfa_token: token, recovery_code: 'x'.repeat(5000) },
        {
          mfa_token: token,
          webauthn: { id: 'x', rawId: 'x', type: 'public-key', response: {}, clientExtensionResults: {} },
        },
        { mfa_token: [token], code: '123456' },
      ];
      for (const payload of bodies) {
        const res = await second(payload);
        expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
      }
      const enrol = (payload: unknown) =>
        app.request({
          method: 'POST',
          url: '/api/me/mfa/webauthn/register/verify',
          payload: payload as object,
          token: p.session,
        });
      expectProblem(await enrol({ response: { nope: 1 } }), 400, 'validation_failed');
      const garbage = softAuthenticator('localhost', ORIGIN).register('not-a-challenge');
      expectProblem(await enrol({ response: garbage }), 400, 'validation_failed');
      const broken = { ...garbage, response: { ...garbage.response, clientDataJSON: 'AAAA' } };
      expectProblem(await enrol({ response: broken }), 400, 'validation_failed');
      // A registration made for another site (origin and RP id) is refused.
      const opts = (
        await app.request({ method: 'POST', url: '/api/me/mfa/webauthn/register/options', token: p.session })
      ).json();
      const phished = softAuthenticator('evil.example', 'https://evil.example').register(opts.challenge, {
        rpId: 'evil.example',
        origin: 'https://evil.example',
      });
      expectProblem(await enrol({ response: phished }), 400, 'validation_failed');
      expectProblem(
        await app.request({
          method: 'POST',
          url: '/api/auth/login/mfa/webauthn/options',
          payload: { mfa_token: token },
          token: null,
        }),
        400,
        'validation_failed',
      );
      // The token survives bodies that never reached a check of the code (only the one counted wrong answer).
      expect((await second({ mfa_token: token, code: codeFor(uri) })).statusCode).toBe(200);
      const list = (await app.request({ method: 'GET', url: '/api/me/mfa', token: p.session })).json();
      expect(list.factors).toHaveLength(1);
    });

    it('a passkey assertion replayed, for another challenge, or with a stale counter is refused', async () => {
      const p = await person();
      const key = softAuthenticator('localhost', ORIGIN);
      const opts = (
        await app.request({ method: 'POST', url: '/api/me/mfa/webauthn/register/options', token: p.session })
      ).json();
      const reg = await app.request({
        method: 'POST',
        url: '/api/me/mfa/webauthn/register/verify',
        payload: { response: key.register(opts.challenge) },
        token: p.session,
      });
      expect(reg.statusCode, reg.body).toBe(201);
      // The registration challenge is single-use.
      expectProblem(
        await app.request({
          method: 'POST',
          url: '/api/me/mfa/webauthn/register/verify',
          payload: { response: key.register(opts.challenge) },
          token: p.session,
        }),
        400,
        'validation_failed',
      );
      const first = await mfaToken(p.username);
      expectProblem(
        await second({ mfa_token: first.token, webauthn: key.assert('no-challenge-yet') }),
        400,
        'validation_failed',
      );
      const ch = (
        await app.request({
          method: 'POST',
          url: '/api/auth/login/mfa/webauthn/options',
          payload: { mfa_token: first.token },
          token: null,
        })
      ).json();
      expectProblem(
        await second({ mfa_token: first.token, webauthn: key.assert('c29tZXRoaW5nLWVsc2U') }),
        401,
        'mfa.invalid_code',
      );
      const good = key.assert(ch.challenge);
      expect((await second({ mfa_token: first.token, webauthn: good })).statusCode).toBe(200);
      const again = await mfaToken(p.username);
      const ch2 = (
        await app.request({
          method: 'POST',
          url: '/api/auth/login/mfa/webauthn/options',
          payload: { mfa_token: again.token },
          token: null,
        })
      ).json();
      expectProblem(await second({ mfa_token: again.token, webauthn: good }), 401, 'mfa.invalid_code');
      expectProblem(
        await second({ mfa_token: again.token, webauthn: key.assert(ch2.challenge, { counter: 1 }) }),
        401,
        'mfa.invalid_code',
      );
      expect(
        (await second({ mfa_token: again.token, webauthn: key.assert(ch2.challenge, { counter: 5 }) }))
          .statusCode,
      ).toBe(200);
    });
  });

  describe('audit', () => {
    it('every step is audited; no seed, code or mfa_token in the audit log, in an answer or in plain text at rest', async () => {
      const p = await person();
      const { id } = await enrolTotp(p.session);
      const { token } = await mfaToken(p.username);
      expectProblem(
        await second({ mfa_token: token, code: '000000' === secrets[0] ? '111111' : '000000' }),
        401,
        'mfa.invalid_code',
      );
      await app.request({ method: 'DELETE', url: `/api/me/mfa/${id}`, token: p.session });
      const page = await app.request({ method: 'GET', url: `/api/audit?limit=500&actor=${p.id}` });
      expect(page.statusCode, page.body).toBe(200);
      const events = page.json().data as { action: string; outcome: string; detail: string | null }[];
      const actions = events.map((e) => `${e.action}:${e.outcome}`);
      for (const a of ['auth.mfa.enrol:success', 'auth.mfa.confirm:success', 'auth.mfa.remove:success'])
        expect(actions).toContain(a);
      const logins = await app.request({
        method: 'GET',
        url: `/api/audit?limit=500&action=auth.login&target=user:${p.id}`,
      });
      const details = (logins.json().data as { detail: string | null }[]).map((e) => e.detail);
      expect(details).toContain('password accepted; second factor required (totp, recovery)');
      expect(details).toContain('second factor refused (totp)');

      const all = await app.database.db.selectFrom('audit_events').selectAll().execute();
      const dump =
        JSON.stringify(all) + (await app.request({ method: 'GET', url: '/api/audit?limit=500' })).body;
      expect(secrets.length).toBeGreaterThan(20);
      for (const s of secrets) expect(dump).not.toContain(s);
      const factors = await app.database.db.selectFrom('mfa_factors').selectAll().execute();
      const codes = await app.database.db.selectFrom('mfa_recovery_codes').selectAll().execute();
      const challenges = await app.database.db.selectFrom('mfa_challenges').selectAll().execute();
      const atRest = JSON.stringify([factors, codes, challenges]);
      for (const s of secrets) {
        expect(atRest).not.toContain(s);
        expect(atRest).not.toContain(s.replace(/-/g, ''));
      }
      for (const f of factors.filter((r) => r.kind === 'totp')) expect(f.secret).toMatch(/^v1\./);
      const logs = logLines.join('');
      expect(logs).toContain('/api/auth/login/mfa');
      for (const s of secrets) expect(logs).not.toContain(s);
      // After creation, no answer shows a seed again.
      const overview = await app.request({ method: 'GET', url: '/api/me/mfa', token: p.session });
      for (const s of secrets) expect(overview.body).not.toContain(s);
    });
  });
});
