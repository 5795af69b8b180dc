import ExcelJS from 'exceljs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, type ConsolePage, launchBrowser, openConsole, saveScreenshot, signIn, unexpectedProblems } from './helpers/browser.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// The console's upload page in a real Chromium against the real service: preview, mapping,
// templates, the upload and the live processing bar, and the API's errors.

const ROWS = 5000;
const FILE_LABEL = 'File to import (.csv, .csv.gz or .xlsx)';

/** A supplier's export whose headers need mapping: Cost is never taken for price on its own. */
function supplierCsv(rows = ROWS): Buffer {
  const lines = ['Product Name,Article No.,Qty,Cost,Notes'];
  for (let i = 1; i <= rows; i++) lines.push(`Widget ${i},SKU-${String(i).padStart(5, '0')},${i % 100},${(i % 1000) + 0.5},note ${i}`);
  return Buffer.from(`${lines.join('\n')}\n`);
}

let service: TestService;
let browser: Browser;

beforeAll(async () => {
  // Small batches: a 5,000-row file commits ten of them, so the stream has progress to show.
  service = await startTestService({ BATCH_SIZE: '500' });
  if (chromiumPath) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await service?.stop();
});

async function openUpload(key: string, viewport?: { width: number; height: number }): Promise<ConsolePage> {
  const page = await openConsole(browser, `${service.url}/#/upload`, viewport);
  await signIn(page, key);
  await page.getByRole('heading', { name: 'Upload', level: 1 }).waitFor();
  return page;
}

async function chooseSupplierFile(page: ConsolePage, buffer = supplierCsv()) {
  await page.getByLabel(FILE_LABEL).setInputFiles({ name: 'supplier.csv', mimeType: 'text/csv', buffer });
  await page.getByRole('table', { name: 'Column mapping' }).waitFor();
}

/** The "How it was matched" cell of a file column's row in the mapping table. */
const reasonOf = (page: ConsolePage, column: string) =>
  page.getByRole('table', { name: 'Column mapping' }).getByRole('row').filter({ has: page.getByRole('rowheader', { name: column, exact: true }) }).getByRole('cell').last();

describe.skipIf(!chromiumPath)('the console’s upload page', () => {
  it('previews, lets the user remap a column, uploads and follows the import live to its counts', async () => {
    const { key } = await service.createTenant('upload');
    const page = await openUpload(key);
    await chooseSupplierFile(page);

    // What the preview detected, and how each column was matched.
    const facts = page.locator('dl.facts');
    await expect.poll(() => facts.textContent()).toContain('utf-8');
    expect(await facts.textContent()).toContain('comma (,)');
    expect(await reasonOf(page, 'Product Name').textContent()).toContain('Alias');
    expect(await reasonOf(page, 'Article No.').textContent()).toContain('Alias');
    expect(await reasonOf(page, 'Qty').textContent()).toContain('Alias');
    expect(await reasonOf(page, 'Notes').textContent()).toContain('ignored');
    expect(await page.getByLabel('Field for column Product Name').inputValue()).toBe('name');
    expect(await page.getByLabel('Field for column Cost').inputValue()).toBe('');
    const records = page.getByRole('table', { name: 'First records' });
    await expect.poll(() => records.getByRole('row').nth(1).textContent()).toContain('SKU-00001');
    expect(await records.getByRole('columnheader').allTextContents()).not.toContain('price');

    // The user maps Cost to price: the preview is read again with that mapping.
    await page.getByLabel('Field for column Cost').selectOption('price');
    await expect.poll(() => reasonOf(page, 'Cost').textContent()).toContain('Your choice');
    await expect.poll(() => records.getByRole('columnheader').allTextContents()).toContain('price');
    expect(await records.getByRole('row').nth(1).textContent()).toContain('1.5');
    await saveScreenshot(page, 'console-upload');

    // The import is followed through its WebSocket (a ticket in the URL, never the key).
    const sockets: { url: string; frames: string[] }[] = [];
    page.on('websocket', (socket) => {
      const seen = { url: socket.url(), frames: [] as string[] };
      sockets.push(seen);
      socket.on('framereceived', (frame) => seen.frames.push(String(frame.payload)));
    });
    await page.getByLabel('Source (supplier or feed)').fill('acme');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    const processing = page.getByRole('progressbar', { name: 'Processing' });
    await expect.poll(() => processing.getAttribute('aria-valuenow'), { timeout: 30_000 }).toBe('100');
    expect(await page.getByRole('progressbar', { name: 'Upload' }).getAttribute('aria-valuenow')).toBe('100');
    await expect.poll(() => page.locator('.upload-run .notice').textContent()).toContain('Import succeeded: 5,000 rows');

    // The counts shown are the import's own, and the products hold the mapped values.
    const href = await page.getByRole('link', { name: /Open the import/ }).getAttribute('href');
    const id = href?.replace('#/imports/', '') ?? '';
    const imported = await readJson(await service.request(`/v1/imports/${id}`, { key }));
    expect(imported.status).toBe('succeeded');
    expect(imported.source).toBe('acme');
    expect(imported.mapping).toMatchObject({ Cost: 'price', 'Product Name': 'name', 'Article No.': 'sku', Qty: 'quantity' });
    const shown = async (label: string) => (await page.locator('dl.cards dt', { hasText: new RegExp(`^${label}$`) }).locator('xpath=following-sibling::dd').textContent())?.replaceAll(',', '');
    expect(await shown('Rows processed')).toBe(String(imported.rows_processed));
    expect(await shown('Inserted')).toBe(String(imported.rows_inserted));
    expect(await shown('Updated')).toBe(String(imported.rows_updated));
    expect(await shown('Unchanged')).toBe(String(imported.rows_unchanged));
    expect(await shown('Rejected')).toBe(String(imported.rows_rejected));
    expect(imported.rows_inserted).toBe(ROWS);
    expect(sockets.map((socket) => socket.url)).toEqual([expect.stringMatching(new RegExp(`/v1/imports/${id}/events\\?ticket=[^&]+$`))]);
    expect(sockets[0]!.url).not.toContain(key);
    expect(sockets[0]!.frames.map((frame) => JSON.parse(frame).type)).toContain('finished');
    const product = await readJson(await service.request('/v1/products/SKU-00042', { key }));
    expect(product).toMatchObject({ sku: 'SKU-00042', name: 'Widget 42', quantity: 42, price: '42.50' });
    // (the bar's fill animates its width: screenshot it full)
    await expect
      .poll(async () => {
        const [fill, track] = await Promise.all([processing.locator('.progress-fill').boundingBox(), processing.boundingBox()]);
        return (track?.width ?? 0) - (fill?.width ?? 0);
      })
      .toBeLessThanOrEqual(2);
    await saveScreenshot(page, 'console-upload-done');

    // "Upload another file" starts over.
    await page.getByRole('button', { name: 'Upload another file' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Column mapping' }).count()).toBe(0);
    expect(unexpectedProblems(page)).toEqual([]);
    await page.context().close();
  });

  it('saves the mapping as a template, offers it in the template select and applies it to the next file (360 px wide)', async () => {
    const { key } = await service.createTenant('upload-template');
    const page = await openUpload(key, { width: 360, height: 800 });
    await chooseSupplierFile(page, supplierCsv(50));
    await page.getByLabel('Field for column Cost').selectOption('price');
    await page.getByLabel('Field for column Notes').selectOption('description');
    await expect.poll(() => reasonOf(page, 'Notes').textContent()).toContain('Your choice');

    await page.getByLabel('Template name').fill('Acme export');
    await page.getByRole('button', { name: 'Save as template' }).click();
    const select = page.getByLabel('Template', { exact: true });
    await expect.poll(() => select.inputValue()).toBe('Acme export');
    expect(await select.getByRole('option').allTextContents()).toEqual(['(none)', 'Acme export']);
    const { items } = await readJson(await service.request('/v1/templates', { key }));
    expect(items).toHaveLength(1);
    expect(items[0].mapping).toEqual({ 'Product Name': 'name', 'Article No.': 'sku', Qty: 'quantity', Cost: 'price', Notes: 'description' });

    // The next file starts without the user's choices: the template maps it.
    await chooseSupplierFile(page, supplierCsv(60));
    await expect.poll(() => reasonOf(page, 'Cost').textContent()).toContain('From template “Acme export”');
    expect(await page.getByLabel('Field for column Cost').inputValue()).toBe('price');
    expect(await reasonOf(page, 'Product Name').textContent()).toContain('From template');

    // Nothing wider than the screen but the tables, which scroll in their own box.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await saveScreenshot(page, 'console-upload-360');

    // A second template with the same name: the API's 409 message.
    await page.getByLabel('Template name').fill('Acme export');
    await page.getByRole('button', { name: 'Save as template' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('conflict');
    expect(unexpectedProblems(page, [/409 \(Conflict\)/])).toEqual([]);
    await page.context().close();
  });

  it('shows the API’s 415 message for a file that is not CSV, and offers no upload', async () => {
    const { key } = await service.createTenant('upload-bad');
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200, 1)]);
    const direct = await service.request('/v1/imports/preview', { method: 'POST', key, body: png, headers: { 'content-type': 'application/octet-stream' } });
    expect(direct.status).toBe(415);
    const { error } = await readJson(direct);

    const page = await openUpload(key);
    await page.getByLabel(FILE_LABEL).setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: png });
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent()).toContain(error.message);
    expect(await alert.textContent()).toContain('unsupported_media_type');
    expect(await page.getByRole('button', { name: 'Upload and import' }).count()).toBe(0);
    expect(unexpectedProblems(page, [/415 \(Unsupported Media Type\)/])).toEqual([]);
    await page.context().close();
  });

  it('uploads an .xlsx workbook, which the API does not preview: its message, then an open-ended bar to the end', async () => {
    const { key } = await service.createTenant('upload-xlsx');
    const book = new ExcelJS.Workbook();
    const sheet = book.addWorksheet('Products');
    sheet.addRow(['sku', 'name', 'price']);
    for (let i = 1; i <= 20; i++) sheet.addRow([`XL-${i}`, `Sheet product ${i}`, i + 0.25]);
    const buffer = Buffer.from(await book.xlsx.writeBuffer());

    const page = await openUpload(key);
    await page.getByLabel(FILE_LABEL).setInputFiles({ name: 'products.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer });
    await expect.poll(() => page.locator('.notice').textContent()).toContain('A preview reads CSV text only');
    await page.getByLabel('Dry run: check and count, write no product').check();
    await page.getByRole('button', { name: 'Upload and import' }).click();
    await expect.poll(() => page.locator('.upload-run .notice').textContent(), { timeout: 30_000 }).toContain('Dry run finished (no product was written): 20 rows, 20 inserted');
    expect(await page.getByRole('progressbar', { name: 'Processing' }).getAttribute('aria-valuenow')).toBe('100');
    expect((await service.request('/v1/products/XL-1', { key })).status).toBe(404);
    expect(unexpectedProblems(page, [/415 \(Unsupported Media Type\)/])).toEqual([]);
    await page.context().close();
  });
});
