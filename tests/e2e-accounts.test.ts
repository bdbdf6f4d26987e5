/**
 * End-to-end: the account parts of the dashboard in headless Chromium against a real controller — change your
 * own password, see and end sessions, reset a user's password, change a role and remove a user.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { hasChromium, type BrowserSession } from './helpers/browser';
import { DASHBOARD_ADMIN_PASSWORD, hidden, open, poll, signIn, visible, type DashboardEnv } from './helpers/dashboard';
import { useDashboardSession } from './helpers/dashboard-session';

const browserReady = hasChromium();

describe.skipIf(!browserReady)('dashboard accounts (Chromium, real controller)', () => {
  const session = useDashboardSession();
  let env: DashboardEnv;
  let browser: BrowserSession;
  let page: Page;

  beforeAll(() => {
    ({ env, browser, page } = session);
  });

  const status = async (path: string, cookie: string) => (await fetch(`${env.url}/api/v1${path}`, { headers: { cookie } })).status;
  async function apiLogin(username: string, password: string): Promise<string> {
    const res = await fetch(`${env.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    expect(res.status).toBe(200);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  it('changes the password, lists sessions and ends another one', async () => {
    await page.goto('/');
    await signIn(page, 'admin');
    const elsewhere = await apiLogin('admin', DASHBOARD_ADMIN_PASSWORD);
    await open(page, '/access', 'Users & API tokens');

    const sessions = page.getByRole('table', { name: 'Sessions' });
    await visible(sessions);
    await poll(() => sessions.locator('tbody tr').count()).toBeGreaterThanOrEqual(3);
    await visible(sessions.getByText('this session'));

    const card = page.locator('section', { has: page.getByRole('heading', { name: 'Your password' }) });
    await card.getByLabel('Current password').fill('not-the-password');
    await card.getByLabel('New password', { exact: true }).fill('e2e-new-password-456');
    await card.getByLabel('New password again').fill('e2e-new-password-456');
    browser.expectHttpError(400, /\/api\/v1\/auth\/password$/);
    await card.getByRole('button', { name: 'Change password' }).click();
    await visible(card.getByText('is wrong'));

    await card.getByLabel('Current password').fill(DASHBOARD_ADMIN_PASSWORD);
    await card.getByRole('button', { name: 'Change password' }).click();
    await visible(card.getByRole('status'));
    expect(await card.getByRole('status').textContent()).toMatch(/Password changed\. \d+ other sessions? (was|were) signed out/);
    expect(await status('/auth/me', elsewhere)).toBe(401);

    // Only this browser's session is left; the page still works.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Users & API tokens' }).waitFor();
    await poll(() => sessions.locator('tbody tr').count()).toBe(1);
    await browser.screenshot('access-accounts');
  });

  it('resets a password, changes a role and removes a user', async () => {
    // The environment's own API session ended with the password change above: sign in again.
    const admin = await apiLogin('admin', 'e2e-new-password-456');
    const adminApi = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${env.url}/api/v1${path}`, { method, headers: { cookie: admin, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      expect(res.ok).toBe(true);
      return res.json() as Promise<unknown>;
    };
    await adminApi('POST', '/users', { username: 'dana', password: 'dana-password-123', role: 'viewer' });
    const dana = await apiLogin('dana', 'dana-password-123');
    await page.reload();
    const item = page.locator('li[data-user="dana"]');
    await visible(item);

    await item.getByRole('button', { name: 'Reset password of dana' }).click();
    const dialog = page.getByRole('dialog', { name: 'New password for dana' });
    await dialog.getByLabel('New password').fill('dana-reset-password-1');
    await dialog.getByRole('button', { name: 'Set password' }).click();
    await hidden(dialog);
    expect(await status('/auth/me', dana)).toBe(401);
    await apiLogin('dana', 'dana-reset-password-1');

    await item.getByRole('button', { name: 'Make dana admin' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Make admin' }).click();
    await visible(item.getByText('admin', { exact: true }));

    await item.getByRole('button', { name: 'Remove user dana' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await hidden(item);
    const users = (await adminApi('GET', '/users')) as { username: string }[];
    expect(users.map((u) => u.username)).toEqual(['admin']);
    browser.assertClean();
  });
});
