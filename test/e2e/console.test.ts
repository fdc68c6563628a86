import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot, startConsole, type Console } from './browser.js';

const XSS = '<img src=x onerror=alert(1)>';

describe('console', () => {
  let gh: Console;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];

  beforeAll(async () => {
    [gh, browser] = await Promise.all([startConsole(), launchChromium()]);
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    // Any alert() means injected markup ran: the XSS assertions check this list stays empty.
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  }, 120_000);
  afterAll(async () => {
    await browser.close();
    await gh.server.stop();
  });

  it('signs in with a password, keeping the session token out of localStorage', async () => {
    await page.goto(`${gh.url}/users`);
    await page.getByRole('textbox', { name: 'Username' }).fill('admin');
    await page.locator('input[type=password]').first().fill(gh.adminPassword);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    expect(page.url()).toBe(`${gh.url}/users`);
    const stored = await page.evaluate<{ local: string; session: string | null }>('({ local: JSON.stringify(localStorage), session: sessionStorage.getItem("gatehouse.credential") })');
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
    await dialog.getByText(/format|email/i).first().waitFor();
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
    await dialog.getByText(/a-z|username/i).first().waitFor();
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

  it('signs out and revokes the session', async () => {
    const token = await page.evaluate<string | undefined>('JSON.parse(sessionStorage.getItem("gatehouse.credential") ?? "{}").token');
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
