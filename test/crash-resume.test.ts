import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/api-keys/api-keys.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { generateProductsCsv, type GeneratedFile } from '../scripts/generate-products-csv.ts';
import { startServiceProcess, type Child } from './helpers/child-process.ts';
import { createTestDatabase } from './helpers/test-service.ts';

const ROWS = 60_000;
const BATCH = 500;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;
let dataDir: string;
let file: GeneratedFile;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.connectionString, 3);
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-resume-'));
  file = await generateProductsCsv(path.join(dataDir, 'products.csv'), { rows: ROWS, invalidShare: 0.01, seed: 11 });
});
afterAll(async () => {
  await pool?.end();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

function startService(): Promise<{ child: Child; url: string }> {
  return startServiceProcess({ DATABASE_URL: database.connectionString, DATA_DIR: path.join(dataDir, 'service'), BATCH_SIZE: String(BATCH) });
}

async function upload(url: string, key: string): Promise<string> {
  const response = await fetch(`${url}/v1/imports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
    body: await readFile(file.path),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

type ImportState = { status: string; batches_committed: number; rows_processed: string; checkpoint_byte: string };

async function importState(id: string): Promise<ImportState> {
  return (await pool.query('select status, batches_committed, rows_processed, checkpoint_byte from imports where id = $1', [id])).rows[0];
}

async function waitForState(id: string, done: (state: ImportState) => boolean, timeoutMs = 60_000): Promise<ImportState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await importState(id);
    if (done(state)) return state;
    if (Date.now() > deadline) throw new Error(`import state never matched: ${JSON.stringify(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function finalImport(id: string) {
  return (
    await pool.query(
      `select status, rows_processed::int, rows_inserted::int, rows_updated::int, rows_rejected::int, batches_committed,
              (select count(*)::int from import_errors e where e.import_id = i.id) as error_rows
       from imports i where id = $1`,
      [id],
    )
  ).rows[0];
}

async function productsOf(tenant: string) {
  const { rows } = await pool.query(
    `select p.sku, p.name, p.description, p.price::text, p.currency, p.quantity, p.category, p.status, p.updated_at
     from products p join tenants t on t.id = p.tenant_id where t.name = $1 order by sku`,
    [tenant],
  );
  return rows;
}

describe('crash and resume', () => {
  it('ends kill -9 twice mid-file with the same counts and table as a clean run', async () => {
    const crashed = await createApiKey(pool, { tenant: 'crashed' });
    const clean = await createApiKey(pool, { tenant: 'clean' });

    let service = await startService();
    const id = await upload(service.url, crashed.key);
    for (const atBatch of [15, 60]) {
      const state = await waitForState(id, (s) => s.batches_committed >= atBatch);
      expect(state.status).toBe('processing');
      service.child.process.kill('SIGKILL');
      await service.child.exited;
      service = await startService(); // the dead worker's job is released at start and resumes
    }
    await waitForState(id, (s) => s.status !== 'processing' && s.status !== 'queued');

    const cleanId = await upload(service.url, clean.key);
    await waitForState(cleanId, (s) => s.status !== 'processing' && s.status !== 'queued');
    service.child.process.kill('SIGTERM');
    expect(await service.child.exited).toBe(0);

    const invalid = file.invalidLines.length;
    const expected = {
      status: 'succeeded',
      rows_processed: ROWS,
      rows_inserted: ROWS - invalid,
      rows_updated: 0,
      rows_rejected: invalid,
      batches_committed: ROWS / BATCH,
      error_rows: invalid,
    };
    expect(await finalImport(id)).toEqual(expected);
    expect(await finalImport(cleanId)).toEqual(expected);
    const [crashedRows, cleanRows] = [await productsOf('crashed'), await productsOf('clean')];
    expect(crashedRows).toHaveLength(ROWS - invalid);
    expect(crashedRows).toEqual(cleanRows);
  });

  it('on SIGTERM commits the running batch, exits 0 and resumes on the next start', async () => {
    const { key } = await createApiKey(pool, { tenant: 'sigterm' });
    let service = await startService();
    const id = await upload(service.url, key);
    await waitForState(id, (s) => s.batches_committed >= 10);
    const signalled = Date.now();
    service.child.process.kill('SIGTERM');
    expect(await service.child.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);

    const paused = await importState(id);
    expect(paused.status).toBe('processing');
    expect(paused.batches_committed).toBeLessThan(ROWS / BATCH);
    expect(Number(paused.rows_processed)).toBe(paused.batches_committed * BATCH);
    const { rows: jobs } = await pool.query(
      "select locked_by from graphile_worker.jobs where task_identifier = 'import_products_csv'",
    );
    expect(jobs).toEqual([{ locked_by: null }]); // released and waiting, not stuck behind a lock

    service = await startService();
    const done = await waitForState(id, (s) => s.status === 'succeeded');
    expect(done.batches_committed).toBe(ROWS / BATCH);
    expect((await finalImport(id)).rows_rejected).toBe(file.invalidLines.length);
    service.child.process.kill('SIGTERM');
    await service.child.exited;
  });
});
