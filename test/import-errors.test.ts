import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

let service: TestService;

beforeAll(async () => {
  service = await startTestService({ BATCH_SIZE: '4' });
});
afterAll(() => service?.stop());

async function importCsv(key: string, csv: string): Promise<ImportBody> {
  const response = await service.uploadCsv(key, csv);
  expect(response.status).toBe(202);
  return service.waitForImport(key, ((await readJson(response)) as ImportBody).id);
}

async function skus(tenant: string): Promise<string[]> {
  const { rows } = await service.pool.query(
    'select sku from products join tenants t on t.id = tenant_id where t.name = $1 order by sku',
    [tenant],
  );
  return rows.map((row) => row.sku);
}

async function importCount(tenant: string): Promise<number> {
  const { rows } = await service.pool.query(
    'select count(*)::int as n from imports join tenants t on t.id = tenant_id where t.name = $1',
    [tenant],
  );
  return rows[0].n;
}

const EXPECTED_ERRORS = [
  { line: 3, column: 'sku', message: 'sku must be 1–64 characters: letters, digits, "-", "_" or "."' },
  { line: 6, column: 'name', message: 'name is required' },
  { line: 7, column: 'price', message: 'price must be a decimal number ≥ 0 with at most 2 decimal places (e.g. 19.99)' },
  { line: 9, column: 'currency', message: 'currency must be an ISO-4217 currency code such as EUR or USD' },
  { line: 10, column: 'quantity', message: 'quantity must be a whole number from 0 to 2147483647' },
  { line: 11, column: 'status', message: 'status must be one of active, inactive, archived' },
  { line: 12, column: 'updated_at', message: 'updated_at must be an ISO-8601 date or date-time (e.g. 2024-05-01T12:00:00Z)' },
  { line: 13, column: null, message: 'has 3 fields but the header has 7' },
  { line: 14, column: null, message: 'has 8 fields but the header has 7' },
  { line: 15, column: 'price', message: 'price must be a decimal number ≥ 0 with at most 2 decimal places (e.g. 19.99)' },
];

describe('rejected records', () => {
  for (const [label, lineEnd] of [['LF', '\n'], ['CRLF', '\r\n']] as const) {
    it(`records each bad record with its line, column and reason and loads every valid one (${label})`, async () => {
      const { tenant, key } = await service.createTenant(`bad-rows-${label}`);
      const csv = (await readFile('fixtures/products-invalid-rows.csv', 'utf8')).replaceAll('\n', lineEnd);
      const done = await importCsv(key, csv);
      expect(done).toMatchObject({
        status: 'succeeded',
        rows_processed: 13,
        rows_inserted: 3,
        rows_updated: 0,
        rows_rejected: 10,
        error: null,
      });
      expect(await skus(tenant)).toEqual(['OK-1', 'OK-12', 'OK-2']);

      const errors = await readJson(await service.request(`/v1/imports/${done.id}/errors?limit=1000`, { key }));
      expect(errors.items.map(({ line, column, message }: { line: number; column: string; message: string }) => ({ line, column, message })))
        .toEqual(EXPECTED_ERRORS);
      expect(errors.items[7].values).toEqual(['OK-9', 'Too few', '9.00']);
      expect(errors.next_cursor).toBeNull();
    });
  }

  it('pages through errors with a cursor', async () => {
    const { key } = await service.createTenant('paging');
    const done = await importCsv(key, await readFile('fixtures/products-invalid-rows.csv', 'utf8'));
    const lines: number[] = [];
    let cursor: string | null = null;
    do {
      const page = await readJson(
        await service.request(`/v1/imports/${done.id}/errors?limit=4${cursor ? `&cursor=${cursor}` : ''}`, { key }),
      );
      expect(page.items.length).toBeLessThanOrEqual(4);
      lines.push(...page.items.map((item: { line: number }) => item.line));
      cursor = page.next_cursor;
    } while (cursor);
    expect(lines).toEqual(EXPECTED_ERRORS.map((e) => e.line));
  });

  it('gives rejected records back as CSV with an error column, formulas neutralised', async () => {
    const { key } = await service.createTenant('errors-csv');
    const done = await importCsv(key, await readFile('fixtures/products-invalid-rows.csv', 'utf8'));
    const response = await service.request(`/v1/imports/${done.id}/errors.csv`, { key });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toContain(`import-${done.id}-errors.csv`);
    const rows: string[][] = parse(await response.text(), { relax_column_count: true });
    expect(rows[0]).toEqual(['sku', 'name', 'price', 'currency', 'quantity', 'status', 'updated_at', 'error']);
    expect(rows).toHaveLength(1 + EXPECTED_ERRORS.length);
    expect(rows[1]).toEqual(['bad sku', 'Space in sku', '1.00', 'EUR', '1', 'active', '', `line 3: ${EXPECTED_ERRORS[0]!.message}`]);
    expect(rows[10]).toEqual(['OK-11', `'=HYPERLINK("http://x")`, "'-1", 'EUR', '1', 'active', '', `line 15: ${EXPECTED_ERRORS[9]!.message}`]);
    // The product data itself keeps the text exactly: only the downloaded CSV is neutralised.
    const { rows: stored } = await service.pool.query('select raw_values from import_errors where import_id = $1 and line = 15', [done.id]);
    expect(stored[0].raw_values[1]).toBe('=HYPERLINK("http://x")');
  });

  it('neutralises every formula start in errors.csv, the full-width ＝＋－＠ too, and leaves other values as they were', async () => {
    const { key } = await service.createTenant('errors-csv-formulas');
    const formulas = ['=1+2', '+1+2', '-1+2', '@SUM(A1)', '\t=1+2', '\r=1+2', '＝1+2', '＋1+2', '－1+2', '＠SUM(A1)'];
    const plain = ['a=b', '1-2', 'mail@example.com', 'Plain name', '1＝1'];
    const names = [...formulas, ...plain];
    // Each record is rejected for its quantity; its name is the value under test.
    const csv = stringify([
      ['sku', 'name', 'price', 'currency', 'quantity', 'status', 'updated_at'],
      ...names.map((name, i) => [`F-${i}`, name, '1.00', 'EUR', 'x', 'active', '']),
    ]);
    const done = await importCsv(key, csv);
    expect(done).toMatchObject({ status: 'succeeded', rows_rejected: names.length });

    const response = await service.request(`/v1/imports/${done.id}/errors.csv`, { key });
    expect(response.status).toBe(200);
    const rows: string[][] = parse(await response.text());
    expect(rows[0]).toEqual(['sku', 'name', 'price', 'currency', 'quantity', 'status', 'updated_at', 'error']);
    expect(rows.slice(1)).toEqual(
      names.map((name, i) => [
        `F-${i}`,
        formulas.includes(name) ? `'${name}` : name,
        '1.00',
        'EUR',
        'x',
        'active',
        '',
        `line ${i + 2}: quantity must be a whole number from 0 to 2147483647`,
      ]),
    );
    // Only the download is neutralised: what was read is kept exactly.
    const { rows: stored } = await service.pool.query('select raw_values from import_errors where import_id = $1 order by line', [done.id]);
    expect(stored.map((row) => row.raw_values[1])).toEqual(names);
  });
});

describe('file-level failures', () => {
  it('fails at once when a required column is missing, naming it', async () => {
    const { tenant, key } = await service.createTenant('missing-col');
    const done = await importCsv(key, 'sku,label,price\nA-1,Thing,1.00\n');
    expect(done).toMatchObject({ status: 'failed', rows_processed: 0, rows_inserted: 0 });
    expect(done.error).toBe('Missing required column "name" in the header line (line 1); found: sku, label, price. No column looks like name');
    expect(await skus(tenant)).toEqual([]);
  });

  it('names both required columns when both are missing', async () => {
    const { key } = await service.createTenant('missing-cols');
    const done = await importCsv(key, 'id,label\n1,x\n');
    expect(done.status).toBe('failed');
    expect(done.error).toContain('Missing required columns "sku" and "name"');
  });

  it('fails a file of blank lines as empty', async () => {
    const { tenant, key } = await service.createTenant('blank');
    const done = await importCsv(key, '\n\n\n');
    expect(done).toMatchObject({ status: 'failed', rows_processed: 0 });
    expect(done.error).toBe('The file is empty: expected a header line with at least sku and name');
    expect(await skus(tenant)).toEqual([]);
  });

  it('succeeds with zero rows on a header-only file', async () => {
    const { key } = await service.createTenant('header-only');
    const done = await importCsv(key, 'sku,name\n');
    expect(done).toMatchObject({ status: 'succeeded', rows_processed: 0, rows_inserted: 0, batches_committed: 0 });
  });

  it('refuses a zero-byte upload with 400 and records nothing', async () => {
    const { tenant, key } = await service.createTenant('zero');
    const response = await service.uploadCsv(key, '');
    expect(response.status).toBe(400);
    expect((await readJson(response)).error).toMatchObject({
      code: 'empty_file',
      message: expect.stringContaining('empty'),
      requestId: expect.any(String),
    });
    expect(await importCount(tenant)).toBe(0);
    expect(await service.uploadedFiles()).toEqual([]);
  });

  it('fails on an unterminated quote, naming the line, after loading every record before it', async () => {
    const { tenant, key } = await service.createTenant('unterminated');
    // BATCH_SIZE is 4 here: five good records span two batches before the broken one.
    const csv = 'sku,name\nA-1,a\nA-2,b\nA-3,"c\nstill c"\nA-4,d\nA-5,e\nA-6,"never closed\nA-7,g\n';
    const done = await importCsv(key, csv);
    expect(done.status).toBe('failed');
    expect(done.error).toBe('Unterminated quoted field in the record starting on line 8: a closing " is missing');
    expect(done).toMatchObject({ rows_processed: 5, rows_inserted: 5, rows_rejected: 0 });
    expect(await skus(tenant)).toEqual(['A-1', 'A-2', 'A-3', 'A-4', 'A-5']);
  });

  it('fails on text after a closing quote, naming the line', async () => {
    const { key } = await service.createTenant('bad-quote');
    const done = await importCsv(key, 'sku,name\nA-1,a\nA-2,"b"x\n');
    expect(done.status).toBe('failed');
    expect(done.error).toContain('Malformed quoted field in the record starting on line 3');
    expect(done.rows_inserted).toBe(1);
  });

  it('fails on a duplicated column name', async () => {
    const { tenant, key } = await service.createTenant('dup-header');
    const done = await importCsv(key, 'sku,name,SKU\nA-1,a,A-2\n');
    expect(done.status).toBe('failed');
    expect(done.error).toBe('Duplicate column "SKU" in the header (columns 1 and 3): each column name may appear once');
    expect(await skus(tenant)).toEqual([]);
  });
});
