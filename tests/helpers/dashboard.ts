/**
 * Setup and page helpers for the dashboard's end-to-end tests (tests/e2e-*.test.ts; their shared hooks: ./dashboard-session.ts).
 *
 *  - `ensureWebBuilt()` builds apps/web with Vite when dist/ is missing or older than its sources, and checks
 *    that the bundle is React's production build;
 *  - `DashboardEnv.start()`: a controller started in-process (server mode, SQLite in a temp dir, 127.0.0.1, heartbeat
 *    1 s, offline after 2 missed) with an admin session for API calls, and an upstream on 127.0.0.1;
 *    `env.startAgent(token, name)` adds the real agent (apps/agent, in-process) with a managed /usr/bin/caddy on
 *    127.0.0.2 (HTTP) and 127.0.0.3 (HTTPS); `env.launchBrowser(viewport)` opens headless Chromium on the controller;
 *  - page helpers: `open`, `signIn`, `poll`, `visible`, `hidden`, `text`, `row`, `markDocument`, `horizontalOverflow`.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { loadAgentOptions, startAgent, type RunningAgent } from '@caddyfleet/agent';
import { loadConfig, startController, type RunningController } from '../../apps/controller/src/index';
import { startUpstream, type Upstream } from '../../apps/agent/test-support/fixtures';
import { BrowserSession } from './browser';
import { CADDY_BIN } from './fleet-agent';
import { httpGet } from './http-probe';
import { freePort, spawnLogged, tempDir, type TempDir } from './processes';

export const DASHBOARD_ADMIN_PASSWORD = 'e2e-admin-password-123';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WEB = join(ROOT, 'apps/web');

// ---------------------------------------------------------------------------------------------------------
// the web build
// ---------------------------------------------------------------------------------------------------------

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/**
 * Builds apps/web with Vite when dist/ is missing or older than anything it is built from (~1 s), then checks
 * that the served bundle is React's production build (the development one double-runs effects, logs more).
 */
export async function ensureWebBuilt(): Promise<void> {
  await buildWebIfStale();
  assertProductionBundle();
}

async function buildWebIfStale(): Promise<void> {
  const builtAt = newestMtime(join(WEB, 'dist/index.html'));
  const sources = ['index.html', 'vite.config.ts', 'package.json', 'src', 'public'].map((p) => join(WEB, p));
  sources.push(join(ROOT, 'packages/protocol/src'));
  const sourcesAt = Math.max(...sources.map(newestMtime));
  if (builtAt > sourcesAt) return;
  // vitest runs with NODE_ENV=test; a build must not inherit it (the config forces production as well).
  const vite = spawnLogged(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
    cwd: WEB,
    name: 'vite build',
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const exit = await Promise.race([vite.exited, new Promise<null>((r) => setTimeout(() => r(null), 90_000))]);
  if (exit === null) {
    await vite.stop();
    throw new Error(`vite build timed out\n${vite.describe()}`);
  }
  if (exit.code !== 0) throw new Error(`vite build failed\n${vite.describe()}`);
}

function assertProductionBundle(): void {
  const assets = join(WEB, 'dist/assets');
  for (const f of readdirSync(assets).filter((n) => n.endsWith('.js'))) {
    if (readFileSync(join(assets, f), 'utf8').includes('Download the React DevTools')) {
      throw new Error(`apps/web/dist/assets/${f} is a development build; rebuild with: npm run build -w apps/web`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// controller, upstream, agent, browser
// ---------------------------------------------------------------------------------------------------------

/** What a GET through the agent's Caddy answered. */
export interface CaddyAnswer {
  status: number;
  location: string;
  body: string;
}

/**
 * The controller (with an admin session for API calls) and an upstream that answers `e2e-upstream <host><url>`;
 * later the agent. `close()` stops them all and removes the temp dir.
 */
export class DashboardEnv {
  /** Set by startAgent(). */
  agent: RunningAgent | null = null;
  /** Where the agent's Caddy serves plain HTTP (port 0 until startAgent()). */
  caddyHttp = { ip: '127.0.0.2', port: 0 };

  private constructor(
    readonly dir: TempDir,
    readonly controller: RunningController,
    readonly upstream: Upstream,
    private readonly apiCookie: string,
  ) {}

  static async start(): Promise<DashboardEnv> {
    const dir = await tempDir('cf-e2e-');
    let controller: RunningController | undefined;
    try {
      controller = await startController(
        loadConfig(
          'server',
          {
            listen: '127.0.0.1:0',
            dataDir: join(dir.path, 'data'),
            adminPassword: DASHBOARD_ADMIN_PASSWORD,
            logLevel: 'silent',
            heartbeatSeconds: '1',
            offlineAfterMissed: '2',
          },
          {},
        ),
        { announce: () => {} },
      );
      const login = await fetch(`${controller.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: DASHBOARD_ADMIN_PASSWORD }),
      });
      expect(login.status).toBe(200);
      const apiCookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      return new DashboardEnv(dir, controller, await startUpstream('e2e-upstream'), apiCookie);
    } catch (err) {
      await controller?.close().catch(() => {});
      await dir.cleanup();
      throw err;
    }
  }

  /** The controller's base URL (http://127.0.0.1:<port>). */
  get url(): string {
    return this.controller.url;
  }

  /** An API call with the admin session; the parsed JSON body (null when empty); throws unless 2xx. */
  async api(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { cookie: this.apiCookie, 'x-requested-with': 'e2e', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : null;
  }

  /** POST /agent/enroll as an agent would (no session); the raw status and body. */
  async enroll(token: string, name: string): Promise<{ status: number; body: { nodeId?: string; error?: { code: string } } }> {
    const res = await fetch(`${this.url}/api/v1/agent/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, name, hostname: `${name}.e2e.test` }),
    });
    return { status: res.status, body: (await res.json()) as { nodeId?: string; error?: { code: string } } };
  }

  /** Starts the real agent (in this process) enrolling with `token`; its Caddy listens on 127.0.0.2 and 127.0.0.3. */
  async startAgent(token: string, name: string): Promise<RunningAgent> {
    this.caddyHttp = { ip: '127.0.0.2', port: await freePort('127.0.0.2') };
    const httpsPort = await freePort('127.0.0.3');
    this.agent = await startAgent(
      loadAgentOptions(
        {
          controller: this.url,
          token,
          stateDir: join(this.dir.path, 'agent'),
          caddyBin: CADDY_BIN,
          httpListen: `${this.caddyHttp.ip}:${this.caddyHttp.port}`,
          httpsListen: `127.0.0.3:${httpsPort}`,
          name,
          logLevel: 'silent',
          driftCheckSeconds: 0,
          reconnectMinMs: 200,
          reconnectMaxMs: 1000,
        },
        {},
      ),
    );
    return this.agent;
  }

  /** GET through the agent's Caddy with `Host: host`: status, Location and body, or null when nothing answers. */
  async caddyGet(host: string, path = '/'): Promise<CaddyAnswer | null> {
    try {
      const res = await httpGet(this.caddyHttp.ip, this.caddyHttp.port, host, path);
      return { status: res.status, location: String(res.headers.location ?? ''), body: res.body };
    } catch {
      return null;
    }
  }

  /** Headless Chromium on the controller's URL, with a 15 s default timeout for page actions. */
  async launchBrowser(viewport: { width: number; height: number }): Promise<BrowserSession> {
    const session = await BrowserSession.launch({ ...viewport, baseURL: this.url });
    session.page.setDefaultTimeout(15_000);
    return session;
  }

  /** Stops the agent, the controller and the upstream, and removes the temp dir. */
  async close(): Promise<void> {
    await this.agent?.stop().catch(() => {});
    await this.controller.close().catch(() => {});
    await this.upstream.close().catch(() => {});
    await this.dir.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------------------
// pages
// ---------------------------------------------------------------------------------------------------------

/** Retries `fn` until the matcher passes (playwright-core has no web-first assertions; vitest's poll does it). */
export const poll = <T>(fn: () => T | Promise<T>, timeout = 15_000) => expect.poll(fn, { timeout, interval: 100 });
export const visible = (l: Locator, timeout?: number) => l.waitFor({ state: 'visible', ...(timeout ? { timeout } : {}) });
export const hidden = (l: Locator) => l.waitFor({ state: 'hidden' });
export const text = (l: Locator) => l.textContent().then((t) => t ?? '');

/** The row of a table that carries `data-<attr>=<value>`. */
export const row = (page: Page, attr: string, value: string) => page.locator(`tr[data-${attr}="${value}"]`);

/** Loads a page of the app and waits for its title. */
export async function open(page: Page, path: string, heading: string | RegExp): Promise<void> {
  await page.goto(path);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

/** Fills the login form (the username only when given) with the admin password and waits for the Overview. */
export async function signIn(page: Page, username?: string): Promise<void> {
  if (username !== undefined) await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(DASHBOARD_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
}

/** Marks the current document; if the page reloads, the mark is gone (see documentMark). */
export async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { e2eMark: number }).e2eMark = 1));
}

/** 1 while the document marked by markDocument() is still the one shown. */
export function documentMark(page: Page): Promise<number | undefined> {
  return page.evaluate(() => (window as unknown as { e2eMark?: number }).e2eMark);
}

/** How many pixels the page is wider than the window (0 or less: it fits). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}
