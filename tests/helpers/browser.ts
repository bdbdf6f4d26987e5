/**
 * Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for the dashboard's e2e tests.
 *
 *  - a fresh profile (--user-data-dir) per launch, removed on close;
 *  - every browser console error and uncaught page error is recorded, and `assertClean()` fails on them.
 *    The only exception is Chromium's own "Failed to load resource: … status of N" line for an HTTP error the
 *    test provoked on purpose and announced with `expectHttpError()` (e.g. the 409 of a duplicate domain):
 *    Chromium logs every 4xx fetch, however the page handles it;
 *  - `screenshot(name)` writes test-results/screenshots/<name>.png.
 *
 * Missing Chromium: requireBinary() throws under CI=true (never skip) and returns false locally.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { requireBinary, tempDir, type TempDir } from './processes';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-results/screenshots', import.meta.url));

/** The flags the project runs Chromium with: no network chatter outside the page under test. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

export function hasChromium(): boolean {
  return requireBinary(CHROMIUM, 'chromium');
}

export interface ConsoleProblem {
  kind: 'console' | 'pageerror';
  text: string;
  url: string;
}

interface ExpectedHttpError {
  status: number;
  path: RegExp;
}

export class BrowserSession {
  readonly problems: ConsoleProblem[] = [];
  private readonly expected: ExpectedHttpError[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    private readonly profile: TempDir,
  ) {}

  static async launch(opts: { width?: number; height?: number; baseURL?: string } = {}): Promise<BrowserSession> {
    const profile = await tempDir('cf-chromium-');
    let context: BrowserContext;
    try {
      // launchPersistentContext passes --user-data-dir=<profile>: a fresh profile for every run.
      context = await chromium.launchPersistentContext(profile.path, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 },
        baseURL: opts.baseURL,
        timeout: 30_000,
      });
    } catch (err) {
      await profile.cleanup();
      throw err;
    }
    const page = context.pages()[0] ?? (await context.newPage());
    const session = new BrowserSession(context, page, profile);
    session.watch(page);
    return session;
  }

  private watch(page: Page): void {
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = msg.text();
      const url = msg.location().url ?? '';
      if (this.consumeExpected(text, url)) return;
      this.problems.push({ kind: 'console', text, url });
    });
    page.on('pageerror', (err) => this.problems.push({ kind: 'pageerror', text: `${err.name}: ${err.message}`, url: page.url() }));
  }

  private consumeExpected(text: string, url: string): boolean {
    const m = /^Failed to load resource: the server responded with a status of (\d{3})/.exec(text);
    if (!m) return false;
    let path = url;
    try {
      path = new URL(url).pathname;
    } catch {
      /* keep the raw url */
    }
    const i = this.expected.findIndex((e) => e.status === Number(m[1]) && e.path.test(path));
    if (i < 0) return false;
    this.expected.splice(i, 1);
    return true;
  }

  /** Announces one HTTP error response the next step provokes on purpose (consumed by its console line). */
  expectHttpError(status: number, path: RegExp): void {
    this.expected.push({ status, path });
  }

  /** Fails with every console error / page error seen so far. */
  assertClean(): void {
    if (!this.problems.length) return;
    const lines = this.problems.map((p) => `  [${p.kind}] ${p.text}${p.url ? ` (${p.url})` : ''}`);
    throw new Error(`browser reported ${this.problems.length} error(s):\n${lines.join('\n')}`);
  }

  async screenshot(name: string, page: Page = this.page): Promise<string> {
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    const file = join(SCREENSHOT_DIR, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }

  async close(): Promise<void> {
    try {
      await this.context.close();
    } finally {
      await this.profile.cleanup();
    }
  }
}
