import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, type ConsolePage, launchBrowser, openConsole, saveScreenshot, signIn, unexpectedProblems } from './helpers/browser.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// The console's Statistics and alerts page (#/stats) in a real Chromium against the real service:
// charts and their data tables equal GET /v1/stats, the open alerts arrive live and are
// acknowledged from the page, the audit log shows it. Plus keyboard and accessibility checks
// across every page of the console.

// The browser globals the page.evaluate callbacks below use (the tests' tsconfig has no DOM lib).
type DomElement = {
  tagName: string;
  id: string;
  type?: string;
  textContent: string | null;
  outerHTML: string;
  labels?: ArrayLike<DomElement> & Iterable<DomElement>;
  getAttribute(name: string): string | null;
  blur(): void;
};
declare const document: {
  activeElement: DomElement | null;
  documentElement: { scrollWidth: number };
  querySelectorAll(selector: string): ArrayLike<DomElement> & Iterable<DomElement>;
  getElementById(id: string): DomElement | null;
};
declare const location: { hash: string };
declare function requestAnimationFrame(callback: () => void): number;
declare function getComputedStyle(element: DomElement): { outlineStyle: string; outlineWidth: string };

type Bucket = {
  start: string;
  imports: { total: number; queued: number; processing: number; succeeded: number; failed: number; cancelled: number; p50_duration_ms: number | null; p95_duration_ms: number | null };
  rows: { inserted: number; updated: number; unchanged: number; rejected: number };
};

let service: TestService;
let browser: Browser;

beforeAll(async () => {
  service = await startTestService();
  if (chromiumPath) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await service?.stop();
});

async function importCsv(key: string, csv: string, query = '') {
  const response = await service.request(`/v1/imports${query}`, { method: 'POST', key, body: csv, headers: { 'content-type': 'text/csv' } });
  expect(response.status, await response.clone().text()).toBe(202);
  return service.waitForImport(key, (await readJson(response)).id);
}

const get = async (key: string, path: string) => readJson(await service.request(path, { key }));

/** The rows of a table as text: each row's header cell's datetime, then its cells. */
const tableRows = (page: ConsolePage, id: string) =>
  page.locator(`#${id}`).evaluate((table) =>
    [...table.querySelectorAll('tbody tr')].map((tr) => [tr.querySelector('time')?.getAttribute('datetime') ?? '', ...[...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')]),
  );

const count = (n: number) => n.toLocaleString('en');
const ms = (n: number | null) => (n === null ? '—' : n.toLocaleString('en'));

describe.skipIf(!chromiumPath)('the console: Statistics and alerts', () => {
  it('charts the imports, rows and durations of GET /v1/stats, with data tables of the same numbers and the failure reasons', async () => {
    const { key } = await service.createTenant('stats');
    const ok = await importCsv(key, 'sku,name,price\nA1,Apple,1.00\nA2,Pear,2.50\nA3,Plum,3\n');
    const rejected = await importCsv(key, 'sku,name,price\nB1,Banana,1.00\nB2,Bad price,-5\n');
    const failed = await importCsv(key, 'sku,price\nC1,1.00\n');
    expect([ok.status, rejected.status, rejected.rows_rejected, failed.status]).toEqual(['succeeded', 'succeeded', 1, 'failed']);

    const page = await openConsole(browser, `${service.url}/#/stats`);
    await signIn(page, key);
    await page.getByRole('heading', { level: 1, name: 'Statistics and alerts' }).waitFor();
    const tz = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
    const stats = await get(key, `/v1/stats?period=day&tz=${encodeURIComponent(tz)}`);

    // Three charts drawn on canvases, each a figure named by its title.
    for (const name of ['Imports per day by status', 'Rows per day by outcome', 'Import duration per day']) {
      await expect.poll(() => page.getByRole('figure', { name }).locator('canvas').count()).toBe(1);
    }
    // Their text alternatives: a summary, and a table behind a toggle.
    await expect.poll(() => page.locator('#chart-imports-summary').textContent()).toContain('3 imports in the last 30 days: 2 succeeded, 1 failed');
    await saveScreenshot(page, 'console-stats');
    await page.getByText('Show the numbers: imports per day by status').click();
    const importRows = await tableRows(page, 'chart-imports-table');
    expect(importRows).toEqual(
      stats.buckets.map((b: Bucket) => [b.start, ...[b.imports.succeeded, b.imports.failed, b.imports.cancelled, b.imports.queued + b.imports.processing, b.imports.total].map(count)]),
    );
    expect(importRows.some((row) => row[5] === '3')).toBe(true); // today's bucket holds the three imports
    await page.getByText('Show the numbers: rows per day by outcome').click();
    expect(await tableRows(page, 'chart-rows-table')).toEqual(stats.buckets.map((b: Bucket) => [b.start, ...[b.rows.inserted, b.rows.updated, b.rows.unchanged, b.rows.rejected].map(count)]));
    await page.getByText('Show the numbers: import duration per day').click();
    const durationRows = await tableRows(page, 'chart-durations-table');
    expect(durationRows).toEqual(stats.buckets.map((b: Bucket) => [b.start, ms(b.imports.p50_duration_ms), ms(b.imports.p95_duration_ms)]));
    expect(durationRows.some((row) => row[2] !== '—')).toBe(true);
    // The tables are in the accessibility tree: a screen reader reaches the same numbers.
    await expect.poll(() => page.getByRole('table', { name: 'Imports per day by status' }).getByRole('row').count()).toBe(stats.buckets.length + 1);

    // The failed import's reason is listed.
    expect(failed.error).toBeTruthy();
    const reasons = page.getByRole('region', { name: 'Top failure reasons' }).getByRole('listitem');
    await expect.poll(() => reasons.count()).toBe(stats.top_failure_reasons.length);
    expect(await reasons.first().textContent()).toContain(stats.top_failure_reasons[0].reason);
    expect(stats.top_failure_reasons[0].example).toBe(failed.error);

    // Per hour: the selector asks again, the tables follow.
    await page.getByLabel('Period').selectOption('hour');
    await expect.poll(() => page.getByRole('figure', { name: 'Imports per hour by status' }).count()).toBe(1);
    const hourly = await get(key, `/v1/stats?period=hour&tz=${encodeURIComponent(tz)}`);
    await page.getByText('Show the numbers: imports per hour by status').click();
    expect((await tableRows(page, 'chart-imports-table')).map((row) => row[0])).toEqual(hourly.buckets.map((b: Bucket) => b.start));
    await page.getByLabel('Period').selectOption('day');
    await page.getByRole('figure', { name: 'Imports per day by status' }).locator('canvas').waitFor();

    // 360 px wide: the charts fit (the canvas follows its container) and nothing scrolls sideways.
    const narrow = await openConsole(browser, `${service.url}/#/stats`, { width: 360, height: 800 });
    await signIn(narrow, key);
    const canvas = narrow.getByRole('figure', { name: 'Imports per day by status' }).locator('canvas');
    await canvas.waitFor();
    expect((await canvas.boundingBox())?.width).toBeLessThanOrEqual(340);
    expect(await narrow.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await saveScreenshot(narrow, 'console-stats-360');

    expect(unexpectedProblems(page)).toEqual([]);
    expect(unexpectedProblems(narrow)).toEqual([]);
    await page.context().close();
    await narrow.context().close();
  });

  it('shows a schema drift alert live, acknowledges it, and the audit log records alert.acknowledged', async () => {
    const { key } = await service.createTenant('alerts');
    await importCsv(key, 'sku,name,price\nD1,Desk,100\n', '?source=acme');

    const page = await openConsole(browser, `${service.url}/#/stats`);
    await signIn(page, key);
    const alerts = page.getByRole('region', { name: /^Open alerts/ });
    // "No open alerts" shows once the live stream is open and the list read.
    await alerts.getByText('No open alerts.').waitFor();
    await expect.poll(() => alerts.getByText('Updated live.').count()).toBe(1);

    // The drift happens while the page is open: the alert appears without a reload.
    const drifted = await importCsv(key, 'sku,name,price_eur\nD1,Desk,100\n', '?source=acme');
    expect(drifted.warnings.join(' ')).toContain('Columns changed');
    const item = alerts.getByRole('listitem', { name: 'Schema drift in source "acme"' });
    await item.waitFor();
    expect(await item.textContent()).toContain('price_eur');
    await expect.poll(() => page.locator('#announcer').textContent()).toContain('New alert: Schema drift in source "acme"');
    const [open] = (await get(key, '/v1/alerts?status=open')).items;
    expect(open.status).toBe('open');

    await item.getByRole('button', { name: 'Acknowledge' }).click();
    await alerts.getByText('No open alerts.').waitFor();
    await expect.poll(() => page.locator('#announcer').textContent()).toBe('Alert acknowledged: Schema drift in source "acme"');
    expect((await get(key, `/v1/alerts/${open.id}`)).status).toBe('acknowledged');

    // The audit log on the page shows the acknowledgement, on the alert, with its request id.
    const audit = page.getByRole('table', { name: /^Audit log/ });
    const entry = audit.getByRole('row').filter({ hasText: 'alert.acknowledged' });
    await entry.waitFor();
    expect(await entry.textContent()).toContain(open.id);
    const [logged] = (await get(key, '/v1/audit?action=alert.acknowledged')).items;
    expect(await entry.textContent()).toContain(logged.request_id);
    expect(unexpectedProblems(page)).toEqual([]);
    await page.context().close();
  });

  it('shows the API’s error when acknowledging fails', async () => {
    const { key } = await service.createTenant('alerts-gone');
    await importCsv(key, 'sku,name,qty\nE1,Easel,1\n', '?source=beta');
    await importCsv(key, 'sku,name,quantity_on_hand\nE1,Easel,1\n', '?source=beta');
    const page = await openConsole(browser, `${service.url}/#/stats`);
    await signIn(page, key);
    const item = page.getByRole('listitem', { name: 'Schema drift in source "beta"' });
    await item.waitFor();
    // The key is revoked meanwhile: the page shows the API's message, code and request id.
    await service.pool.query(`update api_keys set revoked_at = now() where key_hash = sha256(convert_to($1, 'UTF8'))`, [key]);
    await item.getByRole('button', { name: 'Acknowledge' }).click();
    const alert = page.getByRole('region', { name: /^Open alerts/ }).getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/\(unauthorized, request [0-9a-f-]+\)/);
    await item.waitFor(); // still listed
    expect(unexpectedProblems(page, [/401 \(Unauthorized\)/])).toEqual([]);
    await page.context().close();
  });
});

/** Lets the page's effects start their requests, then waits until none is in flight and the page has drawn. */
async function settle(page: ConsolePage, inFlight: () => number) {
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))));
  await expect.poll(inFlight).toBe(0);
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))));
}

/**
 * The page's requests in flight. Kept as a set, not a count: a request the page started before
 * tracking began (its first load) may end after, and a count then stays one below zero.
 */
function trackRequests(page: ConsolePage) {
  const pending = new Set<unknown>();
  page.on('request', (request) => pending.add(request));
  page.on('requestfinished', (request) => pending.delete(request));
  page.on('requestfailed', (request) => pending.delete(request));
  return () => pending.size;
}

const focused = (page: ConsolePage) =>
  page.evaluate(() => {
    const el = document.activeElement;
    return { tag: el?.tagName ?? '', id: el?.id ?? '', text: el?.textContent?.trim() ?? '', label: el?.getAttribute('aria-label') ?? '' };
  });

/** Form controls of the page without an accessible name (a label, aria-label or aria-labelledby). */
const unlabelledControls = (page: ConsolePage) =>
  page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => !(el.tagName === 'INPUT' && el.type === 'hidden'))
      .filter((el) => {
        const labelled = (el.labels?.length ?? 0) > 0 && [...(el.labels ?? [])].some((l) => (l.textContent ?? '').trim() !== '');
        const aria = (el.getAttribute('aria-label') ?? '').trim() !== '';
        const by = (el.getAttribute('aria-labelledby') ?? '').split(/\s+/).some((id: string) => (document.getElementById(id)?.textContent ?? '').trim() !== '');
        return !(labelled || aria || by);
      })
      .map((el) => el.outerHTML.slice(0, 120)),
  );

describe.skipIf(!chromiumPath)('the console: keyboard and accessibility on every page', () => {
  it('signs in and moves around by keyboard, with a visible focus, labelled controls, and no sideways scrolling at 360 px', async () => {
    const { key } = await service.createTenant('keyboard');
    await importCsv(key, 'sku,name,price\nK1,Keyboard,20\nK2,Bad,-1\n'); // so lists and tables have rows

    const page = await openConsole(browser, service.url);
    const inFlight = trackRequests(page);
    await page.getByLabel('API key').waitFor();
    // Sign-in by keyboard: Tab reaches the key field, then the button; Enter signs in.
    await page.keyboard.press('Tab');
    expect((await focused(page)).id).toBe('api-key');
    await page.keyboard.type(key);
    await page.keyboard.press('Tab');
    expect(await focused(page)).toMatchObject({ tag: 'BUTTON', text: 'Sign in' });
    await page.keyboard.press('Enter');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.waitFor();
    await settle(page, inFlight); // the shell's effects have run: nothing moves focus after this

    // The skip link is the first Tab stop; it moves focus to the main content (and stays on the page).
    await page.keyboard.press('Tab');
    expect(await focused(page)).toMatchObject({ tag: 'A', text: 'Skip to content' });
    const before = await page.evaluate(() => location.hash);
    await page.keyboard.press('Enter');
    await expect.poll(async () => (await focused(page)).id).toBe('main');
    expect(await page.evaluate(() => location.hash)).toBe(before);
    expect(await page.getByRole('heading', { level: 1 }).count()).toBe(1);

    // Every nav link: reached by Tab from the top, opened with Enter, and shown with a visible outline.
    const links = await nav.getByRole('link').allTextContents();
    expect(links).toEqual(['Upload', 'Imports', 'Webhooks', 'Products', 'Statistics and alerts']);
    for (const name of links) {
      // From the top of the page: the skip link, the first Tab stop (a blur would leave Chromium's
      // sequential-focus starting point at the page's focused heading, below the nav).
      await page.getByRole('link', { name: 'Skip to content' }).focus();
      let reached = false;
      for (let i = 0; i < 12 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = (await focused(page)).text === name;
      }
      expect(reached, `Tab reaches the "${name}" link`).toBe(true);
      const outline = await page.evaluate(() => {
        const style = getComputedStyle(document.activeElement as DomElement);
        return { style: style.outlineStyle, width: Number.parseFloat(style.outlineWidth) };
      });
      expect(outline.style, `focus outline of "${name}"`).not.toBe('none');
      expect(outline.width).toBeGreaterThanOrEqual(2);
      await page.keyboard.press('Enter');
      await expect.poll(() => page.title()).toBe(`${name} · Lading`);
      await settle(page, inFlight);
      expect(await unlabelledControls(page), `unlabelled form controls on "${name}"`).toEqual([]);
    }
    // An unfocused link has no outline: the outline above is the focus indicator.
    const unfocused = await nav.getByRole('link', { name: 'Upload' }).evaluate((a) => getComputedStyle(a as unknown as DomElement).outlineStyle);
    expect(unfocused).toBe('none');

    // 360 px wide: no page scrolls sideways.
    const narrow = await openConsole(browser, service.url, { width: 360, height: 800 });
    const narrowInFlight = trackRequests(narrow);
    await signIn(narrow, key);
    for (const name of links) {
      await narrow.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
      await expect.poll(() => narrow.title()).toBe(`${name} · Lading`);
      await settle(narrow, narrowInFlight);
      expect(await narrow.evaluate(() => document.documentElement.scrollWidth), `width of "${name}" at 360 px`).toBeLessThanOrEqual(360);
    }

    expect(unexpectedProblems(page)).toEqual([]);
    expect(unexpectedProblems(narrow)).toEqual([]);
    await page.context().close();
    await narrow.context().close();
  });
});
