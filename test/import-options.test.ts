import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

let service: TestService;
let key: string;
let csv: string;

beforeAll(async () => {
  service = await startTestService();
  ({ key } = await service.createTenant());
  csv = await readFile('fixtures/products-valid.csv', 'utf8');
});
afterAll(() => service?.stop());

const importCount = async () => Number((await service.pool.query('select count(*) from imports')).rows[0].count);

describe('upload options', () => {
  it('are echoed on the import: the options it runs with, the requested encoding, then the applied mapping and delimiter', async () => {
    const response = await service.uploadCsv(key, csv, {});
    const query = '?max_errors=5&max_error_rate=0.25';
    const queued = await readJson(await service.request(`/v1/imports${query}`, { method: 'POST', key, body: csv, headers: { 'content-type': 'text/csv' } }));
    expect(response.status).toBe(202);
    expect(queued.options).toEqual({
      template: null, header_row: 1, sheet: null, dry_run: false, atomic: false, max_errors: 5, max_error_rate: 0.25,
    });
    expect(queued.encoding).toBe('utf-8');
    expect(queued.delimiter).toBeNull();
    const done = await service.waitForImport(key, queued.id);
    expect(done).toMatchObject({ status: 'succeeded', delimiter: ',' });
    expect((done as unknown as { mapping: unknown }).mapping).toEqual({
      sku: 'sku', name: 'name', description: 'description', price: 'price', currency: 'currency', quantity: 'quantity',
      category: 'category', status: 'status', updated_at: 'updated_at',
    });
  });

  it('refuse a bad value with 400, naming the option, and store nothing', async () => {
    const before = await importCount();
    // The test above's imports may still be removing their files: none may be added.
    const filesBefore = await service.uploadedFiles();
    for (const [query, message] of [
      ['max_errors=-1', 'max_errors must be a whole number ≥ 0'],
      ['max_error_rate=2', 'max_error_rate must be a number from 0 to 1'],
      ['dry_run=maybe', 'dry_run must be true or false'],
      ['encoding=ebcdic', 'encoding must be one of auto, utf-8, windows-1252, iso-8859-1, utf-16le, utf-16be'],
      ['mapping=%7B%22A%22%3A%22colour%22%7D', 'mapping must map file columns to one of sku, name, description, price, currency, quantity, category, status, updated_at or null'],
      ['mapping=not-json', 'mapping must be a JSON object {"file column": "field" | null}'],
      ['header_row=0', 'header_row must be a whole number from 1 to 1000'],
    ] as const) {
      const response = await service.request(`/v1/imports?${query}`, { method: 'POST', key, body: csv, headers: { 'content-type': 'text/csv' } });
      expect(response.status, query).toBe(400);
      const body = await readJson(response);
      expect(body.error.code).toBe('validation_failed');
      expect(body.error.message, query).toContain(message);
    }
    expect(await importCount()).toBe(before);
    expect((await service.uploadedFiles()).filter((file) => !filesBefore.includes(file))).toEqual([]);
  });

  it('refuse an unknown template with 400 before reading the body', async () => {
    const before = await importCount();
    const response = await service.request('/v1/imports?template=nope', { method: 'POST', key, body: csv, headers: { 'content-type': 'text/csv' } });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error).toMatchObject({ code: 'validation_failed', message: 'No template named "nope"' });
    expect(await importCount()).toBe(before);
  });
});
