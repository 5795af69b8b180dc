import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertedCsvPath, convertXlsxForImport } from '../src/imports/convert-xlsx.ts';
import { writeXlsxAsCsv } from '../src/imports/write-xlsx-as-csv.ts';
import { createLogger } from '../src/logger.ts';
import { productsOfKey, readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

let service: TestService;

beforeAll(async () => {
  service = await startTestService({ BATCH_SIZE: '2' });
});
afterAll(() => service?.stop());

const HEADER = ['sku', 'name', 'description', 'price', 'currency', 'quantity', 'category', 'status', 'updated_at', 'notes'];

/** A workbook written by a real library (exceljs), the way an application would produce one. */
async function workbook(build: (book: ExcelJS.Workbook) => void): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  build(book);
  return Buffer.from(await book.xlsx.writeBuffer());
}

/** Two sheets: "Catalogue" (header on row 2 below an empty row 1), then "Prices 2025". */
const catalogue = () =>
  workbook((book) => {
    const sheet = book.addWorksheet('Catalogue');
    sheet.getRow(2).values = HEADER;
    sheet.getRow(3).values = ['XL-1', 'Crème brûlée set', 'Ständer für Töpfe, «neu» — 20 cm', 19.99, 'EUR', 3, 'kitchen', 'active', new Date(Date.UTC(2024, 4, 1)), true];
    sheet.getRow(4).values = ['XL-2', 'Café mug', null, { formula: 'D3*2', result: 39.98 }, 'usd', { formula: 'F3*0', result: 0 }, 'kitchen', null, new Date(Date.UTC(2024, 4, 1, 12, 30))];
    sheet.getCell('I4').numFmt = 'yyyy-mm-dd hh:mm';
    // row 5 left empty
    sheet.getRow(6).values = ['XL-4', 'Broken price', null, { error: '#N/A' }, 'EUR', 1, null, null, null, false];
    sheet.getRow(7).values = ['XL-5', { text: 'Linked lamp', hyperlink: 'https://example.com/lamp' }, null, { formula: '0.1+0.2', result: 0.30000000000000004 }, 'CHF', 12];
    sheet.getRow(8).values = ['XL-6', 'Stray note'];
    sheet.getCell('Z8').value = 'far to the right';
    sheet.getRow(9).values = ['XL-3', { richText: [{ text: 'Big ' }, { font: { bold: true }, text: 'lamp' }] }, 'Line one\nline two', 1234567.5, 'GBP', 0, 'lighting', 'inactive'];
    sheet.getRow(10).values = ['XL-7', 'Bad currency', null, 1, 'EURO'];

    const prices = book.addWorksheet('Prices 2025');
    prices.addRow(['sku', 'name', 'price']);
    prices.addRow(['P-1', 'Über-Preis', 5]);
    prices.addRow(['P-2', 'Ñandú', 0.5]);
  });

/** Distinct texts full of multi-byte characters, more than a chunk of the shared strings' part. */
const ACCENT_ROWS = 3000;
const accentName = (i: number) => `Crème brûlée n°${i} — Ünïcødé ✓ 日本語 🍮`;
const accents = () =>
  workbook((book) => {
    const sheet = book.addWorksheet('Accents');
    sheet.addRow(['sku', 'name', 'description']);
    for (let i = 0; i < ACCENT_ROWS; i++) sheet.addRow([`ACC-${String(i).padStart(5, '0')}`, accentName(i), `Beschreibung ${i}: äöüß àéîõù`]);
  });

async function importWorkbook(key: string, bytes: Uint8Array, query = ''): Promise<ImportBody> {
  const response = await service.request(`/v1/imports${query}`, {
    method: 'POST',
    key,
    body: bytes,
    headers: { 'content-type': 'application/octet-stream', 'x-filename': 'products.xlsx' },
  });
  expect(response.status).toBe(202);
  const queued = await readJson(response);
  return service.waitForImport(key, queued.id);
}


describe('.xlsx uploads', () => {
  it('import the first worksheet: accents, numbers, formula results, dates, rich text, links; empty rows skipped; errors name sheet rows', async () => {
    const { key } = await service.createTenant('xlsx');
    const done = await importWorkbook(key, await catalogue());
    expect(done).toMatchObject({
      status: 'succeeded',
      filename: 'products.xlsx',
      rows_processed: 7,
      rows_inserted: 4,
      rows_rejected: 3,
      warnings: ['Unknown column "notes" was ignored'],
      error: null,
    });
    expect(await productsOfKey(service.pool, key)).toEqual([
      { sku: 'XL-1', name: 'Crème brûlée set', description: 'Ständer für Töpfe, «neu» — 20 cm', price: '19.99', currency: 'EUR',
        quantity: 3, category: 'kitchen', status: 'active', updated_at: '2024-05-01T00:00:00' },
      { sku: 'XL-2', name: 'Café mug', description: null, price: '39.98', currency: 'USD', quantity: 0, category: 'kitchen',
        status: 'active', updated_at: '2024-05-01T12:30:00' },
      { sku: 'XL-3', name: 'Big lamp', description: 'Line one\nline two', price: '1234567.50', currency: 'GBP', quantity: 0,
        category: 'lighting', status: 'inactive', updated_at: expect.any(String) },
      { sku: 'XL-5', name: 'Linked lamp', description: null, price: '0.30', currency: 'CHF', quantity: 12, category: null,
        status: 'active', updated_at: expect.any(String) },
    ]);

    // Rejected records name their spreadsheet row; an error cell shows its code, a boolean TRUE/FALSE.
    // Below a cell holding a line break (row 9), lines run one ahead of rows, as in the sheet saved as CSV.
    const errors = await readJson(await service.request(`/v1/imports/${done.id}/errors`, { key }));
    expect(errors.items.map(({ line, column, message }: { line: number; column: string; message: string }) => ({ line, column, message }))).toEqual([
      { line: 6, column: 'price', message: 'price must be a decimal number ≥ 0 with at most 2 decimal places (e.g. 19.99)' },
      { line: 8, column: null, message: 'has 26 fields but the header has 10' },
      { line: 11, column: 'currency', message: 'currency must be an ISO-4217 currency code such as EUR or USD' },
    ]);
    expect(errors.items[0].values).toEqual(['XL-4', 'Broken price', '', '#N/A', 'EUR', '1', '', '', '', 'FALSE']);
    // The upload and the CSV converted from it are gone.
    expect(await service.uploadedFiles()).toEqual([]);
  });

  it('import the worksheet named by sheet= (multipart upload)', async () => {
    const { key } = await service.createTenant('xlsx-sheet');
    const form = new FormData();
    form.append('file', new Blob([await catalogue()], { type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' }), 'products.xlsx');
    const response = await service.request(`/v1/imports?sheet=${encodeURIComponent('Prices 2025')}`, { method: 'POST', key, body: form });
    expect(response.status).toBe(202);
    const done = await service.waitForImport(key, (await readJson(response)).id);
    expect(done).toMatchObject({ status: 'succeeded', rows_processed: 2, rows_inserted: 2, rows_rejected: 0 });
    expect((await productsOfKey(service.pool, key)).map(({ sku, name, price }) => [sku, name, price])).toEqual([
      ['P-1', 'Über-Preis', '5.00'],
      ['P-2', 'Ñandú', '0.50'],
    ]);
  });

  it('are read as they are whatever encoding= says (a workbook holds UTF-8 text)', async () => {
    const { key } = await service.createTenant('xlsx-encoding');
    const done = await importWorkbook(key, await catalogue(), `?encoding=windows-1252&sheet=${encodeURIComponent('Prices 2025')}`);
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 2 });
  });

  it('fail naming the worksheets when sheet= names none of them', async () => {
    const { key } = await service.createTenant('xlsx-nosheet');
    const done = await importWorkbook(key, await catalogue(), '?sheet=Nope');
    expect(done).toMatchObject({
      status: 'failed',
      rows_processed: 0,
      error: 'The workbook has no worksheet named "Nope" (sheet); its worksheets are: "Catalogue", "Prices 2025"',
    });
    expect(await service.uploadedFiles()).toEqual([]);
  });

  it('keep accented text intact across a large sheet (multi-byte characters cut by chunk boundaries)', async () => {
    const { key } = await service.createTenant('xlsx-accents');
    const done = await importWorkbook(key, await accents());
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: ACCENT_ROWS, rows_rejected: 0 });
    const table = await productsOfKey(service.pool, key);
    expect(table.map((row) => row.name)).toEqual(Array.from({ length: ACCENT_ROWS }, (_, i) => accentName(i)));
    expect(table.every((row, i) => row.description === `Beschreibung ${i}: äöüß àéîõù`)).toBe(true);
  });

  it('fail with a clear message for a ZIP that is not a workbook, a truncated one and a damaged one', async () => {
    const { key } = await service.createTenant('xlsx-bad');
    const notWorkbook = await importWorkbook(key, zipArchive({ 'readme.txt': 'not a spreadsheet', 'data/products.csv': 'sku,name\nA,B\n' }));
    expect(notWorkbook).toMatchObject({
      status: 'failed',
      error: 'The file is a ZIP archive but not an Excel workbook (.xlsx): save the sheet as .xlsx or as CSV and upload that',
    });

    // Another Office document: a ZIP whose main part is not a workbook.
    const document = await importWorkbook(key, zipArchive({
      '_rels/.rels': '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
      'word/document.xml': '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>',
    }));
    expect(document).toMatchObject({ status: 'failed', error: notWorkbook.error });

    const good = await catalogue();
    const truncated = await importWorkbook(key, good.subarray(0, Math.floor(good.length / 2)));
    expect(truncated.status).toBe('failed');
    expect(truncated.error).toMatch(/^The file starts like a ZIP archive \(an \.xlsx workbook is one\) but cannot be read as one \(.+\): it may be damaged or incomplete/);

    // Flipped bytes in the middle of the compressed worksheet.
    const damaged = Buffer.from(good);
    const sheetAt = damaged.indexOf('xl/worksheets/sheet1.xml') + 100;
    for (let i = 0; i < 40; i++) damaged[sheetAt + i]! ^= 0x5a;
    const broken = await importWorkbook(key, damaged);
    expect(broken.status).toBe('failed');
    expect(broken.error).toMatch(/^The Excel workbook could not be read \(.+\): it may be damaged or incomplete/);
    expect(await service.uploadedFiles()).toEqual([]);
  });
});

describe('the converted CSV', () => {
  let dir: string;
  const log = createLogger({ level: 'silent', format: 'json', fd: 2 });
  const context = () => ({ log, signal: new AbortController().signal });
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lading-xlsx-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is reused when a job runs again, checkpoint or not, and made again after a crash mid-conversion', async () => {
    const upload = path.join(dir, 'upload.csv');
    await writeFile(upload, await catalogue());

    // A complete conversion exists (a job that stopped after converting): used as it is.
    await writeFile(convertedCsvPath(upload), 'sku,name\nKEPT,As converted before\n');
    expect(await convertXlsxForImport(upload, { sheet: null, headerRow: 1 }, context())).toBe(convertedCsvPath(upload));
    expect(await readFile(convertedCsvPath(upload), 'utf8')).toBe('sku,name\nKEPT,As converted before\n');

    // Only a partial one (a crash mid-conversion): converted again, the partial file replaced.
    await rm(convertedCsvPath(upload));
    await writeFile(`${convertedCsvPath(upload)}.partial`, 'sku,na');
    await convertXlsxForImport(upload, { sheet: 'Prices 2025', headerRow: 1 }, context());
    expect(await readFile(convertedCsvPath(upload), 'utf8')).toBe('sku,name,price\nP-1,Über-Preis,5\nP-2,Ñandú,0.5\n');
    expect(existsSync(`${convertedCsvPath(upload)}.partial`)).toBe(false);
  });

  it('is the same when the shared strings go to a file (past the memory budget) as when they stay in memory', async () => {
    const source = path.join(dir, 'accents.xlsx');
    await writeFile(source, await accents());
    const convert = (target: string, stringsMemoryBudget?: number) =>
      writeXlsxAsCsv({ source, target: path.join(dir, target), sheet: null, headerRow: 1, stringsMemoryBudget });
    expect(await convert('in-memory.csv')).toEqual({ sheet: 'Accents', rows: ACCENT_ROWS + 1 });
    expect(await convert('in-file.csv', 4096)).toEqual({ sheet: 'Accents', rows: ACCENT_ROWS + 1 });
    const csv = await readFile(path.join(dir, 'in-file.csv'), 'utf8');
    expect(csv).toBe(await readFile(path.join(dir, 'in-memory.csv'), 'utf8'));
    expect(csv.split('\n')[ACCENT_ROWS]).toBe(`ACC-0${ACCENT_ROWS - 1},${accentName(ACCENT_ROWS - 1)},Beschreibung ${ACCENT_ROWS - 1}: äöüß àéîõù`);
    expect(existsSync(path.join(dir, 'in-file.csv.strings'))).toBe(false);
  });
});

/** A ZIP archive of stored (uncompressed) files: enough to be a ZIP without being a workbook. */
function zipArchive(files: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const fileName = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE(offset, 42);
    parts.push(local, fileName, data);
    directory.push(central, fileName);
    offset += local.length + fileName.length + data.length;
  }
  const centralDirectory = Buffer.concat(directory);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(directory.length / 2, 8);
  end.writeUInt16LE(directory.length / 2, 10);
  end.writeUInt32LE(centralDirectory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, centralDirectory, end]);
}
