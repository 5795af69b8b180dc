import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// First: the service loads @hono/zod-openapi, which must extend zod before any schema is made.
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';
import { insertImport } from '../src/imports/import-queries.ts';
import { runImport } from '../src/imports/run-import.ts';
import { createLogger } from '../src/logger.ts';
import { createFileStorage } from '../src/storage/file-storage.ts';

// Column mapping (explicit, names, aliases) and header_row, through real uploads and the job.

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service?.stop());

type Done = ImportBody & { mapping: Record<string, string | null> | null; options: Record<string, unknown> };

async function importCsv(key: string, csv: string, query: Record<string, string> = {}): Promise<Done> {
  const search = new URLSearchParams(query).toString();
  const response = await service.request(`/v1/imports${search ? `?${search}` : ''}`, {
    method: 'POST',
    key,
    body: csv,
    headers: { 'content-type': 'text/csv' },
  });
  expect(response.status, JSON.stringify(await response.clone().json())).toBe(202);
  return (await service.waitForImport(key, (await readJson(response)).id)) as Done;
}

async function products(tenant: string) {
  const { rows } = await service.pool.query(
    `select sku, name, description, price::text, quantity from products
     where tenant_id = (select id from tenants where name = $1) order by sku`,
    [tenant],
  );
  return rows;
}

async function rejected(key: string, id: string) {
  return (await readJson(await service.request(`/v1/imports/${id}/errors`, { key }))).items as { line: number; message: string }[];
}

describe('mapping', () => {
  it('imports a file through common aliases, echoing the applied mapping and warning of the column it ignores', async () => {
    const { tenant, key } = await service.createTenant('aliases');
    const done = await importCsv(key, 'Product Name,SKU Code,Qty,Price (EUR),Notes\nWidget,W-1,5,9.99,fragile\nGadget,G-1,2,19.50,\n');
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 2, rows_rejected: 0, warnings: ['Unknown column "Notes" was ignored'] });
    expect(done.mapping).toEqual({ 'Product Name': 'name', 'SKU Code': 'sku', Qty: 'quantity', 'Price (EUR)': 'price', Notes: null });
    expect(await products(tenant)).toEqual([
      { sku: 'G-1', name: 'Gadget', description: null, price: '19.50', quantity: 2 },
      { sku: 'W-1', name: 'Widget', description: null, price: '9.99', quantity: 5 },
    ]);
  });

  it('lets an explicit mapping override an alias and ignore a column (null), without a warning for it', async () => {
    const { tenant, key } = await service.createTenant('explicit');
    const mapping = { 'product name': 'description', ' Marketing Name ': 'name', QTY: null };
    const response = await service.request(`/v1/imports?mapping=${encodeURIComponent(JSON.stringify(mapping))}`, {
      method: 'POST',
      key,
      body: 'SKU Code,Product Name,Marketing Name,Qty\nE-1,A long text,Short,7\n',
      headers: { 'content-type': 'text/csv' },
    });
    const queued = await readJson(response);
    expect(queued.mapping, 'as requested until the header is read').toEqual(mapping);
    const done = (await service.waitForImport(key, queued.id)) as Done;
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 1, warnings: [] });
    expect(done.mapping).toEqual({ 'SKU Code': 'sku', 'Product Name': 'description', 'Marketing Name': 'name', Qty: null });
    expect(await products(tenant)).toEqual([{ sku: 'E-1', name: 'Short', description: 'A long text', price: null, quantity: null }]);
  });

  it('fails an import whose mapping names a column the file lacks, or gives a field two columns, saying which', async () => {
    const { tenant, key } = await service.createTenant('bad-mapping');
    const missing = await importCsv(key, 'sku,name\nM-1,x\n', { mapping: JSON.stringify({ Article: 'sku' }) });
    expect(missing).toMatchObject({ status: 'failed', rows_processed: 0 });
    expect(missing.error).toBe('The mapping names a column the file does not have: "Article". The header line (line 1) has: sku, name');
    const twice = await importCsv(key, 'a,b,name\nM-1,M-2,x\n', { mapping: JSON.stringify({ a: 'sku', b: 'sku' }) });
    expect(twice).toMatchObject({ status: 'failed', rows_processed: 0 });
    expect(twice.error).toBe('Columns "a" and "b" are both mapped to sku: map one column to each field. The header line (line 1) has: a, b, name');
    expect(await products(tenant)).toEqual([]);
  });

  it('fails when sku stays unmapped, listing the file’s columns and the best candidates', async () => {
    const { tenant, key } = await service.createTenant('no-sku');
    const done = await importCsv(key, 'Product Name,Supplier SKU,Qty,Colour\nThing,S-1,1,red\n');
    expect(done).toMatchObject({ status: 'failed', rows_processed: 0 });
    expect(done.error).toBe(
      'Missing required column "sku" in the header line (line 1); found: Product Name, Supplier SKU, Qty, Colour. ' +
        'Best candidates for sku: "Supplier SKU" (0.70); choose with mapping, e.g. {"Supplier SKU":"sku"}',
    );
    expect(await products(tenant)).toEqual([]);
  });
});

describe('header_row', () => {
  const titled = [
    'Price list "spring, draft', // an unbalanced quote: preamble lines are not parsed
    'Exported by ERP, do not edit',
    'sku;name;price',
    'H-1;Good;1.00',
    'H-2;Bad;not-a-price',
    'H-3;Good too;2.00',
    '',
  ].join('\n');

  it('skips the lines above the header; the delimiter comes from the header, line numbers stay the file’s', async () => {
    const { tenant, key } = await service.createTenant('header-row');
    const done = await importCsv(key, titled, { header_row: '3' });
    expect(done).toMatchObject({
      status: 'succeeded',
      rows_processed: 3,
      rows_inserted: 2,
      rows_rejected: 1,
      warnings: ['Columns are separated by semicolon (";")'],
      options: expect.objectContaining({ header_row: 3 }),
    });
    expect(done.mapping).toEqual({ sku: 'sku', name: 'name', price: 'price' });
    expect((await rejected(key, done.id)).map((e) => e.line)).toEqual([5]);
    expect((await products(tenant)).map((p) => p.sku)).toEqual(['H-1', 'H-3']);
  });

  it('names the header line in a failure, and fails a file that ends before it', async () => {
    const { key } = await service.createTenant('header-row-fail');
    const wrong = await importCsv(key, titled, { header_row: '2' });
    expect(wrong.status).toBe('failed');
    expect(wrong.error).toContain('in the header line (line 2); found: Exported by ERP, do not edit');
    const beyond = await importCsv(key, titled, { header_row: '9' });
    expect(beyond).toMatchObject({ status: 'failed', error: 'The file ends before line 9, where header_row says the header is' });
  });

  it('resumes from a checkpoint after the header, keeping physical line numbers and what the first run recorded', async () => {
    const { tenant, key } = await service.createTenant('header-row-resume');
    const tenantId = (await service.pool.query('select id from tenants where name = $1', [tenant])).rows[0].id;
    const lines = ['Stock report', 'generated 2025-03-01', 'SKU Code,Product Name,Notes'];
    for (let i = 1; i <= 6; i++) lines.push(i === 5 ? 'R-5,,no name' : `R-${i},Item ${i},note`);
    const csv = `${lines.join('\n')}\n`;
    // The first run is stopped (shutdown) after its first batch of two records; the service's
    // worker runs the continuation it enqueues, from the checkpoint.
    const id = crypto.randomUUID();
    const filePath = path.join(service.config.dataDir, 'uploads', `${id}.csv`);
    await mkdir(path.dirname(filePath), { recursive: true });
    await writeFile(filePath, csv);
    await insertImport(service.pool, {
      id, tenantId, apiKeyId: null, filename: 'resume.csv', filePath, bytes: csv.length, sha256: 'test', fileFormat: 'csv', encoding: 'auto', mapping: null,
      options: { template: null, header_row: 3, sheet: null, dry_run: false, atomic: false, max_errors: null, max_error_rate: null },
    });
    await runImport(
      {
        pool: service.pool,
        storage: createFileStorage(path.dirname(filePath)),
        workDir: path.join(service.config.dataDir, 'work'),
        logger: createLogger({ level: 'silent', format: 'json' }),
        batchSize: 2,
        publicBaseUrl: service.url,
        limits: service.config.limits,
        jobTimeBudgetMs: 60_000,
        shutdownSignal: AbortSignal.abort(),
      },
      id,
      { isLast: false },
    );
    const paused = (await service.pool.query('select status, rows_processed::int, checkpoint_line::int from imports where id = $1', [id])).rows[0];
    expect(paused).toEqual({ status: 'processing', rows_processed: 2, checkpoint_line: 6 });

    const done = (await service.waitForImport(key, id)) as Done;
    expect(done).toMatchObject({ status: 'succeeded', rows_processed: 6, rows_inserted: 5, rows_rejected: 1 });
    expect(done.warnings).toEqual(['Unknown column "Notes" was ignored']);
    expect(done.mapping).toEqual({ 'SKU Code': 'sku', 'Product Name': 'name', Notes: null });
    expect((await rejected(key, id)).map((e) => e.line)).toEqual([8]);
  });
});
