import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, launchBrowser, openConsole, saveScreenshot, signIn, unexpectedProblems } from './helpers/browser.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service?.stop());

describe('the console is served by the service', () => {
  it('GET / answers the page with a strict Content-Security-Policy and security headers', async () => {
    const response = await service.request('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'(;|$)/); // the import map only: no 'unsafe-inline'
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    const page = await response.text();
    expect(page).toContain('<script type="importmap">');
    expect(page).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // nothing from another origin: works offline
  });

  it('serves its modules and the vendor modules from installed packages, and nothing else', async () => {
    for (const file of ['/console/app.js', '/console/styles.css', '/console/vendor/preact.mjs', '/console/vendor/uplot.mjs']) {
      const response = await service.request(file);
      expect(response.status, file).toBe(200);
    }
    expect((await service.request('/console/app.js')).headers.get('content-type')).toMatch(/^text\/javascript/);
    for (const file of ['/console/../package.json', '/console/%2e%2e/package.json', '/console/vendor/../../package.json', '/console/index.html', '/console/nope.js', '/console/vendor/left-pad.mjs']) {
      const response = await service.request(file);
      expect(response.status, file).toBe(404);
      expect((await readJson(response)).error.code, file).toBe('not_found');
    }
  });

  it('CONSOLE_ENABLED=false: no console, the API as before', async () => {
    const off = await startTestService({ CONSOLE_ENABLED: 'false' });
    try {
      const response = await off.request('/');
      expect(response.status).toBe(404);
      expect((await readJson(response)).error.code).toBe('not_found');
      expect((await off.request('/console/app.js')).status).toBe(404);
      expect((await off.request('/health')).status).toBe(200);
    } finally {
      await off.stop();
    }
  });
});

describe.skipIf(!chromiumPath)('the console in Chromium: signing in', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(() => browser?.close());

  it('refuses a wrong key with the API’s message, then signs in with a real one and keeps it for the tab only', async () => {
    const { key } = await service.createTenant('console');
    const page = await openConsole(browser, service.url);
    await page.getByLabel('API key').fill('lad_wrong_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');
    await saveScreenshot(page, 'console-sign-in');

    await signIn(page, key);
    expect(await page.evaluate(() => sessionStorage.getItem('lading.apiKey'))).toBe(key);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    // Reloading keeps the session; a new tab (context) must sign in again.
    await page.reload();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    const other = await openConsole(browser, service.url);
    await other.getByLabel('API key').waitFor();
    // The 401 of the wrong key is the only problem the browser logged.
    expect(unexpectedProblems(page, [/401 \(Unauthorized\)/])).toEqual([]);
    expect(unexpectedProblems(other)).toEqual([]);
    await page.context().close();
    await other.context().close();
  });
});
