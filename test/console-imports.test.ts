import { readFile } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, type ConsolePage, launchBrowser, openConsole, saveScreenshot, signIn, unexpectedProblems } from './helpers/browser.ts';
import { type ImportBody, readJson, startTestService, type TestService } from './helpers/test-service.ts';

// The console's imports list and import detail in a real Chromium against the real service: live
// statuses from the tenant stream, filters, keyset pages, rejected rows, errors.csv and Cancel.

// The browser globals the page.evaluate callbacks below use (the tests' tsconfig has no DOM lib).
declare const document: { documentElement: { scrollWidth: number }; activeElement: { textContent: string | null } | null };

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

function productsCsv(rows: number, prefix: string): string {
  let csv = 'sku,name,price\n';
  for (let i = 1; i <= rows; i++) csv += `${prefix}-${i},Product ${i},${(i % 100) + 1}.50\n`;
  return csv;
}

/** POST /v1/imports with a file name and query options; answers the queued import. */
async function upload(key: string, csv: string, filename: string, query = ''): Promise<ImportBody> {
  const response = await service.request(`/v1/imports${query}`, {
    method: 'POST',
    key,
    body: csv,
    headers: { 'content-type': 'text/csv', 'x-filename': filename },
  });
  expect(response.status, await response.clone().text()).toBe(202);
  return readJson(response);
}

async function uploadAndWait(key: string, csv: string, filename: string, query = ''): Promise<ImportBody> {
  const queued = await upload(key, csv, filename, query);
  return service.waitForImport(key, queued.id);
}

async function openSignedIn(key: string, hash: string, viewport?: { width: number; height: number }): Promise<ConsolePage> {
  const page = await openConsole(browser, `${service.url}/${hash}`, viewport);
  await signIn(page, key);
  return page;
}

const importsTable = (page: ConsolePage) => page.getByRole('table', { name: 'Imports' });
/** The file names of the list's rows, top to bottom. */
const listedFiles = (page: ConsolePage) => importsTable(page).getByRole('rowheader').allTextContents();
const statusOf = (page: ConsolePage, file: string) =>
  importsTable(page).getByRole('row').filter({ has: page.getByRole('rowheader', { name: file, exact: true }) }).getByRole('cell').first().textContent();

async function applyFilters(page: ConsolePage, filters: { status?: string; source?: string; perPage?: string }) {
  if (filters.status !== undefined) await page.getByLabel('Status').selectOption(filters.status);
  if (filters.source !== undefined) await page.getByLabel('Source').fill(filters.source);
  if (filters.perPage !== undefined) await page.getByLabel('Imports per page').fill(filters.perPage);
  await page.getByRole('button', { name: 'Apply filters' }).click();
}

/** The page fits its viewport: only tables scroll sideways, inside their .table-wrap. */
const pageWidth = (page: ConsolePage) => page.evaluate(() => document.documentElement.scrollWidth);

describe.skipIf(!chromiumPath)('the console’s imports list', () => {
  it('lists newest first with status badges, shows a new import live, filters by status and source, and pages', async () => {
    const { key } = await service.createTenant('imports-list');
    await uploadAndWait(key, productsCsv(3, 'A'), 'first.csv');
    await uploadAndWait(key, productsCsv(3, 'B'), 'acme-monday.csv', '?source=acme');
    const failed = await uploadAndWait(key, 'name,price\nNo sku,1.00\n', 'broken.csv');
    expect(failed.status).toBe('failed');
    await uploadAndWait(key, productsCsv(3, 'C'), 'acme-tuesday.csv', '?source=acme');
    await uploadAndWait(key, productsCsv(3, 'D'), 'other.csv', '?source=other');

    const page = await openSignedIn(key, '#/imports');
    await page.getByRole('heading', { name: 'Imports', level: 1 }).waitFor();
    await expect.poll(() => listedFiles(page)).toEqual(['other.csv', 'acme-tuesday.csv', 'broken.csv', 'acme-monday.csv', 'first.csv']);
    expect(await statusOf(page, 'broken.csv')).toBe('failed');
    expect(await statusOf(page, 'first.csv')).toBe('succeeded');
    await saveScreenshot(page, 'console-imports');

    // A new upload through the API appears at the top and turns succeeded, with no reload.
    await page.getByText('Live updates on').waitFor();
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    const live = await upload(key, productsCsv(2500, 'L'), 'live.csv');
    await expect.poll(() => listedFiles(page)).toEqual(['live.csv', 'other.csv', 'acme-tuesday.csv', 'broken.csv', 'acme-monday.csv', 'first.csv']);
    await expect.poll(() => statusOf(page, 'live.csv')).toBe('succeeded');
    await expect.poll(() => page.locator('#announcer').textContent()).toContain('live.csv succeeded');
    expect(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect((await service.waitForImport(key, live.id)).status).toBe('succeeded');

    await applyFilters(page, { status: 'failed' });
    await expect.poll(() => listedFiles(page)).toEqual(['broken.csv']);
    await applyFilters(page, { status: '', source: 'acme' });
    await expect.poll(() => listedFiles(page)).toEqual(['acme-tuesday.csv', 'acme-monday.csv']);
    await applyFilters(page, { status: 'failed', source: 'acme' });
    await expect.poll(() => page.getByText('No import matches these filters.').count()).toBe(1);
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(() => listedFiles(page)).toHaveLength(6);

    // Keyset pages of two: forward to the end, and back.
    await applyFilters(page, { perPage: '2' });
    await expect.poll(() => listedFiles(page)).toEqual(['live.csv', 'other.csv']);
    const pager = page.getByRole('navigation', { name: 'Pages' });
    await pager.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(() => listedFiles(page)).toEqual(['acme-tuesday.csv', 'broken.csv']);
    await pager.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(() => listedFiles(page)).toEqual(['acme-monday.csv', 'first.csv']);
    expect(await pager.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await pager.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(() => listedFiles(page)).toEqual(['acme-tuesday.csv', 'broken.csv']);

    // Keyboard: a row's link opens the import.
    await importsTable(page).getByRole('link', { name: 'broken.csv' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Import broken.csv', level: 1 }).waitFor();
    expect(await page.locator('.error', { hasText: 'Why it failed:' }).textContent()).toContain('sku');

    // 360 px wide: the page fits, the table scrolls inside its frame.
    const narrow = await openSignedIn(key, '#/imports', { width: 360, height: 800 });
    await expect.poll(() => listedFiles(narrow)).toHaveLength(6);
    expect(await pageWidth(narrow)).toBeLessThanOrEqual(360);
    await saveScreenshot(narrow, 'console-imports-360');

    expect(unexpectedProblems(page)).toEqual([]);
    expect(unexpectedProblems(narrow)).toEqual([]);
    await page.context().close();
    await narrow.context().close();
  });
});

describe.skipIf(!chromiumPath)('the console’s import detail', () => {
  it('shows counts, mapping, drift and rejected rows page by page, and downloads errors.csv as the API serves it', async () => {
    const { key } = await service.createTenant('import-detail');
    await uploadAndWait(key, 'sku,name,price,qty\nBASE-1,Base,1.00,1\n', 'baseline.csv', '?source=feed');
    // 250 records, every even one of the first 240 with a bad price: 120 rejected rows.
    const lines = ['sku,name,price,Quantity,colour'];
    for (let i = 1; i <= 250; i++) lines.push(`R-${i},Row ${i},${i <= 240 && i % 2 === 0 ? 'n/a' : '2.50'},${i},blue`);
    const imp = await uploadAndWait(key, `${lines.join('\n')}\n`, 'supplier-june.csv', '?source=feed');
    expect(imp.rows_rejected).toBe(120);
    const errors = (await readJson(await service.request(`/v1/imports/${imp.id}/errors?limit=1000`, { key }))).items;
    expect(errors).toHaveLength(120);

    const page = await openSignedIn(key, `#/imports/${imp.id}`);
    await page.getByRole('heading', { name: 'Import supplier-june.csv', level: 1 }).waitFor();

    // The counts are the API's.
    const cards = Object.fromEntries(
      (await page.locator('dl[aria-label="Counts"] .card').evaluateAll((nodes) => nodes.map((n) => [n.querySelector('dt')?.textContent, n.querySelector('dd')?.textContent])))
        .map(([label, value]) => [label, Number(String(value).replaceAll(',', ''))]),
    );
    expect(cards).toEqual({
      'Rows processed': imp.rows_processed,
      Inserted: imp.rows_inserted,
      Updated: imp.rows_updated,
      Unchanged: imp.rows_unchanged,
      Rejected: 120,
      Batches: imp.batches_committed,
    });

    const mapping = page.getByRole('table', { name: 'Column mapping' });
    expect(await mapping.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'Quantity' }) }).getByRole('cell').textContent()).toBe('quantity');
    expect(await mapping.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'colour' }) }).getByRole('cell').textContent()).toBe('ignored');
    const drift = page.getByRole('group', { name: 'Schema drift' });
    expect(await drift.textContent()).toContain('Renamed: qty → Quantity');
    expect(await drift.textContent()).toContain('Added: colour');

    // Rejected rows: line, column and message as the API has them, fifty a page.
    const table = page.getByRole('table', { name: 'Rejected rows (120)' });
    const bodyRows = table.locator('tbody tr');
    const firstRow = async () => (await bodyRows.first().getByRole('cell').allTextContents()).slice(0, 3);
    const expected = (i: number) => [String(errors[i].line), errors[i].column ?? 'whole row', errors[i].message];
    await expect.poll(firstRow).toEqual(expected(0));
    expect(await bodyRows.count()).toBe(50);
    expect((await bodyRows.last().getByRole('cell').allTextContents())[3]).toContain(errors[49].values[2]);
    const pager = page.getByRole('navigation', { name: 'Pages' });
    await pager.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(firstRow).toEqual(expected(50));
    await pager.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(firstRow).toEqual(expected(100));
    expect(await bodyRows.count()).toBe(20);
    expect(await pager.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await pager.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(firstRow).toEqual(expected(50));
    await saveScreenshot(page, 'console-import-detail');

    // errors.csv: a Blob download equal to what the API serves.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download errors.csv' }).click()]);
    expect(download.suggestedFilename()).toBe(`import-${imp.id}-errors.csv`);
    const downloaded = await readFile((await download.path())!, 'utf8');
    const served = await (await service.request(`/v1/imports/${imp.id}/errors.csv`, { key })).text();
    expect(served.split('\n').length).toBeGreaterThan(120);
    expect(downloaded).toBe(served);
    expect(download.url()).toMatch(/^blob:/);

    const narrow = await openSignedIn(key, `#/imports/${imp.id}`, { width: 360, height: 800 });
    await narrow.getByRole('table', { name: 'Rejected rows (120)' }).locator('tbody tr').first().waitFor();
    expect(await pageWidth(narrow)).toBeLessThanOrEqual(360);
    await saveScreenshot(narrow, 'console-import-detail-360');

    // An unknown import: the API's message, code and request id.
    await page.goto(`${service.url}/#/imports/00000000-0000-4000-8000-000000000000`);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not_found, request \S+/);

    expect(unexpectedProblems(page, [/404 \(Not Found\)/])).toEqual([]);
    expect(unexpectedProblems(narrow)).toEqual([]);
    await page.context().close();
    await narrow.context().close();
  });

  it('cancels a running import after a confirm step; the page shows and announces cancelled', async () => {
    const { key } = await service.createTenant('import-cancel');
    // Every statement writing products sleeps 0.4 s: a 20,000-row file takes 20 batches, 8 s or more,
    // while the import's row is free between batches (for the ticket and the cancel).
    await service.pool.query(`create function slow_batches() returns trigger language plpgsql as $$ begin perform pg_sleep(0.4); return null; end $$`);
    await service.pool.query('create trigger slow_batches before insert on products for each statement execute function slow_batches()');
    try {
      const imp = await upload(key, productsCsv(20_000, 'X'), 'slow.csv');
      await expect.poll(async () => (await readJson(await service.request(`/v1/imports/${imp.id}`, { key }))).status).toBe('processing');

      const page = await openSignedIn(key, `#/imports/${imp.id}`);
      await page.getByRole('heading', { name: 'Import slow.csv', level: 1 }).waitFor();
      await page.getByText('Live updates on').waitFor();
      // The counts move with the stream's progress messages.
      const batches = async () => Number(await page.locator('dl[aria-label="Counts"] .card', { hasText: 'Batches' }).locator('dd').textContent());
      const seen = await batches();
      await expect.poll(batches).toBeGreaterThan(seen);

      // The first click only asks; "Keep it running" changes nothing.
      await page.getByRole('button', { name: 'Cancel import…' }).click();
      await page.getByRole('group', { name: /Cancel this import\?/ }).waitFor();
      await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Yes, cancel the import');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter'); // "Keep it running", by keyboard: focus returns to the Cancel button
      await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel import…');
      expect((await readJson(await service.request(`/v1/imports/${imp.id}`, { key }))).status).toBe('processing');

      await page.getByRole('button', { name: 'Cancel import…' }).click();
      await page.getByRole('button', { name: 'Yes, cancel the import' }).click();
      await expect.poll(() => page.locator('p.import-status .badge').textContent()).toBe('cancelled');
      await expect.poll(() => page.locator('#announcer').textContent()).toContain('slow.csv cancelled');
      expect(await page.getByRole('button', { name: 'Cancel import…' }).count()).toBe(0);
      expect((await readJson(await service.request(`/v1/imports/${imp.id}`, { key }))).status).toBe('cancelled');

      expect((await service.waitForImport(key, imp.id)).status).toBe('cancelled');
      expect(unexpectedProblems(page)).toEqual([]);
      await page.context().close();
    } finally {
      await service.pool.query('drop trigger slow_batches on products; drop function slow_batches()');
    }
  });
});
