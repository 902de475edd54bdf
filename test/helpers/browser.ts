/**
 * Headless Chromium for the console tests: Debian's `chromium` package driven by playwright-core
 * (which downloads no browser). Missing chromium skips the test, except under CI=true where it
 * fails (.ci/run installs chromium and fonts-noto-cjk). Every console error, uncaught page error,
 * failed request and HTTP error answer is collected so a test can fail on any of them.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));

export interface BrowserSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors, failed requests and HTTP errors seen so far. */
  problems: string[];
  /** Writes test/artifacts/NAME.png (git-ignored). */
  shot(name: string, o?: { fullPage?: boolean }): Promise<string>;
}

/** Why the browser tests cannot run here (undefined: they can). Under CI=true a missing chromium is a failure, not a reason. */
export function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs chromium and fonts-noto-cjk with apt-get`);
  return `${CHROMIUM} not installed (apt-get install chromium fonts-noto-cjk)`;
}

export async function openBrowser(t: { teardown(fn: () => unknown): void }): Promise<BrowserSession> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--lang=zh-CN'] });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 }, locale: 'zh-CN', acceptDownloads: true });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // a download the page hands to the browser ends its request with net::ERR_ABORTED: not a failure
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    browser, context, page, problems,
    shot: async (name, o = {}) => {
      const path = `${ARTIFACTS}${name}.png`;
      await page.screenshot({ path, fullPage: o.fullPage ?? false });
      return path;
    },
  };
}
