import { URI, type TOTP } from 'otpauth';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.js';
import { launchChromium, screenshot, startConsole, type Console } from './browser.js';

const PASSWORD = 'a long enough password 42';

/**
 * The console's door (issue #18), in Chromium: single sign-on through a real OpenID provider on loopback,
 * an authenticator app (TOTP) and a passkey (Chromium's virtual authenticator), and MFA required for admins.
 * The console is opened at http://localhost:PORT: passkeys need a domain for their relying party id, never
 * an IP address, and `auth.public_url` says which.
 */
describe('console sign-in: SSO, authenticator app, passkey', () => {
  let gh: Console;
  let browser: Browser;
  let idp: TestProvider;
  let origin: string;
  let context: BrowserContext;
  let page: Page;
  let providerId: string;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    const [g, b, p] = await Promise.allSettled([
      startConsole(),
      (async () => launchChromium(['--host-resolver-rules=MAP localhost 127.0.0.1']))(),
      startTestProvider(),
    ]);
    for (const s of [g, b, p]) if (s.status === 'fulfilled') closers.push(() => s.value.close());
    for (const s of [g, b, p]) if (s.status === 'rejected') throw s.reason;
    if (g.status !== 'fulfilled' || b.status !== 'fulfilled' || p.status !== 'fulfilled') return;
    [gh, browser, idp] = [g.value, b.value, p.value];
    origin = gh.url.replace('127.0.0.1', 'localhost');
    // The provider listens on loopback, which the SSRF guard refuses unless config allows it.
    const settings = await gh.api.PATCH('/api/config', {
      body: { webhooks: { allow_private_targets: true }, auth: { public_url: origin } } as never,
    });
    expect(settings.response.status).toBe(200);
    const created = await gh.api.POST('/api/auth/providers', {
      body: {
        name: 'Test IdP',
        issuer: idp.issuer,
        client_id: idp.clientId,
        client_secret: idp.clientSecret,
        scopes: ['openid', 'email', 'profile', 'groups'],
        role_mapping: [{ claim: 'groups', contains: 'platform-admins', role: 'admin' }],
        jit: true,
        default_roles: [],
        enabled: true,
      } as never,
    });
    expect(created.response.status, JSON.stringify(created.error)).toBe(201);
    providerId = (created.data as { id: string }).id;
    idp.setRedirectUris([`${origin}/api/auth/oidc/${providerId}/callback`]);
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  }, 120_000);
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail')
      await screenshot(page, `sign-in-failed-${task.name.replace(/\W+/g, '-').slice(0, 60)}`);
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  const signOut = async () => {
    await page.getByRole('button', { name: 'Account' }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
  };
  /** The sign-in page with nobody signed in (a failed test may have left a session behind). */
  const freshLogin = async () => {
    await page.goto(`${origin}/login`);
    await page.evaluate('sessionStorage.clear()');
    await page.goto(`${origin}/login`);
  };
  const signInWithPassword = async (username: string) => {
    await freshLogin();
    await page.getByRole('textbox', { name: 'Username' }).fill(username);
    await page.locator('input[type=password]').first().fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  };
  const createUser = async (username: string, roles: string[] = []) => {
    const res = await gh.api.POST('/api/users', { body: { username, password: PASSWORD } as never });
    expect(res.response.status).toBe(201);
    const id = res.data!.id;
    for (const name of roles) {
      const role = (await gh.api.GET('/api/roles', { params: { query: { limit: 100 } } })).data!.data.find(
        (r) => r.name === name,
      )!;
      await gh.api.PUT('/api/users/{id}/roles/{roleId}', { params: { path: { id, roleId: role.id } } });
    }
    return id;
  };
  const mainNav = () => page.getByRole('navigation', { name: 'Main' });

  it('signs in through the provider with the roles its mapping gives, and loses them at the next sign-in once the group is gone', async () => {
    idp.accounts.set('alice-sub', {
      sub: 'alice-sub',
      email: 'alice@example.com',
      email_verified: true,
      preferred_username: 'alice',
      groups: ['platform-admins'],
    });
    idp.signInAs('alice-sub');
    await freshLogin();
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
    await page.getByTestId('signed-in-as').filter({ hasText: 'alice' }).waitFor();
    await mainNav().getByRole('link', { name: 'Users' }).waitFor();
    await screenshot(page, 'sso-signed-in-admin');
    const alice = (await gh.api.GET('/api/users', { params: { query: { q: 'alice' } } })).data!.data[0]!;
    const roles = async () =>
      (await gh.api.GET('/api/users/{id}/roles', { params: { path: { id: alice.id } } })).data!.data.map(
        (r) => r.name,
      );
    expect(await roles()).toEqual(['admin']);

    await signOut();
    idp.accounts.set('alice-sub', { ...idp.accounts.get('alice-sub')!, groups: ['support'] });
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
    await page.getByTestId('signed-in-as').filter({ hasText: 'alice' }).waitFor();
    await mainNav().getByRole('link', { name: 'Tokens' }).waitFor();
    expect(await mainNav().getByRole('link', { name: 'Users' }).count()).toBe(0);
    expect(await roles()).toEqual([]);
    await screenshot(page, 'sso-signed-in-without-roles');
    await signOut();
  });

  it('a refused sign-in comes back to the sign-in page with words, not a JSON page', async () => {
    idp.signInAs('alice-sub');
    idp.tamperNext('signature');
    await freshLogin();
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Single sign-on did not complete' });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/did not accept it/);
    expect(new URL(page.url()).pathname).toBe('/login');
    await screenshot(page, 'sso-refused');
  });

  it('an authenticator app: enrolled in the console, then a password sign-in asks for a code, refuses a wrong one, takes a recovery code once', async () => {
    await createUser('bob-totp');
    await signInWithPassword('bob-totp');
    await page.getByTestId('signed-in-as').filter({ hasText: 'bob-totp' }).waitFor();
    await page.goto(`${origin}/account`);
    await page.getByRole('button', { name: 'Add authenticator app' }).click();
    const uri = (await page.getByTestId('otpauth-uri').textContent())!;
    const app = URI.parse(uri) as TOTP;
    await page.getByRole('textbox', { name: 'Code from the app' }).fill(app.generate());
    await page.getByRole('button', { name: 'Confirm' }).click();
    const codes = page.getByTestId('recovery-codes');
    await codes.waitFor();
    const recovery = (await codes.locator('code').allTextContents()).map((c) => c.trim());
    expect(recovery).toHaveLength(10);
    await screenshot(page, 'totp-recovery-codes');
    await page.getByRole('button', { name: 'I saved them' }).click();
    await page
      .getByRole('table', { name: 'Second factors' })
      .getByText('authenticator app')
      .first()
      .waitFor();
    await signOut();

    await signInWithPassword('bob-totp');
    const code = page.getByRole('textbox', { name: 'Code from your authenticator app' });
    await code.fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').waitFor();
    await screenshot(page, 'totp-wrong-code');
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    await page.getByRole('textbox', { name: 'Recovery code' }).fill(recovery[0]!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('signed-in-as').filter({ hasText: 'bob-totp' }).waitFor();
    await signOut();

    // The same recovery code does not work twice.
    await signInWithPassword('bob-totp');
    await page.getByRole('button', { name: 'Use a recovery code' }).click();
    await page.getByRole('textbox', { name: 'Recovery code' }).fill(recovery[0]!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').waitFor();
  });

  it("a passkey: added with Chromium's virtual authenticator, then it signs in", async () => {
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await createUser('carol-passkey');
    await signInWithPassword('carol-passkey');
    await page.getByTestId('signed-in-as').filter({ hasText: 'carol-passkey' }).waitFor();
    await page.goto(`${origin}/account`);
    await page.getByRole('button', { name: 'Add passkey' }).click();
    await page.getByRole('table', { name: 'Second factors' }).getByText('passkey').first().waitFor();
    await screenshot(page, 'passkey-added');
    const recovery = page.getByTestId('recovery-codes');
    if (await recovery.count()) await page.getByRole('button', { name: 'I saved them' }).click();
    await signOut();

    await signInWithPassword('carol-passkey');
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.getByTestId('signed-in-as').filter({ hasText: 'carol-passkey' }).waitFor();
    await signOut();
  });

  it('with MFA required for admin, an admin without a factor is sent to enrol and can do nothing else', async () => {
    const res = await gh.api.PATCH('/api/config', {
      body: { auth: { require_mfa_for_roles: ['admin'] } } as never,
    });
    expect(res.response.status).toBe(200);
    try {
      await createUser('dave-admin', ['admin']);
      await signInWithPassword('dave-admin');
      await page.getByRole('heading', { name: 'Sign-in security' }).waitFor();
      await page.getByText('Set up a second factor to continue').waitFor();
      await screenshot(page, 'mfa-enrolment-required');
      await page.goto(`${origin}/users`);
      await page.getByText('Set up a second factor to continue').waitFor();
      await signOut();
    } finally {
      await gh.api.PATCH('/api/config', { body: { auth: { require_mfa_for_roles: [] } } as never });
    }
  });
});
