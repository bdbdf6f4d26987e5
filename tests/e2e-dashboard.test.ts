/**
 * End-to-end: the dashboard (apps/web, built with Vite) in headless Chromium against a real controller started
 * in-process, and a real agent (apps/agent) with a managed Caddy (/usr/bin/caddy) on 127.0.0.2/127.0.0.3.
 *
 * Flow: log in → every page renders → "New agent" issues a token, the agent enrolls with the token read off the
 * page and turns Online live (the dialog follows its own token's usedByNodeId, not whichever node enrolls first in
 * the site: a decoy enrolls in between) → the Sites page lists the site's enrollment tokens, issues one and revokes
 * it (enrolling with it then answers 401 enrollment_token_revoked) → every page again at phone width.
 *
 * The other dashboard flows start from an agent enrolled through the API (tests/helpers/dashboard-session.ts):
 *   e2e-host-forms.test.ts        proxy / redirection hosts through the forms, served by the node's Caddy
 *   e2e-servers.test.ts           stream refusal, local routes live, the server selector, server detail and
 *                                 certificates, Offline live, revoke, move to another site
 *
 * Every page is screenshotted to test-results/screenshots/. Any browser console error or uncaught page error
 * fails the test (see tests/helpers/browser.ts for the one exception: HTTP errors the test provokes itself).
 *
 * The web app is built in beforeAll when apps/web/dist is missing or older than its sources (~1 s with Vite).
 * Missing Chromium or Caddy: fails under CI=true, skips locally.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { RunningAgent } from '@caddyfleet/agent';
import { hasChromium, type BrowserSession } from './helpers/browser';
import { hidden, horizontalOverflow, open, poll, row, signIn, text, visible, type DashboardEnv } from './helpers/dashboard';
import { useDashboardSession } from './helpers/dashboard-session';
import { requireCaddy } from './helpers/fleet-agent';

// Both throw under CI=true when missing (never skip in CI); locally they warn and the suite skips.
const browserReady = hasChromium();
const caddyReady = requireCaddy();

describe.skipIf(!browserReady || !caddyReady)('dashboard end-to-end (Chromium, real controller, real agent)', () => {
  const session = useDashboardSession();
  let env: DashboardEnv;
  let browser: BrowserSession;
  let page: Page;
  // Filled in by the enrollment step.
  let agent: RunningAgent | null = null;
  let nodeId = '';
  let siteId = '';

  beforeAll(() => {
    ({ env, browser, page } = session);
  });

  it('logs in, with first-run guidance on the login page', async () => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'caddyfleet' }).waitFor();
    await page.getByText('First time here?').click();
    await visible(page.getByText(/printed once in the controller/));
    await visible(page.getByText('CADDYFLEET_ADMIN_PASSWORD'));
    await browser.screenshot('01-login');

    await signIn(page, 'admin');
    await visible(page.getByRole('status').filter({ hasText: 'Live' }));
    browser.assertClean();
  });

  it('renders every page with its empty states', async () => {
    await open(page, '/', 'Overview');
    await visible(page.getByText('Only the controller\'s local server is registered.'));
    await browser.screenshot('02-overview-empty');
    await open(page, '/proxy-hosts', 'Proxy hosts');
    await visible(page.getByText('No proxy hosts yet.'));
    for (const [path, heading, shot] of [
      ['/redirection-hosts', 'Redirection hosts', '03-redirection-hosts'],
      ['/streams', 'Streams', '04-streams'],
      ['/404-hosts', '404 hosts', '05-404-hosts'],
      ['/sites', 'Sites', '06-sites'],
      ['/audit', 'Audit log', '07-audit'],
      ['/access', 'Users & API tokens', '08-access'],
    ] as const) {
      await open(page, path, heading);
      await page.waitForLoadState('networkidle');
      await browser.screenshot(shot);
    }
    // An API token is shown once, with a copy button.
    await page.getByLabel('Token name').fill('e2e script');
    await page.getByRole('button', { name: 'Create token' }).click();
    await poll(() => page.getByRole('textbox', { name: 'API token' }).inputValue()).toMatch(/\S{20,}/);
    await visible(page.getByRole('cell', { name: 'e2e script', exact: true }));
    browser.assertClean();
  });

  it('enrolls a node through "New agent" and shows it Online live', async () => {
    // A site for the new server, made through the Sites page.
    await open(page, '/sites', 'Sites');
    await page.getByRole('button', { name: '+ Add tenant' }).click();
    await page.getByLabel('Name of the new tenant').fill('E2E Tenant');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('region', { name: 'Tenant E2E Tenant' }).getByRole('button', { name: '+ Add organization' }).click();
    await page.getByLabel('Name of the new organization').fill('E2E Org');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('region', { name: 'Tenant E2E Tenant' }).getByRole('button', { name: '+ Add site' }).click();
    await page.getByLabel('Name of the new site').fill('E2E Site');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await visible(page.getByText('E2E Site'));
    await browser.screenshot('09-sites-tree');

    await open(page, '/servers', 'Servers');
    await page.getByRole('button', { name: 'New agent' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New agent' });
    await dialog.getByLabel('Site').selectOption({ label: 'E2E Tenant / E2E Org / E2E Site' });
    await dialog.getByRole('button', { name: 'Create enrollment token' }).click();
    const token = await dialog.getByLabel('Enrollment token').inputValue();
    expect(token).toMatch(/\S{20,}/);
    const command = await dialog.getByLabel('Command').inputValue();
    expect(command).toBe(`curl -fsSL ${env.url}/install.sh | CADDYFLEET_ENROLLMENT_TOKEN=${token} sh`);
    // The test controller is on 127.0.0.1: the dialog says other servers cannot reach it.
    await visible(dialog.getByTestId('loopback-warning'));
    await visible(dialog.getByText('Waiting for the agent to connect…'));
    await browser.screenshot('10-new-agent-token');

    // A decoy enrolls into the same site with another token first: the dialog must keep waiting for its own.
    const sites = (await env.api('GET', '/sites')) as { id: string; name: string }[];
    siteId = sites.find((s) => s.name === 'E2E Site')!.id;
    const other = (await env.api('POST', `/sites/${siteId}/enrollment-tokens`, { ttlSeconds: 600 })) as { token: string };
    const decoy = await env.enroll(other.token, 'decoy-node');
    expect(decoy.status).toBe(201);
    // The decoy's row reaches the table behind the dialog through the same SSE event that would mislead it.
    await row(page, 'node-id', decoy.body.nodeId!).waitFor({ state: 'attached' });
    await page.waitForTimeout(800);
    await visible(dialog.getByText('Waiting for the agent to connect…'));
    expect(await dialog.getByTestId('enrolled-node').count()).toBe(0);

    // The real agent, with the token taken from the page.
    agent = await env.startAgent(token, 'e2e-node');
    nodeId = agent.nodeId;

    const enrolled = dialog.getByTestId('enrolled-node');
    await poll(() => text(enrolled), 20_000).toContain('e2e-node');
    expect(await enrolled.getAttribute('data-node-id')).toBe(nodeId);
    await visible(enrolled.locator('[data-status="online"]'), 20_000);
    await browser.screenshot('11-new-agent-online');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await env.api('DELETE', `/nodes/${decoy.body.nodeId!}`);
    await hidden(row(page, 'node-id', decoy.body.nodeId!));

    // The table updated live too (no reload happened).
    const nodeRow = row(page, 'node-id', nodeId);
    await visible(nodeRow.locator('[data-status="online"]'));
    await poll(() => text(nodeRow)).toContain('2.6');
    await poll(() => text(nodeRow)).toContain('In sync');
    await browser.screenshot('12-servers');
    browser.assertClean();
  });

  it('lists a site\'s enrollment tokens on the Sites page, issues one there and revokes it', async () => {
    await open(page, '/sites', 'Sites');
    const toggle = page.getByRole('button', { name: 'Enrollment tokens of E2E Site', exact: true });
    expect(await toggle.getAttribute('aria-expanded')).toBe('false');
    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    const panel = page.getByRole('region', { name: 'Enrollment tokens of site E2E Site', exact: true });
    const rows = panel.locator('tbody tr');
    // The dialog's token (used by e2e-node) and the decoy's (its server was deleted since).
    await poll(() => rows.count()).toBe(2);
    const listed = (await env.api('GET', `/sites/${siteId}/enrollment-tokens`)) as { id: string; usedByNodeId: string | null }[];
    const used = panel.locator(`tr[data-token-id="${listed.find((t) => t.usedByNodeId === nodeId)!.id}"]`);
    await poll(() => used.getAttribute('data-token-state')).toBe('used');
    await visible(used.getByRole('link', { name: 'e2e-node' }));
    await poll(() => text(panel.locator('tr[data-token-state="used"]').filter({ hasNotText: 'e2e-node' }))).toContain('deleted server');
    expect(await panel.getByRole('button', { name: /^Revoke enrollment token/ }).count()).toBe(0);

    // "New enrollment token" reuses the New agent dialog, with the site fixed.
    await panel.getByRole('button', { name: 'New enrollment token for E2E Site' }).click();
    const dialog = page.getByRole('dialog', { name: 'New enrollment token' });
    await visible(dialog.getByText('E2E Tenant / E2E Org / E2E Site'));
    await dialog.getByLabel('Token expires after').selectOption({ label: '1 day' });
    await dialog.getByRole('button', { name: 'Create enrollment token' }).click();
    const secret = await dialog.getByLabel('Enrollment token').inputValue();
    expect(secret).toMatch(/\S{20,}/);
    await visible(dialog.getByText('Waiting for the agent to connect…'));
    await browser.screenshot('24-new-enrollment-token');
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
    await hidden(dialog);
    const unused = panel.locator('tr[data-token-state="unused"]');
    await poll(() => unused.count()).toBe(1);
    const tokenId = (await unused.getAttribute('data-token-id'))!;
    await poll(() => text(unused)).toMatch(/in (23|24) h/);
    await browser.screenshot('25-sites-enrollment-tokens');

    await unused.getByRole('button', { name: `Revoke enrollment token ${tokenId}` }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke enrollment token?' });
    await poll(() => text(confirm)).toContain(tokenId);
    await browser.screenshot('26-revoke-enrollment-token');
    await confirm.getByRole('button', { name: 'Revoke token' }).click();
    await hidden(confirm);
    const revoked = panel.locator(`tr[data-token-id="${tokenId}"]`);
    await poll(() => revoked.getAttribute('data-token-state')).toBe('revoked');
    expect(await revoked.getByRole('button').count()).toBe(0);
    await browser.screenshot('27-sites-token-revoked');

    // The API agrees: the token is revoked, and an agent using it is refused.
    const after = (await env.api('GET', `/sites/${siteId}/enrollment-tokens`)) as { id: string; revokedAt: string | null; usedAt: string | null }[];
    expect(after.find((t) => t.id === tokenId)).toMatchObject({ usedAt: null, revokedAt: expect.any(String) });
    const refused = await env.enroll(secret, 'late-agent');
    expect(refused.status).toBe(401);
    expect(refused.body.error?.code).toBe('enrollment_token_revoked');
    browser.assertClean();
  });

  it('renders every page at phone width (390 px) without console errors', async () => {
    const phone = await env.launchBrowser({ width: 390, height: 844 });
    try {
      const p = phone.page;
      await p.goto('/');
      await signIn(p);
      // The navigation sits behind the menu button on a phone.
      await hidden(p.getByRole('navigation', { name: 'Main' }));
      await p.getByRole('button', { name: 'Menu' }).click();
      await visible(p.getByRole('navigation', { name: 'Main' }));
      await phone.screenshot('phone-menu');
      for (const [path, heading, shot] of [
        ['/', 'Overview', 'phone-overview'],
        ['/servers', 'Servers', 'phone-servers'],
        [`/servers/${nodeId}`, 'e2e-node', 'phone-server-detail'],
        ['/proxy-hosts', 'Proxy hosts', 'phone-proxy-hosts'],
        ['/redirection-hosts', 'Redirection hosts', 'phone-redirection-hosts'],
        ['/streams', 'Streams', 'phone-streams'],
        ['/404-hosts', '404 hosts', 'phone-404-hosts'],
        ['/sites', 'Sites', 'phone-sites'],
        ['/audit', 'Audit log', 'phone-audit'],
        ['/access', 'Users & API tokens', 'phone-access'],
      ] as const) {
        await open(p, path, heading);
        await p.waitForLoadState('networkidle');
        // Nothing may be wider than the screen.
        const overflow = await horizontalOverflow(p);
        expect(overflow, `${path} is wider than the phone screen`).toBeLessThanOrEqual(0);
        await phone.screenshot(shot);
      }
      await p.goto('/proxy-hosts');
      await p.getByRole('button', { name: 'Add proxy host' }).first().click();
      await p.getByRole('dialog').waitFor();
      await phone.screenshot('phone-proxy-form');

      // A site's enrollment tokens (opened by ?site=, as the server detail links them) and the move dialog.
      await p.goto(`/sites?site=${siteId}`);
      const panel = p.getByRole('region', { name: 'Enrollment tokens of site E2E Site', exact: true });
      await poll(() => panel.locator('tbody tr').count()).toBe(3);
      const overflow = await horizontalOverflow(p);
      expect(overflow, '/sites with tokens is wider than the phone screen').toBeLessThanOrEqual(0);
      // ?site= scrolled the site into view; the full-page shot reads better from the top (sticky header).
      await p.evaluate(() => window.scrollTo(0, 0));
      await phone.screenshot('phone-sites-tokens');
      await p.goto(`/servers/${nodeId}`);
      await p.getByRole('button', { name: 'Move to site' }).click();
      await p.getByRole('dialog', { name: 'Move e2e-node to another site?' }).getByLabel('New site').waitFor();
      await phone.screenshot('phone-move-to-site');
      phone.assertClean();
    } finally {
      await phone.close();
    }
  });
});
