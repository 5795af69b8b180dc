import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateProductsCsv, type GeneratedFile } from '../scripts/generate-products-csv.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// One tenant's backlog of large files must not starve another tenant's small upload: with every
// worker slot busy with the first tenant's imports, the second tenant's import starts within 5 s
// (a running import yields its slot at a batch boundary), and the large imports still end exact.
let service: TestService;
let dir: string;
let large: GeneratedFile;

beforeAll(async () => {
  // Two slots, small batches: each large import runs for seconds, the backlog for much longer.
  service = await startTestService({ WORKER_CONCURRENCY: '2', BATCH_SIZE: '20' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'lading-fair-'));
  large = await generateProductsCsv(path.join(dir, 'large.csv'), { rows: 80_000, invalidShare: 0.01, seed: 8 });
});
afterAll(async () => {
  await service?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('fair turns across tenants', () => {
  it('starts another tenant’s upload within 5 s while one tenant’s four large imports hold every slot', async () => {
    // No job may fail meanwhile (a failed job frees its slot too, and would hide a missing yield).
    let failures = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const { rows } = await service.pool.query('select count(*)::int as n from graphile_worker._private_jobs where last_error is not null');
        failures = Math.max(failures, rows[0].n);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const busy = await service.createTenant('busy');
    const body = await readFile(large.path);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await readJson(await service.uploadCsv(busy.key, body))).id);
    // Both slots taken by the busy tenant.
    const deadline = Date.now() + 30_000;
    while ((await service.pool.query(`select count(*)::int as n from imports where status = 'processing'`)).rows[0].n < 2) {
      if (Date.now() > deadline) throw new Error('the busy tenant never had two imports running');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const other = await service.createTenant('other');
    const uploaded = Date.now();
    const response = await service.uploadCsv(other.key, 'sku,name,price\nO-1,One,1.00\nO-2,Two,2.00\n');
    const { id } = await readJson(response);
    const done = await service.waitForImport(other.key, id, 80_000);
    const { rows } = await service.pool.query('select extract(epoch from started_at) * 1000 as started from imports where id = $1', [id]);
    const waitedMs = Number(rows[0].started) - uploaded;
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 2 });
    expect(waitedMs).toBeLessThan(5000);
    // It did not simply come after the backlog: most of the busy tenant's imports were still to end.
    const unfinished = await service.pool.query(`select count(*)::int as n from imports where id = any($1::uuid[]) and finished_at is null`, [ids]);
    expect(unfinished.rows[0].n).toBeGreaterThan(1);

    // The same file four times: whichever import writes a row first inserts it, the others find it there.
    let inserted = 0;
    for (const busyId of ids) {
      const ended = await service.waitForImport(busy.key, busyId, 280_000);
      expect(ended).toMatchObject({ status: 'succeeded', rows_processed: 80_000, rows_rejected: large.invalidLines.length });
      expect(ended.rows_inserted + ended.rows_updated + ended.rows_unchanged).toBe(80_000 - large.invalidLines.length);
      inserted += ended.rows_inserted;
    }
    expect(inserted).toBe(80_000 - large.invalidLines.length);
    watching = false;
    await watcher;
    expect(failures).toBe(0);
  }, 300_000);
});
