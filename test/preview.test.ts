import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// POST /v1/imports/preview: what an import of the file would do, from the start of the body alone.

let service: TestService;
let key: string;
beforeAll(async () => {
  service = await startTestService();
  ({ key } = await service.createTenant());
});
afterAll(() => service?.stop());

const preview = (body: NonNullable<RequestInit['body']>, query = '', headers: Record<string, string> = { 'content-type': 'text/csv' }) =>
  service.request(`/v1/imports/preview${query}`, { method: 'POST', key, body, headers });
const stored = async () => ({
  imports: Number((await service.pool.query('select count(*) from imports')).rows[0].count),
  products: Number((await service.pool.query('select count(*) from products')).rows[0].count),
  files: (await service.uploadedFiles()).length,
});

describe('POST /v1/imports/preview', () => {
  it('shows the mapping with how each column was decided, the first records as they would be imported, and stores nothing', async () => {
    const before = await stored();
    const csv =
      'Product Name,SKU Code,Qty,Price (EUR),Notes,Categry\n' +
      'Coffee mug,MUG-1,12,8.50,fragile,kitchen\n' +
      'Poster,POSTER-1,x,12.00,,decor\n';
    const response = await preview(csv);
    expect(response.status).toBe(200);
    const body = await readJson(response);
    expect(body).toMatchObject({ encoding: 'utf-8', delimiter: ',', header_row: 1, missing_required: [], problems: [], truncated: false });
    expect(body.header).toEqual(['Product Name', 'SKU Code', 'Qty', 'Price (EUR)', 'Notes', 'Categry']);
    expect(body.mapping.slice(0, 5)).toEqual([
      { column: 'Product Name', field: 'name', how: 'alias' },
      { column: 'SKU Code', field: 'sku', how: 'alias' },
      { column: 'Qty', field: 'quantity', how: 'alias' },
      { column: 'Price (EUR)', field: 'price', how: 'alias' },
      { column: 'Notes', field: null, how: null },
    ]);
    expect(body.mapping[5]).toMatchObject({ column: 'Categry', field: 'category', how: 'fuzzy' });
    expect(body.records).toEqual([
      {
        line: 2,
        values: { sku: 'MUG-1', name: 'Coffee mug', price: '8.50', quantity: 12, status: 'active' },
        rejection: null,
      },
      { line: 3, values: null, rejection: { column: 'quantity', message: expect.stringContaining('quantity must be a whole number') } },
    ]);
    expect(await stored()).toEqual(before);
  });

  it('applies an explicit mapping and says so; names the required fields still unmapped', async () => {
    const mapping = encodeURIComponent(JSON.stringify({ Ref: 'sku', Titel: 'name' }));
    const mapped = await readJson(await preview('Ref,Titel\nA-1,Eins\n', `?mapping=${mapping}`));
    expect(mapped.mapping).toEqual([
      { column: 'Ref', field: 'sku', how: 'explicit' },
      { column: 'Titel', field: 'name', how: 'explicit' },
    ]);
    expect(mapped.records[0].values).toMatchObject({ sku: 'A-1', name: 'Eins' });
    const unmapped = await readJson(await preview('Reference,Titel\nA-1,Eins\n'));
    expect(unmapped.missing_required).toEqual(['sku', 'name']);
  });

  it('reads Windows-1252, gzip, and a header below title lines, with physical line numbers', async () => {
    const latin = Buffer.from('sku,name\nE-1,Café crème\n', 'latin1');
    const decoded = await readJson(await preview(gzipSync(latin), '?header_row=1'));
    expect(decoded.encoding).toBe('windows-1252');
    expect(decoded.records[0].values.name).toBe('Café crème');
    const titled = await readJson(await preview('Price list\n"Spring, 2026\nsku,name\nT-1,Thing\nT-2,\n', '?header_row=3'));
    expect(titled.header).toEqual(['sku', 'name']);
    expect(titled.records.map((r: { line: number }) => r.line)).toEqual([4, 5]);
    expect(titled.records[1].rejection.column).toBe('name');
  });

  it('reads a multipart form, gzip-compressed as a whole, as an upload would', async () => {
    const form = new FormData();
    form.append('header_row', '2');
    form.append('file', new Blob(['Catalogue\nsku,name\nF-1,Form item\n']), 'form.csv');
    const request = new Request('http://x', { method: 'POST', body: form });
    const body = gzipSync(Buffer.from(await request.arrayBuffer()));
    const response = await preview(body, '', { 'content-type': request.headers.get('content-type')!, 'content-encoding': 'gzip' });
    expect(response.status).toBe(200);
    const result = await readJson(response);
    expect(result).toMatchObject({ header_row: 2, header: ['sku', 'name'] });
    expect(result.records).toEqual([{ line: 3, values: expect.objectContaining({ sku: 'F-1', name: 'Form item' }), rejection: null }]);
  });

  it('reads only the start of a large body: 100 records, truncated, answered without the rest', async () => {
    const before = await stored();
    const line = (i: number) => `BIG-${i},Item ${i},${'x'.repeat(200)}\n`;
    const big = `sku,name,description\n${Array.from({ length: 100_000 }, (_, i) => line(i)).join('')}`; // ~21 MB
    const response = await preview(big);
    expect(response.status).toBe(200);
    const body = await readJson(response);
    expect(body.truncated).toBe(true);
    expect(body.records).toHaveLength(100);
    expect(body.records[99].line).toBe(101);
    expect(await stored()).toEqual(before);
  });

  it('refuses a workbook with a pointer to dry_run, and a bad option naming it', async () => {
    const zip = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(100, 1)]);
    const workbook = await preview(zip);
    expect(workbook.status).toBe(415);
    expect((await readJson(workbook)).error.message).toContain('dry_run=true');
    const bad = await preview('sku,name\n', '?header_row=0');
    expect(bad.status).toBe(400);
    expect((await readJson(bad)).error.message).toContain('header_row');
  });
});
