/**
 * The dashboard's view of Docker routes, in headless Chromium against a real `caddyfleet standalone` whose local
 * node watches a private dockerd: a labelled container shows up live on the proxy hosts page with its container
 * name, server and state, read-only; the origin filter (kept in the URL) separates it from a central route.
 * Screenshot: test-results/screenshots/docker-routes.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, type BrowserSession } from './helpers/browser';
import { ensureWebBuilt, poll, text, visible } from './helpers/dashboard';
import { PrivateDockerd, requireDocker } from './helpers/dockerd';
import { proxyLabels, waitDockerRoute } from './helpers/docker-fleet';
import { requireCaddy } from './helpers/fleet';
import { BrowserSession as Browser } from './helpers/browser';
import { Standalone, STANDALONE_ADMIN_PASSWORD } from './helpers/standalone';

const ready = hasChromium() && requireCaddy() && requireDocker();

describe.skipIf(!ready)('dashboard: Docker routes (Chromium, standalone, private dockerd)', () => {
  let d: PrivateDockerd;
  let s: Standalone;
  let browser: BrowserSession;

  beforeAll(async () => {
    await ensureWebBuilt();
    d = await PrivateDockerd.start();
    s = await Standalone.start({ ip: '127.0.0.42', args: ['--docker-host', d.host] });
    browser = await Browser.launch({ width: 1280, height: 900, baseURL: s.url });
    browser.page.setDefaultTimeout(15_000);
  });
  afterAll(async () => {
    await browser?.close();
    await s?.dispose();
    await d?.dispose();
  });

  it('lists a container live with its name, server and state, read-only, and filters by origin', async () => {
    const page = browser.page;
    await page.goto('/login');
    await page.getByLabel('Password').fill(STANDALONE_ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await s.ok('POST', '/routes', { kind: 'proxy', domains: ['central.test'], upstreams: [{ host: '127.0.0.1', port: 9 }], tls: 'off' });
    await page.goto('/proxy-hosts');
    await page.getByRole('heading', { level: 1, name: 'Proxy hosts' }).waitFor();

    await d.run({ name: 'dash-web', labels: proxyLabels('dash.test', 80, { 'caddy.encode': 'gzip' }) });
    const route = await waitDockerRoute(s, (r) => r.domains.includes('dash.test'), 'dash.test on the controller');
    const row = page.locator(`tr[data-route-id="${route.id}"]`);
    // No reload: the page follows the controller's live events.
    await visible(row);
    const container = row.locator('li[data-container="dash-web"]');
    await visible(container);
    expect(await text(container)).toMatch(/dash-web\s+on local · running/);
    expect(await text(row)).toContain('Docker');
    expect(await text(row)).toContain('ignored unsupported labels: caddy.encode');
    expect(await text(row)).toContain("change the container's labels to edit it");
    expect(await row.getByRole('button', { name: /Edit/ }).count()).toBe(0);
    await browser.screenshot('docker-routes');

    const central = page.locator('tr', { hasText: 'central.test' });
    await visible(central);
    await page.getByLabel('Origin').selectOption('docker');
    await poll(() => page.url()).toContain('origin=docker');
    await poll(() => central.count()).toBe(0);
    await visible(row);
    await page.getByLabel('Origin').selectOption('central');
    await poll(() => row.count()).toBe(0);
    await visible(central);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Proxy hosts' }).waitFor();
    expect(await page.getByLabel('Origin').inputValue()).toBe('central');
    await poll(() => row.count()).toBe(0);

    await page.getByLabel('Origin').selectOption('docker');
    await visible(row);
    await d.stopContainer('dash-web');
    await poll(() => row.count()).toBe(0);
    await visible(page.getByText('No Docker proxy hosts.'));
    browser.assertClean();
  });
});
