/**
 * The dashboard's "Add server" flow in Chromium against a real controller process and a real Debian host:
 * Servers → Add server (name, address, user, password) → Provision; the terminal panel shows the output live,
 * the status goes Provisioning → Online; the server page shows the run's steps; Delete shows the commands that
 * remove the agent. Screenshots go to test-results/screenshots/.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { BrowserSession, hasChromium } from './helpers/browser';
import { ensureWebBuilt, poll, visible } from './helpers/dashboard';
import { ensureAgentArtifact } from './helpers/agent-artifact';
import { ADMIN_PASSWORD, ControllerProcess } from './helpers/provisioning';
import { requireTargetHostSupport, startTargetHost, type TargetHost } from './helpers/target-host';

const browserReady = hasChromium();
const hasTarget = requireTargetHostSupport();
const ROOT_PASSWORD = `root-${randomBytes(9).toString('hex')}`;

/**
 * Chromium aborts open requests with ERR_NETWORK_CHANGED when any network interface of the machine appears or goes
 * (test targets get veths of their own); the live stream then resumes by itself (Last-Event-ID). Anything else fails.
 */
function assertCleanBrowser(b: BrowserSession): void {
  b.problems.splice(0, b.problems.length, ...b.problems.filter((p) => !p.text.includes('net::ERR_NETWORK_CHANGED')));
  b.assertClean();
}

const terminalText = (page: Page) => page.locator('[data-testid="provision-terminal"] .xterm-rows').innerText();

describe.skipIf(!browserReady || !hasTarget)('dashboard: add a server over SSH (Chromium, real controller, real host)', () => {
  let t: TargetHost;
  let ctl: ControllerProcess;
  let browser: BrowserSession;
  let page: Page;
  let nodeId = '';

  beforeAll(async () => {
    ensureAgentArtifact();
    await ensureWebBuilt();
    t = await startTargetHost({ rootPassword: ROOT_PASSWORD });
    ctl = await ControllerProcess.start(t.hostAddress);
    browser = await BrowserSession.launch({ width: 1366, height: 960, baseURL: ctl.url });
    page = browser.page;
    page.setDefaultTimeout(15_000);
  }, 300_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await ctl?.dispose();
    await t?.stop();
  });

  it('adds a server, shows the live output in a terminal, and ends Online', async () => {
    await page.goto('/');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();

    await page.getByRole('link', { name: 'Servers' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Servers' }).waitFor();
    await page.getByRole('button', { name: 'Add server' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add server' });
    await visible(dialog);
    await dialog.getByLabel('Name', { exact: true }).fill('edge-web');
    await dialog.getByLabel('Hostname or IP', { exact: true }).fill(t.address);
    await dialog.getByLabel('SSH port', { exact: true }).fill('22');
    await dialog.getByLabel('User', { exact: true }).fill('root');
    await dialog.getByLabel('SSH password', { exact: true }).fill(ROOT_PASSWORD);
    await browser.screenshot('provision-01-add-server');
    await dialog.getByRole('button', { name: 'Provision' }).click();

    const running = page.getByRole('dialog', { name: 'Provisioning edge-web' });
    await visible(running);
    await poll(() => terminalText(page), 30_000).toContain('Connect over SSH');
    await poll(() => page.locator('[data-testid="provision-status"]').getAttribute('data-status'), 30_000).toBe('running');
    await browser.screenshot('provision-02-running');
    await poll(() => page.locator('[data-testid="provision-status"]').getAttribute('data-status'), 240_000).toBe('succeeded');
    await poll(() => terminalText(page)).toContain('the agent connected: the node is online');
    const steps = page.locator('[data-testid="provision-steps"] li');
    expect(await steps.count()).toBe(13);
    expect(await steps.evaluateAll((els) => els.map((e) => e.getAttribute('data-status')))).toEqual([
      ...Array(10).fill('succeeded'),
      'warning',
      'succeeded',
      'succeeded',
    ]);
    await browser.screenshot('provision-03-online');

    nodeId = (await ctl.ok<{ id: string; name: string }[]>('GET', '/nodes')).find((n) => n.name === 'edge-web')!.id;
    expect((await ctl.node(nodeId)).status).toBe('online');
    await running.getByRole('link', { name: 'Open edge-web' }).click();
    await page.getByRole('heading', { level: 1, name: /edge-web/ }).waitFor();
    await poll(() => page.locator('h1 [data-status]').getAttribute('data-status')).toBe('online');
    // The server page replays the stored run: its steps and its log.
    await poll(() => page.locator('[data-testid="provision-status"]').getAttribute('data-status')).toBe('succeeded');
    await poll(() => terminalText(page)).toContain('the agent connected: the node is online');
    await visible(page.locator('dl.facts').getByText(t.hostKeySha256));
    await browser.screenshot('provision-04-server-page');
    assertCleanBrowser(browser);
  }, 300_000);

  it('deletes the server and shows the commands that remove the agent from the host', async () => {
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete edge-web?' }).getByRole('button', { name: 'Delete server' }).click();
    const done = page.getByRole('dialog', { name: 'Deleted edge-web' });
    await visible(done);
    expect(await done.getByTestId('uninstall-commands').innerText()).toContain('sudo caddyfleet-agent uninstall');
    await browser.screenshot('provision-05-deleted');
    expect((await ctl.api('GET', `/nodes/${nodeId}`)).status).toBe(404);
    await done.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('heading', { level: 1, name: 'Servers' }).waitFor();
    assertCleanBrowser(browser);
  }, 60_000);
});
