import { mkdtemp, rm } from 'node:fs/promises';
import { openAsBlob } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateProductsCsv } from '../scripts/generate-products-csv.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

let service: TestService;
let dir: string;

beforeAll(async () => {
  service = await startTestService();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lading-large-'));
});
afterAll(async () => {
  await service?.stop();
  await rm(dir, { recursive: true, force: true });
});

it('loads a generated 100,000-row file end to end with exact counts', async () => {
  const file = await generateProductsCsv(path.join(dir, 'products.csv'), { rows: 100_000, invalidShare: 0.01, seed: 7 });
  const invalid = file.invalidLines.length;
  expect(invalid).toBeGreaterThan(500);
  const { key } = await service.createTenant();

  const response = await service.uploadCsv(key, await openAsBlob(file.path));
  expect(response.status).toBe(202);
  const done = await service.waitForImport(key, (await readJson(response)).id, 120_000);
  expect(done).toMatchObject({
    status: 'succeeded',
    bytes: file.bytes,
    rows_processed: 100_000,
    rows_inserted: 100_000 - invalid,
    rows_updated: 0,
    rows_rejected: invalid,
    batches_committed: 100,
  });
  const { rows } = await service.pool.query('select count(*)::int as n from products');
  expect(rows[0].n).toBe(100_000 - invalid);
  const errors = await service.pool.query('select line::int from import_errors where import_id = $1 order by line', [done.id]);
  expect(errors.rows.map((row) => row.line)).toEqual(file.invalidLines);
});
