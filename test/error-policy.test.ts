import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateProductsCsv } from '../scripts/generate-products-csv.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// max_errors and max_error_rate: checked after each committed batch; past a limit the import
// stops and ends failed, saying which limit and the counts. A non-atomic import keeps what it wrote.

let service: TestService;
let dir: string;
beforeAll(async () => {
  service = await startTestService({ BATCH_SIZE: '2' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'lading-policy-'));
});
afterAll(async () => {
  await service?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function upload(key: string, body: string | Blob, query: string) {
  const response = await service.request(`/v1/imports?${query}`, { method: 'POST', key, body, headers: { 'content-type': 'text/csv' } });
  expect(response.status).toBe(202);
  return service.waitForImport(key, (await readJson(response)).id);
}

const skus = async (key: string) =>
  (
    await service.pool.query(
      `select p.sku from products p join api_keys k on k.tenant_id = p.tenant_id
       where k.key_hash = sha256(convert_to($1, 'UTF8')) order by p.sku`,
      [key],
    )
  ).rows.map((row) => row.sku);

// Records 3, 4 and 5 are invalid (price); batches of two: [1,2] [3,4] [5,6] [7,8] [9,10].
const tenRecords = `sku,name,price\n${Array.from({ length: 10 }, (_, i) => `S-${String(i + 1).padStart(2, '0')},Thing ${i + 1},${i >= 2 && i <= 4 ? 'abc' : '1.00'}`).join('\n')}\n`;

describe('max_errors', () => {
  it('stops after the batch that passes it: failed, saying the limit and the counts; earlier batches kept', async () => {
    const { key } = await service.createTenant();
    const done = await upload(key, tenRecords, 'max_errors=2');
    expect(done).toMatchObject({
      status: 'failed',
      error: 'Stopped: 3 records rejected, more than max_errors=2 (after 6 records read)',
      rows_processed: 6,
      rows_inserted: 3,
      rows_rejected: 3,
      batches_committed: 3,
    });
    expect(await skus(key)).toEqual(['S-01', 'S-02', 'S-06']);
    const errors = await readJson(await service.request(`/v1/imports/${done.id}/errors`, { key }));
    expect(errors.items.map((e: { line: number }) => e.line)).toEqual([4, 5, 6]);
  });

  it('lets an import with exactly that many rejected records succeed', async () => {
    const { key } = await service.createTenant();
    const done = await upload(key, tenRecords, 'max_errors=3');
    expect(done).toMatchObject({ status: 'succeeded', error: null, rows_processed: 10, rows_inserted: 7, rows_rejected: 3 });
  });
});

describe('max_error_rate', () => {
  it('is judged from 1000 records on: past it the import stops, saying the rate and the counts', async () => {
    const { key } = await service.createTenant();
    const file = await generateProductsCsv(path.join(dir, 'tenth-bad.csv'), { rows: 3000, invalidShare: 0.1, seed: 3 });
    const done = await upload(key, await openAsBlob(file.path), 'max_error_rate=0.05');
    expect(done.status).toBe('failed');
    expect(done.rows_processed).toBe(1000);
    // About a tenth of the first 1000 records are bad (the generator's records may span lines).
    const rejected = done.rows_rejected;
    expect(rejected).toBeGreaterThan(50);
    expect(done.error).toBe(
      `Stopped: ${((rejected / 1000) * 100).toFixed(1)}% of records rejected (${rejected} of 1000 read), more than max_error_rate=0.05`,
    );
    expect((await skus(key)).length).toBe(1000 - rejected);
  });

  it('does not judge fewer than 1000 records: a small file with a high rate succeeds', async () => {
    const { key } = await service.createTenant();
    const done = await upload(key, tenRecords, 'max_error_rate=0.1');
    expect(done).toMatchObject({ status: 'succeeded', rows_rejected: 3, rows_inserted: 7 });
  });
});
