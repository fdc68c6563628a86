import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createClient } from '@gatehouse/client';
import { startReceiver } from '../helpers/receiver.js';
import { launchChromium, screenshot, startConsole, type Console } from './browser.js';

const XSS = '<img src=x onerror=alert(1)>';
const createClientFor = (baseUrl: string, token: string) => createClient({ baseUrl, token });

describe('console', () => {
  let gh: Console;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const dialogs: string[] = [];

  /** Stops what started, even when something else failed to (no Chromium must not leave a server running). */
  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    // launchChromium throws at once when Chromium is missing: called inside an async function, that is a rejection.
    const [g, b, r] = await Promise.allSettled([
      startConsole(),
      (async () => launchChromium())(),
      startReceiver(),
    ]);
    for (const s of [g, b, r]) if (s.status === 'fulfilled') closers.push(() => s.value.close());
    for (const s of [g, b, r]) if (s.status === 'rejected') throw s.reason;
    if (g.status !== 'fulfilled' || b.status !== 'fulfilled' || r.status !== 'fulfilled') return;
    [gh, browser, receiver] = [g.value, b.value, r.value];
    // The webhook receiver listens on loopback, which the SSRF guard refuses unless config allows it.
    await gh.api.PATCH('/api/config', { body: { webhooks: { allow_private_targets: true } } as never });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    // Any alert() means injected markup ran: the XSS assertions check this list stays empty.
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  }, 120_000);
  // A failing step leaves a picture of what the browser showed.
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail')
      await screenshot(page, `failed-${task.name.replace(/\W+/g, '-').slice(0, 60)}`);
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('serves the console at / under a strict CSP, with client routes falling back to index.html', async () => {
    const html = { accept: 'text/html' };
    const root = await fetch(`${gh.url}/`, { headers: html });
    expect(root.status).toBe(200);
    const csp = root.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(root.headers.get('cache-control')).toBe('no-cache');
    const page = await fetch(`${gh.url}/users/user_01h2xcejqtf2nbrexx3vqjhp41`, { headers: html });
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    const index = await root.text();
    expect(await page.text()).toBe(index);
    // Not a page navigation, or a path the server owns: a 404 problem as before.
    const json = await fetch(`${gh.url}/users/x`);
    expect([json.status, json.headers.get('content-type')]).toEqual([
      404,
      'application/problem+json; charset=utf-8',
    ]);
    expect(
      (await fetch(`${gh.url}/api/nope`, { headers: { ...html, authorization: `Bearer ${gh.adminToken}` } }))
        .status,
    ).toBe(404);
    expect((await fetch(`${gh.url}/docs/`, { headers: html })).status).toBe(200);
    const entry = /src="(\/assets\/[^"]+\.js)"/.exec(index)?.[1];
    const asset = await fetch(`${gh.url}${entry ?? '/missing'}`, { headers: { 'accept-encoding': 'br' } });
    expect([asset.status, asset.headers.get('content-encoding'), asset.headers.get('cache-control')]).toEqual(
      [200, 'br', 'public, max-age=31536000, immutable'],
    );
  });

  it('signs in with a password, keeping the session token out of localStorage', async () => {
    await page.goto(`${gh.url}/users`);
    await page.getByRole('textbox', { name: 'Username' }).fill('admin');
    await page.locator('input[type=password]').first().fill(gh.adminPassword);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    expect(page.url()).toBe(`${gh.url}/users`);
    const stored = await page.evaluate<{ local: string; session: string | null }>(
      '({ local: JSON.stringify(localStorage), session: sessionStorage.getItem("gatehouse.credential") })',
    );
    expect(stored.local).not.toContain('gts_');
    expect(stored.session).toContain('gts_');
    await screenshot(page, 'sign-in');
  });

  it('shows a wrong password as the problem the API answered', async () => {
    const other = await context.newPage();
    await other.goto(`${gh.url}/login`);
    await other.evaluate('sessionStorage.clear()');
    await other.reload();
    await other.getByRole('textbox', { name: 'Username' }).fill('admin');
    await other.locator('input[type=password]').first().fill('wrong password');
    await other.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(other.getByRole('alert').textContent()).resolves.toMatch(/invalid|wrong|credentials/i);
    await screenshot(other, 'sign-in-problem');
    await other.close();
  });

  it('creates a user, with field errors next to their fields', async () => {
    await page.goto(`${gh.url}/users`);
    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog', { name: 'New user' });
    await dialog.getByRole('textbox', { name: 'Username' }).fill('grace');
    await dialog.getByRole('textbox', { name: 'Email' }).fill('not-an-email');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await dialog
      .getByText(/format|email/i)
      .first()
      .waitFor();
    await dialog.getByRole('textbox', { name: 'Email' }).fill('grace@example.com');
    await dialog.getByRole('textbox', { name: 'Display name' }).fill('Grace Hopper');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await page.getByTestId('user-title').filter({ hasText: 'grace' }).waitFor();
    await screenshot(page, 'user-created');
  });

  it('gives the user a role', async () => {
    await page.getByPlaceholder('Choose a role').click();
    await page.getByRole('option', { name: 'auditor' }).click();
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.getByLabel('Roles held').getByText('auditor').waitFor();
    const user = (await gh.api.GET('/api/users', { params: { query: { q: 'grace' } } })).data!.data[0]!;
    const roles = await gh.api.GET('/api/users/{id}/roles', { params: { path: { id: user.id } } });
    expect(roles.data!.data.map((r) => r.name)).toEqual(['auditor']);
    await screenshot(page, 'role-assigned');
  });

  it(`renders ${XSS} as text everywhere`, async () => {
    // The API refuses it as a username (the console shows why, next to the field) but takes it as a display name.
    await page.goto(`${gh.url}/users`);
    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog', { name: 'New user' });
    await dialog.getByRole('textbox', { name: 'Username' }).fill(XSS);
    await dialog.getByRole('button', { name: 'Create user' }).click();
    await dialog
      .getByText(/a-z|username/i)
      .first()
      .waitFor();
    await page.keyboard.press('Escape');
    const created = await gh.api.POST('/api/users', { body: { username: 'mallory', display_name: XSS } });
    expect(created.response.status).toBe(201);
    for (const path of ['/users', '/users?q=mallory', `/users/${created.data!.id}`]) {
      await page.goto(`${gh.url}${path}`);
      await page.getByText(XSS).first().waitFor();
    }
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await screenshot(page, 'xss-as-text');
  });

  it('shows the exact time behind a relative one on hover, and hides it on leaving', async () => {
    await page.goto(`${gh.url}/users`);
    const time = page.getByRole('table', { name: 'Users' }).locator('time').first();
    const exact = await time.evaluate((t) => new Date(t.getAttribute('datetime') ?? '').toLocaleString());
    for (let i = 0; i < 2; i++) {
      // The tooltip is created on the first hover (components/Time.tsx): the second round checks it still follows the pointer.
      await time.hover();
      await page.getByRole('tooltip').filter({ hasText: exact }).waitFor();
      await page.getByRole('heading', { name: 'Users' }).hover();
      await page.getByRole('tooltip').waitFor({ state: 'hidden' });
    }
  });

  it('mints a token and shows its secret once', async () => {
    await page.goto(`${gh.url}/tokens`);
    await page.getByRole('button', { name: 'New token' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('textbox', { name: 'Name' }).fill('ci-deploy');
    await dialog.getByRole('checkbox', { name: 'users:read' }).check();
    await dialog.getByRole('button', { name: 'Create token' }).click();
    const secret = (await dialog.getByTestId('secret').textContent()) ?? '';
    expect(secret).toMatch(/^gth_[0-9A-Za-z]{38}$/);
    await dialog.getByText('It is shown only this once').waitFor();
    await screenshot(page, 'token-secret-once');
    await dialog.getByRole('button', { name: 'I have copied it' }).click();
    await page.getByRole('table', { name: 'Tokens' }).getByText('ci-deploy').waitFor();
    expect(await page.content()).not.toContain(secret);
    const withIt = createClientFor(gh.url, secret);
    expect((await withIt.GET('/api/users')).response.status).toBe(200);
    expect((await withIt.GET('/api/roles')).response.status).toBe(403);
    await page.reload();
    await page.getByRole('table', { name: 'Tokens' }).getByText('ci-deploy').waitFor();
    expect(await page.content()).not.toContain(secret);
  });

  it('rotates a token with a grace period, then revokes it', async () => {
    const table = page.getByRole('table', { name: 'Tokens' });
    await table.getByRole('button', { name: 'Actions for ci-deploy' }).click();
    await page.getByRole('menuitem', { name: 'Rotate…' }).click();
    const rotate = page.getByRole('dialog', { name: 'Rotate “ci-deploy”' });
    await rotate.getByRole('button', { name: 'Rotate' }).click();
    const secret = (await rotate.getByTestId('secret').textContent()) ?? '';
    expect((await createClientFor(gh.url, secret).GET('/api/users')).response.status).toBe(200);
    await rotate.getByRole('button', { name: 'I have copied it' }).click();
    await table.getByRole('button', { name: 'Actions for ci-deploy' }).click();
    await page.getByRole('menuitem', { name: 'Revoke…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke token' }).click();
    await table.getByText('revoked').waitFor();
    expect((await createClientFor(gh.url, secret).GET('/api/users')).response.status).toBe(401);
    await screenshot(page, 'token-revoked');
  });

  it('changes a rate limit after a diff, and explains a stale version without losing the edit', async () => {
    await page.goto(`${gh.url}/config`);
    const max = page
      .getByRole('group', { name: 'Default', exact: true })
      .getByRole('textbox', { name: 'Max' });
    await max.fill('1234');
    await page.getByText(/Valid · 1 change/).waitFor();
    await page.getByRole('button', { name: 'Review changes' }).click();
    const review = page.getByRole('dialog', { name: 'Review changes' });
    await review
      .getByRole('table', { name: 'Pending changes' })
      .getByText('/rate_limits/default/max')
      .waitFor();
    await screenshot(page, 'config-diff');
    await review.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText(/Saved as version \d+/).waitFor();
    expect((await gh.api.GET('/api/config')).data!.rate_limits.default.max).toBe(1234);

    // Someone else saves while this tab edits: the save is refused (412) and the edit survives a reload of the latest.
    await max.fill('2000');
    await page.getByText(/Valid · 1 change/).waitFor();
    await gh.api.PATCH('/api/config', { body: { sessions: { ttl_minutes: 90 } } as never });
    await page.getByRole('button', { name: 'Review changes' }).click();
    await review.getByRole('button', { name: 'Save settings' }).click();
    await review.getByText('Someone else changed the settings meanwhile').waitFor();
    await screenshot(page, 'config-conflict');
    await review.getByRole('button', { name: 'Load the latest and reapply my changes' }).click();
    await page.getByRole('button', { name: 'Review changes' }).click();
    await review.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText(/Saved as version \d+/).waitFor();
    const saved = (await gh.api.GET('/api/config')).data!;
    expect([saved.rate_limits.default.max, saved.sessions.ttl_minutes]).toEqual([2000, 90]);
  });

  it('restores an older config version from the history', async () => {
    // The version just before this test's first edit: the generous limits the harness set.
    const history = (await gh.api.GET('/api/config/history', { params: { query: { limit: 50 } } })).data!
      .data;
    const edited = history.find((v) =>
      v.diff.some((d) => d.path === '/rate_limits/default/max' && d.value === 1234),
    )!;
    const target = edited.version - 1;
    await page.getByRole('tab', { name: 'History' }).click();
    await page
      .getByLabel(`Version ${target}`, { exact: true })
      .getByRole('button', { name: 'Restore…' })
      .click();
    await page
      .getByRole('dialog', { name: `Restore version ${target}?` })
      .getByRole('button', { name: 'Restore' })
      .click();
    await expect
      .poll(async () => (await gh.api.GET('/api/config')).data!.rate_limits.default.max, { timeout: 10_000 })
      .toBe(100_000);
    await page.getByRole('tab', { name: 'Form' }).click();
    await expect
      .poll(() =>
        page
          .getByRole('group', { name: 'Default', exact: true })
          .getByRole('textbox', { name: 'Max' })
          .inputValue(),
      )
      .toBe('100000');
    await screenshot(page, 'config-restored');
  });

  it('registers a plugin and configures it from its JSON Schema', async () => {
    await page.goto(`${gh.url}/plugins`);
    await page.getByRole('button', { name: 'Register plugin' }).click();
    const dialog = page.getByRole('dialog', { name: 'Register plugin' });
    await dialog.getByPlaceholder('e.g. username-policy').fill('username-policy');
    await dialog.getByRole('button', { name: 'Register', exact: true }).click();
    const drawer = page.getByRole('dialog', { name: 'username-policy' });
    await drawer.getByRole('textbox', { name: 'Max length' }).fill('40');
    await drawer.getByRole('button', { name: 'Save configuration' }).click();
    await drawer.getByText('Saved').waitFor();
    await screenshot(page, 'plugin-registered');
    await page.keyboard.press('Escape');
    await page.getByRole('table', { name: 'Plugins' }).getByText('username-policy').waitFor();
    const plugins = (await gh.api.GET('/api/plugins')).data!.data;
    expect(plugins.map((p) => [p.name, p.enabled, p.config])).toEqual([
      ['username-policy', true, { max_length: 40 }],
    ]);
  });

  it('creates a webhook endpoint and shows a delivery with its attempts', async () => {
    await page.goto(`${gh.url}/webhooks`);
    await page.getByRole('button', { name: 'New endpoint' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('textbox', { name: 'URL' }).fill(receiver.url('/hook'));
    await dialog.getByRole('button', { name: 'Create endpoint' }).click();
    expect(await dialog.getByTestId('secret').textContent()).toMatch(/^whsec_/);
    await dialog.getByRole('button', { name: 'I have copied it' }).click();
    await page.getByRole('button', { name: 'Send test event' }).click();
    const deliveries = page.getByRole('table', { name: 'Deliveries' });
    await deliveries.getByText('succeeded').first().waitFor({ timeout: 20_000 });
    await deliveries
      .getByRole('button', { name: /Attempts of webhook.test/ })
      .first()
      .click();
    await page
      .getByRole('table', { name: /Attempts of dlv_/ })
      .getByText('204')
      .waitFor();
    expect(receiver.at('/hook').length).toBeGreaterThan(0);
    await screenshot(page, 'webhook-delivery');
  });

  it('finds each of those actions in the audit log, with its changes, and verifies the chain', async () => {
    await page.goto(`${gh.url}/audit`);
    for (const action of [
      'user.create',
      'role.assign',
      'token.create',
      'config.update',
      'plugin.register',
      'webhook.create',
    ]) {
      await page.getByRole('textbox', { name: 'Action' }).fill(action);
      await page.getByRole('button', { name: 'Apply' }).click();
      const table = page.getByRole('table', { name: 'Audit events' });
      await table.getByText(action, { exact: true }).first().waitFor();
      await expect
        .poll(() => table.locator('tbody tr').filter({ hasNotText: action }).count(), { timeout: 10_000 })
        .toBe(0);
    }
    await page.getByRole('table', { name: 'Audit events' }).getByText('webhook.create').first().click();
    const drawer = page.getByRole('dialog');
    await drawer.getByRole('table', { name: 'Changes' }).getByText('/url').waitFor();
    await screenshot(page, 'audit-event');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page.getByTestId('chain-status').getByText('Chain intact').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export (NDJSON)' }).click(),
    ]);
    const lines = readFileSync(await download.path(), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((e) => e.action === 'webhook.create')).toBe(true);
    await screenshot(page, 'audit-verified');
  });

  it('streams the audit log: a new stream shows its secret once, then its lag; pause, resume and delete', async () => {
    await page.goto(`${gh.url}/audit`);
    await page.getByRole('button', { name: 'New stream' }).click();
    const form = page.getByRole('form', { name: 'New audit stream' });
    await form.getByLabel('Name').fill('siem');
    await form.getByLabel('Receiver URL').fill(receiver.url('/audit-stream'));
    await form.getByLabel('Actions').fill('user.*, create');
    await form.getByRole('button', { name: 'Create stream' }).click();
    const secret = await page.getByTestId('secret').textContent();
    expect(secret).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'I have copied it' }).click();
    const table = page.getByRole('table', { name: 'Audit streams' });
    const row = table.locator('tbody tr').filter({ hasText: 'siem' });
    await row.getByText('active').waitFor();
    // The server's relay sends the stream's own creation (a `create`) within a poll.
    await expect.poll(() => receiver.at('/audit-stream').length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(receiver.at('/audit-stream')[0]!.headers['content-type']).toBe('application/x-ndjson');
    await row.getByRole('button', { name: 'Pause' }).click();
    await row.getByText('paused').waitFor();
    await screenshot(page, 'audit-streams');
    await row.getByRole('button', { name: 'Resume' }).click();
    await row.getByText('active').waitFor();
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByText(/^No streams/).waitFor();
  });

  it('follows the system dark mode', async () => {
    const dark = await browser.newContext({ colorScheme: 'dark' });
    const other = await dark.newPage();
    await other.goto(`${gh.url}/login`);
    await other.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
    expect(await other.locator('html').getAttribute('data-mantine-color-scheme')).toBe('dark');
    await screenshot(other, 'dark-mode');
    await dark.close();
  });

  it('builds a role on the permission matrix', async () => {
    await page.goto(`${gh.url}/roles`);
    await page.getByRole('button', { name: 'New role' }).click();
    const dialog = page.getByRole('dialog', { name: 'New role' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('support');
    await dialog.getByRole('checkbox', { name: 'users:read' }).check();
    await dialog.getByRole('checkbox', { name: 'users:write' }).check();
    await dialog.getByRole('button', { name: 'Create role' }).click();
    await page.getByRole('heading', { name: 'support' }).waitFor();
    const roles = (await gh.api.GET('/api/roles')).data!.data;
    expect(roles.find((r) => r.name === 'support')?.permissions.sort()).toEqual([
      'users:read',
      'users:write',
    ]);
    await screenshot(page, 'role-matrix');
  });

  it('signs in by pasting an API token', async () => {
    const other = await browser.newContext();
    const tab = await other.newPage();
    await tab.goto(`${gh.url}/audit`);
    await tab.getByRole('tab', { name: 'API token' }).click();
    await tab.locator('form[aria-label="Sign in with an API token"] input').fill('gth_not_a_real_token');
    await tab.getByRole('button', { name: 'Sign in with token' }).click();
    await tab.getByRole('alert').first().waitFor();
    await tab.locator('form[aria-label="Sign in with an API token"] input').fill(gh.adminToken);
    await tab.getByRole('button', { name: 'Sign in with token' }).click();
    await tab.getByRole('heading', { name: 'Audit log' }).waitFor();
    await screenshot(tab, 'token-sign-in');
    await other.close();
  });

  it('signs out and revokes the session', async () => {
    const token = await page.evaluate<string | undefined>(
      'JSON.parse(sessionStorage.getItem("gatehouse.credential") ?? "{}").token',
    );
    expect(token).toMatch(/^gts_/);
    await page.getByRole('button', { name: 'Account' }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
    const res = await fetch(`${gh.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(401);
    expect(await page.evaluate('sessionStorage.getItem("gatehouse.credential")')).toBeNull();
    await screenshot(page, 'signed-out');
  });
});
