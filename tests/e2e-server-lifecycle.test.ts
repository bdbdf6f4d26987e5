/**
 * End-to-end: a server's life in the dashboard (headless Chromium, real controller in-process, a real agent with a
 * managed /usr/bin/caddy on 127.0.0.2/127.0.0.3 enrolled through the API, tests/helpers/dashboard-session.ts,
 * serving the proxy host app.e2e.test made through the API).
 *
 * Flow: the server page lists its routes, events and the certificate its Caddy issued for a tls 'internal' host →
 * stopping the agent turns the node Offline live → revoke through the confirmation dialog → "Move to site".
 *
 * Screenshots go to test-results/screenshots/; any browser console error fails the test (tests/helpers/browser.ts).
 * Missing Chromium or Caddy: fails under CI=true, skips locally.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { RunningAgent } from '@caddyfleet/agent';
import { hasChromium, type BrowserSession } from './helpers/browser';
import { documentMark, hidden, markDocument, open, poll, row, text, visible, type DashboardEnv } from './helpers/dashboard';
import { addServedProxyHost, useDashboardSession } from './helpers/dashboard-session';
import { requireCaddy } from './helpers/fleet-agent';

const DOMAIN = 'app.e2e.test';

// Both throw under CI=true when missing (never skip in CI); locally they warn and the suite skips.
const browserReady = hasChromium();
const caddyReady = requireCaddy();

describe.skipIf(!browserReady || !caddyReady)('dashboard server lifecycle (Chromium, real controller, real agent)', () => {
  const session = useDashboardSession({ signIn: true, agent: true });
  let env: DashboardEnv;
  let browser: BrowserSession;
  let page: Page;
  let agent: RunningAgent;
  let nodeId = '';

  beforeAll(async () => {
    ({ env, browser, page, agent, nodeId } = session);
    await addServedProxyHost(session, DOMAIN);
  });

  it('shows the server detail with its routes and events, then Offline live when the agent stops', async () => {
    await open(page, `/servers/${nodeId}`, 'e2e-node');
    await poll(() => text(page.getByRole('region', { name: 'Routes on this server' }))).toContain(DOMAIN);
    await poll(() => text(page.getByRole('region', { name: 'Recent events' }))).toContain('enrolled server e2e-node');
    await browser.screenshot('19-server-detail');

    // A tls 'internal' host makes the node's Caddy issue a certificate from its local CA; the agent reports it.
    const secure = (await env.api('POST', '/routes', { kind: 'proxy', nodeId, domains: ['secure.e2e.test'], upstreams: [{ host: '127.0.0.1', port: env.upstream.port }], tls: 'internal' })) as { id: string };
    const certs = page.getByRole('table', { name: 'Certificates' });
    await poll(() => text(certs), 30_000).toContain('secure.e2e.test');
    const certRow = certs.locator('tbody tr').filter({ hasText: 'secure.e2e.test' });
    await poll(() => text(certRow)).toMatch(/Caddy Local Authority/);
    await poll(() => text(certRow)).toContain("Caddy's internal CA");
    // Freshly issued (Caddy renews with a third of the lifetime left): not flagged.
    await poll(() => certRow.getAttribute('data-expiry')).toBe('ok');
    await poll(() => text(page.getByRole('region', { name: 'Details' }))).toMatch(/\d+ modules/);
    await certs.scrollIntoViewIfNeeded();
    await browser.screenshot('19b-server-certificates');
    await env.api('DELETE', `/routes/${secure.id}`);

    await open(page, '/servers', 'Servers');
    const nodeRow = row(page, 'node-id', nodeId);
    await visible(nodeRow.locator('[data-status="online"]'));
    // Marks this document: if the page reloaded, the mark would be gone.
    await markDocument(page);
    await agent!.stop();
    await visible(nodeRow.locator('[data-status="offline"]'), 15_000);
    expect(await documentMark(page)).toBe(1);
    await poll(() => nodeRow.getAttribute('class')).toMatch(/row-bad/);
    await browser.screenshot('20-servers-offline');

    await open(page, '/', 'Overview');
    await poll(() => text(page.getByRole('region', { name: 'Needs attention' }))).toContain('e2e-node');
    await browser.screenshot('21-overview');
    browser.assertClean();
  });

  it('revokes the node through the confirmation dialog', async () => {
    await open(page, `/servers/${nodeId}`, 'e2e-node');
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke e2e-node?' });
    await poll(() => text(confirm)).toContain('its key stops working');
    await browser.screenshot('22-revoke-confirm');
    await confirm.getByRole('button', { name: 'Revoke agent key' }).click();
    await hidden(confirm);
    await visible(page.getByText('agent key revoked').first());
    await visible(page.getByText('This server can no longer connect.'));
    await poll(() => page.getByRole('button', { name: 'Revoke', exact: true }).count()).toBe(0);
    await poll(() => text(page.getByRole('region', { name: 'Recent events' }))).toContain('revoked server e2e-node');
    await poll(() => text(page.getByRole('region', { name: 'Details' }))).toContain('Agent key revoked');
    await browser.screenshot('23-server-revoked');
    const node = (await env.api('GET', `/nodes/${nodeId}`)) as { status: string; lastError: string };
    expect(node).toMatchObject({ status: 'offline', lastError: 'agent key revoked', revokedAt: expect.any(String) });
    browser.assertClean();
  });

  it('moves the node to another site from its detail page', async () => {
    const orgs = (await env.api('GET', '/organizations')) as { id: string; name: string }[];
    const site2 = (await env.api('POST', '/sites', { name: 'E2E Site 2', organizationId: orgs.find((o) => o.name === 'E2E Org')!.id })) as { id: string };
    await open(page, `/servers/${nodeId}`, 'e2e-node');
    const details = page.getByRole('region', { name: 'Details' });
    await poll(() => text(details)).toContain('E2E Tenant / E2E Org / E2E Site');

    await page.getByRole('button', { name: 'Move to site' }).click();
    const dialog = page.getByRole('dialog', { name: 'Move e2e-node to another site?' });
    await poll(() => text(dialog)).toContain('is in E2E Tenant / E2E Org / E2E Site.');
    const move = dialog.getByRole('button', { name: /^Move/ });
    expect(await move.isDisabled()).toBe(true);
    // The current site is not offered.
    const choices = await dialog.getByLabel('New site').locator('option').allTextContents();
    expect(choices).not.toContain('E2E Tenant / E2E Org / E2E Site');
    await dialog.getByLabel('New site').selectOption({ label: 'E2E Tenant / E2E Org / E2E Site 2' });
    await browser.screenshot('29-move-to-site');
    await dialog.getByRole('button', { name: 'Move to E2E Site 2' }).click();
    await hidden(dialog);
    await poll(() => text(details)).toContain('E2E Tenant / E2E Org / E2E Site 2');
    await poll(() => text(page.getByRole('region', { name: 'Recent events' }))).toContain('changed server e2e-node');
    await browser.screenshot('30-server-moved');

    const node = (await env.api('GET', `/nodes/${nodeId}`)) as { siteId: string };
    expect(node.siteId).toBe(site2.id);
    const routes = (await env.api('GET', `/routes?nodeId=${nodeId}`)) as { siteId: string }[];
    expect(routes.length).toBeGreaterThan(0);
    for (const r of routes) expect(r.siteId).toBe(site2.id);
    // The servers list shows the new site too.
    await page.getByRole('link', { name: 'Servers', exact: true }).first().click();
    await poll(() => text(row(page, 'node-id', nodeId))).toContain('E2E Site 2');
    browser.assertClean();
  });
});
