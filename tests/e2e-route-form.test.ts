/**
 * End-to-end: what a new user meets in the route form and list, in headless Chromium against a real controller:
 * the TLS mode follows the domain names, port errors are in plain words, revoked servers are not offered, and
 * the route badges explain themselves.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { hasChromium, type BrowserSession } from './helpers/browser';
import { open, poll, row, visible, type DashboardEnv } from './helpers/dashboard';
import { useDashboardSession } from './helpers/dashboard-session';

const browserReady = hasChromium();

describe.skipIf(!browserReady)('dashboard route form (Chromium, real controller)', () => {
  const session = useDashboardSession({ signIn: true });
  let env: DashboardEnv;
  let browser: BrowserSession;
  let page: Page;

  beforeAll(() => {
    ({ env, browser, page } = session);
  });

  async function enroll(name: string): Promise<string> {
    const site = ((await env.api('GET', '/nodes/local')) as { siteId: string }).siteId;
    const { token } = (await env.api('POST', `/sites/${site}/enrollment-tokens`, {})) as { token: string };
    const res = await env.enroll(token, name);
    return res.body.nodeId!;
  }

  it('follows the domains for TLS, words port errors plainly and offers no revoked server', async () => {
    await enroll('active-edge');
    const revoked = await enroll('gone-edge');
    await env.api('POST', `/nodes/${revoked}/revoke`);
    await open(page, '/proxy-hosts', 'Proxy hosts');
    await page.getByRole('button', { name: 'Add proxy host' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New proxy host' });

    const servers = await dialog.getByLabel('Server', { exact: true }).locator('option').allTextContents();
    expect(servers.some((o) => o.startsWith('active-edge'))).toBe(true);
    expect(servers.some((o) => o.includes('gone-edge'))).toBe(false);

    const tls = dialog.getByLabel('TLS');
    await dialog.getByLabel('Domain names').fill('app.localhost');
    await poll(() => tls.inputValue()).toBe('off');
    await visible(dialog.getByText(/No public certificate can be issued for these names/));
    await dialog.getByLabel('Domain names').fill('app.example.com');
    await poll(() => tls.inputValue()).toBe('auto');
    await tls.selectOption('internal');
    await dialog.getByLabel('Domain names').fill('app.test');
    expect(await tls.inputValue(), 'a chosen mode stays').toBe('internal');

    await dialog.getByLabel('Host', { exact: true }).fill('127.0.0.1');
    await dialog.getByLabel('Port', { exact: true }).fill('70000');
    await dialog.getByRole('button', { name: 'Create proxy host' }).click();
    await visible(dialog.getByText('enter a port (1–65535)'));
    expect(await dialog.textContent()).not.toMatch(/Too big|expected number/);
    await page.keyboard.press('Escape');
    browser.assertClean();
  });

  it('explains the route badges', async () => {
    const route = (await env.api('POST', '/routes', { kind: 'dead', domains: ['badge.test'], tls: 'off' })) as { id: string };
    await open(page, '/404-hosts', '404 hosts');
    const badge = row(page, 'route-id', route.id).getByText('Central', { exact: true });
    await visible(badge);
    expect(await badge.getAttribute('title')).toMatch(/Created on this controller/);
    expect(await row(page, 'route-id', route.id).textContent()).not.toContain('exclusive');
  });
});
