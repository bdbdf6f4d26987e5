/**
 * End-to-end: servers in the dashboard, what they can serve and their life (headless Chromium, real controller
 * in-process, a real agent with a managed /usr/bin/caddy on 127.0.0.2/127.0.0.3 enrolled through the API,
 * tests/helpers/dashboard-session.ts, serving the proxy host app.e2e.test made through the API).
 *
 * Flow: the stream form refuses a server whose Caddy lacks layer4 (409 node_lacks_module on the Server field), and
 * a local route that clashes with a central one shows its lastError live → an agent-local route appears and
 * disappears live (SSE `routes`) → the header's server selector filters the hosts list and survives a reload →
 * the server page lists its routes, events and the certificate its Caddy issued for a tls 'internal' host →
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
const LOCAL_DOMAIN = 'local.e2e.test';

// Both throw under CI=true when missing (never skip in CI); locally they warn and the suite skips.
const browserReady = hasChromium();
const caddyReady = requireCaddy();

describe.skipIf(!browserReady || !caddyReady)('dashboard servers (Chromium, real controller, real agent)', () => {
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

  it("refuses a stream on the form for a server whose Caddy lacks layer4, and shows a route the node cannot serve with its lastError, live", async () => {
    await open(page, '/streams', 'Streams');
    await visible(page.getByText('No streams yet.'));
    await page.getByRole('button', { name: 'Add stream' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'New stream' });
    await dialog.getByLabel('Server', { exact: true }).selectOption(nodeId);
    // The agent reported its Debian Caddy's modules: the form says so before the controller does.
    await visible(dialog.getByText("This server's Caddy has no layer4 module, so it cannot serve streams."));
    await dialog.getByLabel('Listen port').fill('15432');
    await dialog.getByLabel('Host', { exact: true }).fill('127.0.0.1');
    await dialog.getByLabel('Port', { exact: true }).fill('5432');
    await dialog.getByLabel('TLS server names (SNI)').fill('db.e2e.test');
    await dialog.getByLabel('PROXY protocol').selectOption('v2');
    browser.expectHttpError(409, /^\/api\/v1\/routes$/);
    await dialog.getByRole('button', { name: 'Create stream' }).click();
    // 409 node_lacks_module, on the Server field.
    await visible(dialog.getByText(/This server's Caddy has no layer4 module \(streams need a Caddy built with layer4\)/));
    await browser.screenshot('17-stream-refused-no-layer4');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await hidden(dialog);
    await visible(page.getByText('No streams yet.'));

    // A local route claiming the central proxy host's domain is not served; the controller shows why, live.
    await open(page, '/404-hosts', '404 hosts');
    const clash = await agent!.localRoutes.add({ kind: 'dead', domains: [DOMAIN], tls: 'off' });
    const local = page.locator('tbody tr').filter({ hasText: DOMAIN });
    await visible(local.getByRole('note'), 20_000);
    await poll(() => text(local.getByRole('note'))).toMatch(new RegExp(`domain ${DOMAIN.replace(/\./g, '\\.')} conflicts with route`));
    await browser.screenshot('17b-local-route-last-error');
    expect(await agent!.localRoutes.remove(clash.route.id)).toBe(true);
    await hidden(local);
    browser.assertClean();
  });

  it('shows an agent-local route appear and go live, on the server detail and the hosts list (SSE routes)', async () => {
    // A local route changes no revision: only the `routes` event tells the dashboard. A list also refreshes once
    // on the first `node` event after it mounts (heartbeats, every second here), so let that pass first.
    const settle = () => page.waitForTimeout(2500);
    await open(page, `/servers/${nodeId}`, 'e2e-node');
    const region = page.getByRole('region', { name: 'Routes on this server' });
    await poll(() => text(region)).toContain(DOMAIN);
    await markDocument(page);
    await settle();
    const local = await agent!.localRoutes.add({ kind: 'dead', domains: ['agent-local.e2e.test'], tls: 'off' });
    await poll(() => text(region)).toContain('agent-local.e2e.test');
    await poll(() => text(region)).toContain('Agent-local');
    await browser.screenshot('28-server-detail-local-route');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: '404 hosts' }).click();
    const localRow = page.locator('tbody tr').filter({ hasText: 'agent-local.e2e.test' });
    await visible(localRow);
    await settle();
    expect(await agent!.localRoutes.remove(local.route.id)).toBe(true);
    await visible(page.getByText('No 404 hosts yet.'));
    expect(await documentMark(page)).toBe(1);
    browser.assertClean();
  });

  it('filters the hosts list with the server selector, in the URL and across a reload', async () => {
    await env.api('POST', '/routes', { kind: 'proxy', nodeId: null, domains: [LOCAL_DOMAIN], upstreams: [{ host: '127.0.0.1', port: 9 }], tls: 'off' });
    await open(page, '/proxy-hosts', 'Proxy hosts');
    const rows = page.locator('tbody tr');
    await poll(() => rows.count()).toBe(2);

    const selector = page.getByRole('combobox', { name: 'Server', exact: true });
    await selector.selectOption(nodeId);
    await poll(() => page.url()).toMatch(new RegExp(`[?&]node=${nodeId}`));
    await poll(() => rows.count()).toBe(1);
    await poll(() => text(rows.first())).toContain(DOMAIN);

    await page.reload();
    await visible(page.getByRole('heading', { level: 1, name: 'Proxy hosts' }));
    await poll(() => selector.inputValue()).toBe(nodeId);
    await poll(() => rows.count()).toBe(1);
    await poll(() => text(rows.first())).toContain(DOMAIN);
    await browser.screenshot('18-proxy-hosts-filtered');

    // The filter follows in-app navigation and applies to the overview.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await poll(() => page.url()).toMatch(new RegExp(`/\\?node=${nodeId}$`));
    await visible(page.getByText('Showing e2e-node.'));

    await selector.selectOption('local');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Proxy hosts' }).click();
    await poll(() => rows.count()).toBe(1);
    await poll(() => text(rows.first())).toContain(LOCAL_DOMAIN);

    await selector.selectOption('');
    await poll(() => page.url()).not.toMatch(/node=/);
    await poll(() => rows.count()).toBe(2);
    browser.assertClean();
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
