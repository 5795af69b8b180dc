import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productsOfKey, readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

let service: TestService;
let key: string;

beforeAll(async () => {
  service = await startTestService();
  ({ key } = await service.createTenant());
});
afterAll(() => service?.stop());

async function importCsv(csv: string | Blob | FormData, headers: Record<string, string> = {}, as = key): Promise<ImportBody> {
  const response = await service.uploadCsv(as, csv, headers);
  expect(response.status).toBe(202);
  const queued = (await response.json()) as ImportBody;
  expect(response.headers.get('location')).toBe(`/v1/imports/${queued.id}`);
  expect(queued.status).toBe('queued');
  return service.waitForImport(as, queued.id);
}


describe('POST /v1/imports', () => {
  it('loads a raw text/csv upload into products exactly', async () => {
    const csv = await readFile('fixtures/products-valid.csv', 'utf8');
    const done = await importCsv(csv, { 'x-filename': 'products-valid.csv' });

    expect(done).toMatchObject({
      status: 'succeeded',
      filename: 'products-valid.csv',
      bytes: Buffer.byteLength(csv),
      rows_processed: 4,
      rows_inserted: 4,
      rows_updated: 0,
      rows_rejected: 0,
      batches_committed: 1,
      warnings: [],
      error: null,
    });
    expect(done.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(done.started_at).not.toBeNull();
    expect(done.finished_at).not.toBeNull();
    const table = await productsOfKey(service.pool, key);
    expect(table).toEqual([
      { sku: 'MUG-001', name: 'Coffee mug', description: 'Holds 350 ml\ndishwasher safe', price: '8.50', currency: 'USD',
        quantity: 100, category: 'kitchen', status: 'inactive', updated_at: expect.any(String) },
      { sku: 'POSTER.A2', name: 'Poster A2', description: null, price: '12.00', currency: 'GBP', quantity: 0,
        category: 'decor', status: 'archived', updated_at: '2023-12-24T17:30:00' },
      { sku: 'TSHIRT-RED-L', name: 'T-shirt, red, L', description: 'Soft cotton tee, "relaxed" fit', price: '19.99',
        currency: 'EUR', quantity: 17, category: 'apparel', status: 'active', updated_at: '2024-05-01T00:00:00' },
      { sku: 'TSHIRT-RED-M', name: 'T-shirt, red, M', description: 'Soft cotton tee', price: '19.99', currency: 'EUR',
        quantity: 42, category: 'apparel', status: 'active', updated_at: '2024-05-01T12:00:00' },
    ]);
    // The uploaded file is removed once the import has ended.
    expect(await service.uploadedFiles()).toEqual([]);
  });

  it('accepts multipart/form-data with the file in field "file"', async () => {
    const { key: other } = await service.createTenant('multipart');
    const form = new FormData();
    form.append('note', 'ignored');
    form.append('file', new Blob(['sku,name,price\nA-1,First,1.00\nA-2,Second,2.50\n'], { type: 'text/csv' }), 'dir/../catalogue.csv');
    const done = await importCsv(form, {}, other);
    expect(done).toMatchObject({ status: 'succeeded', filename: 'catalogue.csv', rows_inserted: 2, rows_rejected: 0 });
    expect((await productsOfKey(service.pool, other)).map((p) => [p.sku, p.price])).toEqual([['A-1', '1.00'], ['A-2', '2.50']]);
  });

  it('updates existing skus on re-import instead of duplicating them', async () => {
    const { key: other } = await service.createTenant('reimport');
    const first = 'sku,name,price,quantity\nR-1,One,1.00,1\nR-2,Two,2.00,2\nR-3,Three,3.00,3\n';
    expect(await importCsv(first, {}, other)).toMatchObject({ rows_inserted: 3, rows_updated: 0 });
    const second = 'sku,name,price,quantity\nR-1,One,1.50,1\nR-2,Two,2.50,2\nR-4,Four,4.00,4\n';
    expect(await importCsv(second, {}, other)).toMatchObject({ status: 'succeeded', rows_inserted: 1, rows_updated: 2 });
    expect((await productsOfKey(service.pool, other)).map((p) => [p.sku, p.price])).toEqual([
      ['R-1', '1.50'],
      ['R-2', '2.50'],
      ['R-3', '3.00'],
      ['R-4', '4.00'],
    ]);
  });

  it('counts rows whose values did not change as unchanged, without rewriting them', async () => {
    const { key: other } = await service.createTenant('unchanged');
    const csv = 'sku,name,price\nS-1,Same,1.00\nS-2,Same too,2.00\n';
    const first = await importCsv(csv, {}, other);
    const before = await service.pool.query("select sku, updated_at, last_import_id from products where sku like 'S-%' order by sku");
    const again = await importCsv('sku,name,price\nS-1,Same,1.0\nS-2,Changed,2.00\n', {}, other);
    expect(again).toMatchObject({ status: 'succeeded', rows_processed: 2, rows_inserted: 0, rows_updated: 1, rows_unchanged: 1 });
    const after = await service.pool.query("select sku, updated_at, last_import_id from products where sku like 'S-%' order by sku");
    expect(after.rows[0]).toEqual(before.rows[0]); // 1.0 equals the stored 1.00: untouched
    expect(after.rows[0].last_import_id).toBe(first.id);
    expect(after.rows[1].last_import_id).toBe(again.id);
  });

  it('imports a file with only some columns in any order, leaving the other columns untouched', async () => {
    const { key: other } = await service.createTenant('partial');
    await importCsv('sku,name,price,currency,status\nP-1,Old name,9.99,EUR,active\n', {}, other);
    const done = await importCsv('STATUS , Description,Name,SKU\ninactive,New text,New name,P-1\narchived,,Other,P-2\n', {}, other);
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 1, rows_updated: 1, warnings: [] });
    expect(await productsOfKey(service.pool, other)).toEqual([
      expect.objectContaining({ sku: 'P-1', name: 'New name', description: 'New text', price: '9.99', currency: 'EUR', status: 'inactive' }),
      expect.objectContaining({ sku: 'P-2', name: 'Other', description: null, price: null, currency: null, status: 'archived' }),
    ]);
  });

  it('ignores unknown columns and names them in warnings', async () => {
    const { key: other } = await service.createTenant('unknown');
    const done = await importCsv('sku,colour,name,\nU-1,red,Thing,x\n', {}, other);
    expect(done.status).toBe('succeeded');
    expect(done.warnings).toEqual(['Unknown column "colour" was ignored', 'Column 4 has no name and was ignored']);
    expect((await productsOfKey(service.pool, other)).map((p) => p.sku)).toEqual(['U-1']);
  });

  it('lets the last occurrence of a repeated sku win, counting the repeat as an update', async () => {
    const { key: other } = await service.createTenant('dupes');
    const done = await importCsv('sku,name,price\nD-1,First,1.00\nD-2,Other,5.00\nD-1,Last,3.00\n', {}, other);
    expect(done).toMatchObject({ status: 'succeeded', rows_processed: 3, rows_inserted: 2, rows_updated: 1 });
    expect((await productsOfKey(service.pool, other)).map((p) => [p.sku, p.name, p.price])).toEqual([
      ['D-1', 'Last', '3.00'],
      ['D-2', 'Other', '5.00'],
    ]);
  });

  it('repeats across batches too: last wins with BATCH_SIZE rows per batch', async () => {
    const small = await startTestService({ BATCH_SIZE: '2' });
    try {
      const { key: k } = await small.createTenant();
      const response = await small.uploadCsv(k, 'sku,name\nX-1,a\nX-2,b\nX-3,c\nX-1,d\nX-2,e\n');
      const done = await small.waitForImport(k, ((await response.json()) as ImportBody).id);
      expect(done).toMatchObject({ status: 'succeeded', rows_processed: 5, rows_inserted: 3, rows_updated: 2, batches_committed: 3 });
      const { rows } = await small.pool.query('select sku, name from products order by sku');
      expect(rows).toEqual([{ sku: 'X-1', name: 'd' }, { sku: 'X-2', name: 'e' }, { sku: 'X-3', name: 'c' }]);
    } finally {
      await small.stop();
    }
  });

  it('writes batches of new skus, of stored skus and of both, in any order, with exact counts', async () => {
    // BATCH_SIZE 4: a batch whose sku range holds no stored sku is copied straight into products,
    // any other goes through staging (insert the new, update the changed, skip the unchanged).
    const small = await startTestService({ BATCH_SIZE: '4' });
    try {
      const { key: k } = await small.createTenant();
      const sku = (n: number) => `P-${String(n).padStart(2, '0')}`;
      const evens = Array.from({ length: 10 }, (_, i) => 2 * i);
      const first = await small.uploadCsv(k, `sku,name\n${evens.map((n) => `${sku(n)},v1\n`).join('')}`);
      const firstDone = await small.waitForImport(k, ((await first.json()) as ImportBody).id);
      expect(firstDone).toMatchObject({ status: 'succeeded', rows_inserted: 10, rows_updated: 0, rows_unchanged: 0 });

      // 0..23 shuffled: even skus below 10 change, even skus from 10 to 18 stay the same, the rest are new;
      // the last batch (24..27) lies past every stored sku, so it is copied straight into products.
      const order = [23, 5, 12, 0, 19, 7, 2, 14, 21, 9, 16, 4, 1, 18, 11, 6, 20, 3, 13, 8, 22, 15, 10, 17, 27, 25, 24, 26];
      const name = (n: number) => (n % 2 === 0 && n < 10 ? 'v2' : n % 2 === 0 && n < 20 ? 'v1' : `new-${n}`);
      const second = await small.uploadCsv(k, `sku,name\n${order.map((n) => `${sku(n)},${name(n)}\n`).join('')}`);
      const secondDone = await small.waitForImport(k, ((await second.json()) as ImportBody).id);
      expect(secondDone).toMatchObject({
        status: 'succeeded', rows_processed: 28, rows_inserted: 18, rows_updated: 5, rows_unchanged: 5, rows_rejected: 0, batches_committed: 7,
      });
      // The file has no updated_at column: a new row's updated_at is its insert time, as set by the database.
      const { rows: times } = await small.pool.query("select count(*)::int as n from products where name like 'new-%' and updated_at <> created_at");
      expect(times[0].n).toBe(0);
      const { rows } = await small.pool.query('select sku, name, last_import_id from products order by sku');
      expect(rows).toEqual(
        Array.from({ length: 28 }, (_, n) => ({
          sku: sku(n),
          name: name(n),
          last_import_id: name(n) === 'v1' ? firstDone.id : secondDone.id, // unchanged rows are not rewritten
        })),
      );
    } finally {
      await small.stop();
    }
  });

  it('reads a UTF-8 BOM, CRLF line ends and quoted fields with commas, quotes and line breaks', async () => {
    const { key: other } = await service.createTenant('crlf');
    const csv = '\uFEFFsku,name,description\r\nC-1,"Comma, inside","Two\r\nlines"\r\nC-2,"Say ""hi""",plain\r\n';
    const done = await importCsv(csv, {}, other);
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 2, warnings: [] });
    expect((await productsOfKey(service.pool, other)).map((p) => [p.sku, p.name, p.description])).toEqual([
      ['C-1', 'Comma, inside', 'Two\r\nlines'],
      ['C-2', 'Say "hi"', 'plain'],
    ]);
  });
});

describe('GET /v1/imports', () => {
  it("lists the tenant's imports newest first, page by page", async () => {
    const { key: other } = await service.createTenant('list');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await importCsv(`sku,name\nL-${i},n\n`, {}, other)).id);

    const first = await readJson(await service.request('/v1/imports?limit=2', { key: other }));
    expect(first.items.map((i: ImportBody) => i.id)).toEqual([ids[2], ids[1]]);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await readJson(await service.request(`/v1/imports?limit=2&cursor=${first.next_cursor}`, { key: other }));
    expect(second.items.map((i: ImportBody) => i.id)).toEqual([ids[0]]);
    expect(second.next_cursor).toBeNull();
  });

  it('refuses a tampered cursor and an out-of-range limit with 400', async () => {
    const bad = await service.request('/v1/imports?cursor=nonsense', { key });
    expect(bad.status).toBe(400);
    expect((await readJson(bad)).error).toMatchObject({ code: 'bad_request', message: expect.stringContaining('cursor') });
    const tooMany = await service.request('/v1/imports?limit=5000', { key });
    expect(tooMany.status).toBe(400);
    expect((await readJson(tooMany)).error).toMatchObject({ code: 'validation_failed', message: expect.stringContaining('limit') });
  });
});
