import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshot, startConsole, type Console } from './browser.js';

const RELEASE_MANAGERS = {
  name: 'release-managers',
  description: 'Ship releases',
  permissions: ['roles:read', 'users:read'],
};

/** The State pages (issue #19): export, plan, apply, and what each says when the API refuses. */
describe('console state', () => {
  let gh: Console;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const closers: (() => Promise<unknown>)[] = [];
  beforeAll(async () => {
    const [g, b] = await Promise.allSettled([startConsole(), (async () => launchChromium())()]);
    for (const s of [g, b]) if (s.status === 'fulfilled') closers.push(() => s.value.close());
    for (const s of [g, b]) if (s.status === 'rejected') throw s.reason;
    if (g.status !== 'fulfilled' || b.status !== 'fulfilled') return;
    [gh, browser] = [g.value, b.value];
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await signIn(page, gh.adminToken);
  }, 120_000);
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail')
      await screenshot(page, `failed-state-${task.name.replace(/\W+/g, '-').slice(0, 60)}`);
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  /** Signs the page in with a token, as the sign-in page would leave it. */
  async function signIn(p: Page, token: string) {
    await p.goto(`${gh.url}/login`);
    const value = JSON.stringify({ token, kind: 'token' });
    await p.evaluate(`sessionStorage.setItem('gatehouse.credential', ${JSON.stringify(value)})`);
  }

  /** Pastes `document` (an object as JSON, or text as is) and plans it. */
  async function plan(document: object | string, prune = false) {
    await page.goto(`${gh.url}/state/plan`);
    await page
      .getByRole('textbox', { name: 'Document' })
      .fill(typeof document === 'string' ? document : JSON.stringify(document, null, 2));
    if (prune) await page.getByRole('switch', { name: 'Prune' }).check();
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
  }

  const roleNames = async () =>
    ((await gh.api.GET('/api/roles', { params: { query: { limit: 100 } } })).data?.data ?? []).map(
      (r) => r.name,
    );

  it('exports the state as JSON and YAML, and downloads it', async () => {
    await page.goto(`${gh.url}/`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'State' }).click();
    await page.getByRole('heading', { name: 'State' }).waitFor();
    const doc = page.getByRole('region', { name: 'Exported document' });
    await doc.getByText('"name": "auditor"').waitFor();
    const json = JSON.parse((await doc.textContent()) ?? '') as {
      version: number;
      roles: { name: string }[];
    };
    expect(json.version).toBe(1);
    expect(json.roles.map((r) => r.name)).toEqual(expect.arrayContaining(['admin', 'auditor']));
    expect(json).not.toHaveProperty('users');

    // Mantine's segmented control hides its radios behind their labels: click the label, as a person does.
    await page.locator('label', { hasText: /^YAML$/ }).click();
    expect(await page.getByRole('radio', { name: 'YAML' }).isChecked()).toBe(true);
    await doc.getByText('name: auditor').waitFor();
    await page.getByRole('switch', { name: 'Include users' }).check();
    await doc.getByText('username: admin').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: /^Download/ }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('gatehouse-state.yaml');
    const saved = readFileSync(await download.path(), 'utf8');
    expect(saved).toContain('name: admin');
    expect(saved).toContain('username: admin');
    expect(saved).toBe((await doc.textContent()) ?? '');
    await screenshot(page, 'state-export');
  });

  it('hides the State pages from a token without config:read', async () => {
    const me = (await gh.api.GET('/api/me')).data!;
    const minted = await gh.api.POST('/api/tokens', {
      body: { name: 'reader', scopes: ['users:read'], user_id: me.user.id },
    });
    const narrow = await context.newPage();
    await signIn(narrow, minted.data!.secret);
    await narrow.goto(`${gh.url}/users`);
    const nav = narrow.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Users' }).waitFor();
    expect(await nav.getByRole('link', { name: 'State' }).count()).toBe(0);
    expect(await nav.getByRole('link', { name: 'Config' }).count()).toBe(0);
    await narrow.close();
  });

  it('plans a document that adds a role and changes another, showing each field', async () => {
    await gh.api.POST('/api/roles', { body: { name: 'support', permissions: ['users:read'] } });
    await plan({
      version: 1,
      roles: [RELEASE_MANAGERS, { name: 'support', permissions: ['users:read', 'users:write'] }],
    });
    const result = page.getByRole('region', { name: 'Plan' });
    await result.getByRole('listitem', { name: 'create role release-managers' }).waitFor();
    await result.getByRole('listitem', { name: 'update role support' }).waitFor();
    const fields = result.getByRole('table', { name: 'Fields of role support' });
    await fields.getByText('permissions').waitFor();
    // Before and after, as the Config page shows a change: the current permissions, then the planned ones.
    await fields.getByRole('cell', { name: '["users:read"]', exact: true }).waitFor();
    await fields.getByRole('cell', { name: '["users:read","users:write"]', exact: true }).waitFor();
    await result.getByText('1 create').first().waitFor();
    // Unchanged items (the built-in roles are not in this document) and nothing was written.
    expect(await roleNames()).not.toContain('release-managers');
    await screenshot(page, 'state-plan');
  });

  it('reads an uploaded YAML file, and names the item a reference problem is about', async () => {
    await page.goto(`${gh.url}/state/plan`);
    await page.locator('input[type=file]').setInputFiles({
      name: 'gatehouse-state.yaml',
      mimeType: 'application/yaml',
      buffer: Buffer.from('version: 1\nassignments:\n  - user: admin\n    role: nobody\n'),
    });
    await expect
      .poll(() => page.getByRole('textbox', { name: 'Document' }).inputValue())
      .toContain('role: nobody');
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'cannot be applied as it is' });
    await alert.waitFor();
    await alert.getByText('Assignment "admin → nobody"', { exact: false }).waitFor();
    await alert.getByText('/document/assignments/0/role').waitFor();
    await screenshot(page, 'state-plan-reference-error');

    await plan({ version: 1, roles: [{ name: 'x', permissions: [], colour: 'red' }] });
    const invalid = page.getByRole('alert').filter({ hasText: 'The document is not valid' });
    await invalid.getByText('/document/roles/0/colour').waitFor();
    await invalid.getByText('Role "x"', { exact: false }).waitFor();

    // The CLI fills ${NAME} from its environment; the console refuses to send one as a literal secret.
    await plan({
      version: 1,
      providers: [
        { name: 'okta', issuer: 'https://okta.example', client_id: 'gh', client_secret: '${OKTA_SECRET}' },
      ],
    });
    const env = page.getByRole('alert').filter({ hasText: 'refers to environment variables' });
    await env.getByText('Identity provider "okta" › client_secret: ${OKTA_SECRET}').waitFor();

    await plan('{ "version": 1, ');
    await page.getByRole('alert').filter({ hasText: 'neither valid JSON nor valid YAML' }).waitFor();
  });

  it('plans the current state, started from its export, as nothing to apply', async () => {
    await page.goto(`${gh.url}/state/plan`);
    await page.getByRole('button', { name: 'Start from the current state' }).click();
    const editor = page.getByRole('textbox', { name: 'Document' });
    await expect.poll(() => editor.inputValue()).toContain('"auditor"');
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Nothing to apply' }).waitFor();
    expect(await page.getByRole('button', { name: 'Apply…' }).isDisabled()).toBe(true);
    await page.getByRole('switch', { name: 'Show unchanged items' }).check();
    await page.getByRole('listitem', { name: 'unchanged role auditor' }).waitFor();
  });

  it('applies the plan after a confirmation naming its counts, then links to the audit event', async () => {
    await plan({ version: 1, roles: [RELEASE_MANAGERS] });
    await page.getByRole('button', { name: 'Apply…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Apply this plan?' });
    await dialog.getByText('This plan makes 1 creation.').waitFor();
    await dialog.getByRole('button', { name: 'Apply', exact: true }).click();
    const applied = page.getByRole('status').filter({ hasText: 'Applied' });
    await applied.waitFor();
    expect(await roleNames()).toContain('release-managers');
    const role = (await gh.api.GET('/api/roles', { params: { query: { limit: 100 } } })).data!.data.find(
      (r) => r.name === 'release-managers',
    );
    expect([...(role?.permissions ?? [])].sort()).toEqual(RELEASE_MANAGERS.permissions);
    await screenshot(page, 'state-applied');
    const eventId = (await applied.locator('code').textContent()) ?? '';
    expect(eventId).toMatch(/^evt_/);
    await applied.getByRole('link', { name: 'Open in the audit log' }).click();
    await page.getByRole('table', { name: 'Event details' }).getByText(eventId).waitFor();
  });

  it('refuses a plan the state moved away from, and plans again', async () => {
    const doc = { version: 1, roles: [{ name: 'on-call', permissions: ['audit:read'] }] };
    await plan(doc);
    await page
      .getByRole('region', { name: 'Plan' })
      .getByRole('listitem', { name: 'create role on-call' })
      .waitFor();
    // Someone else changes the state between the plan and the apply.
    expect(
      (await gh.api.POST('/api/roles', { body: { name: 'interloper', permissions: [] } })).response.status,
    ).toBe(201);
    await page.getByRole('button', { name: 'Apply…' }).click();
    await page
      .getByRole('dialog', { name: 'Apply this plan?' })
      .getByRole('button', { name: 'Apply', exact: true })
      .click();
    const stale = page.getByRole('alert').filter({ hasText: 'The state changed since this plan' });
    await stale.waitFor();
    expect(await roleNames()).not.toContain('on-call');
    await screenshot(page, 'state-apply-stale');
    await stale.getByRole('button', { name: 'Plan again' }).click();
    await stale.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Apply…' }).click();
    await page
      .getByRole('dialog', { name: 'Apply this plan?' })
      .getByRole('button', { name: 'Apply', exact: true })
      .click();
    await page.getByRole('status').filter({ hasText: 'Applied' }).waitFor();
    expect(await roleNames()).toContain('on-call');
  });

  it("shows a plugin's veto of an apply with its reason, and changes nothing", async () => {
    const registered = await gh.api.POST('/api/plugins', {
      body: { kind: 'module', name: 'username-policy', config: { reserved: ['root'] } },
    });
    expect(registered.response.status).toBe(201);
    await plan({ version: 1, users: [{ username: 'root', kind: 'service' }] });
    await page
      .getByRole('region', { name: 'Plan' })
      .getByRole('listitem', { name: 'create user root' })
      .waitFor();
    await page.getByRole('button', { name: 'Apply…' }).click();
    await page
      .getByRole('dialog', { name: 'Apply this plan?' })
      .getByRole('button', { name: 'Apply', exact: true })
      .click();
    const veto = page.getByRole('alert').filter({ hasText: 'A plugin refused this change' });
    await veto.getByText('"root" is a reserved name', { exact: false }).waitFor();
    expect(await veto.getAttribute('data-problem-code')).toBe('plugin.denied');
    const users = await gh.api.GET('/api/users', { params: { query: { q: 'root' } } });
    expect(users.data!.data.map((u) => u.username)).not.toContain('root');
    await screenshot(page, 'state-apply-plugin-veto');
  });
});
