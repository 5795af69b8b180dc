import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

// Console tests run in a real Chromium: Debian's `chromium` package (`.ci/run` installs it), or
// any Chromium or Chrome named by CHROMIUM_PATH. Without one, they are skipped on a developer's
// machine (global-setup.ts says so in one line) and fail in CI.

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The browser to drive, or undefined when this machine has none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM_PATH) return env.CHROMIUM_PATH;
  return CANDIDATES.find((candidate) => existsSync(candidate));
}

export const chromiumPath = findChromium();

export async function launchBrowser(): Promise<Browser> {
  if (!chromiumPath) throw new Error('No Chromium: install it (apt-get install -y chromium) or set CHROMIUM_PATH');
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export type ConsolePage = Page & {
  /** Console errors, uncaught exceptions and CSP violations seen so far: a test ends with none. */
  problems: string[];
};

/** A new page (its own context: its own sessionStorage) that records every problem it meets. */
export async function openConsole(browser: Browser, url: string, viewport = { width: 1280, height: 900 }): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = (await context.newPage()) as ConsolePage;
  page.problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') page.problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  await page.goto(url);
  return page;
}

/**
 * Console errors the test caused on purpose (an API answering 4xx logs "Failed to load resource")
 * are filtered by the caller; everything else must be empty.
 */
export function unexpectedProblems(page: ConsolePage, expected: RegExp[] = []): string[] {
  return page.problems.filter((problem) => !expected.some((pattern) => pattern.test(problem)));
}

export async function signIn(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/**
 * Saves a screenshot as NAME.png in LADING_SCREENSHOTS (docs/screenshots to refresh README's
 * pictures: `LADING_SCREENSHOTS=docs/screenshots npm test -- test/console`), else a temp folder.
 */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const dir = process.env.LADING_SCREENSHOTS ?? path.join(os.tmpdir(), 'lading-screenshots');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
