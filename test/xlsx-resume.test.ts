import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/api-keys/api-keys.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { startServiceProcess, type Child } from './helpers/child-process.ts';
import { createTestDatabase } from './helpers/test-service.ts';

// An .xlsx import stopped part-way (kill -9 after some batches, SIGTERM during the conversion)
// resumes on the next start: from its checkpoint in the converted CSV, which is reused, or by
// converting again when the conversion had not finished.

const ROWS = 30_000;
const BATCH = 100;
const name = (i: number) => `Row ${i} — café`;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;
let dataDir: string;
let workbook: string;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.connectionString, 3);
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-xlsx-resume-'));
  workbook = path.join(dataDir, 'products.xlsx');
  const book = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: workbook, useSharedStrings: true });
  const sheet = book.addWorksheet('Products');
  sheet.addRow(['sku', 'name', 'price', 'quantity']).commit();
  for (let i = 0; i < ROWS; i++) sheet.addRow([`R-${String(i).padStart(6, '0')}`, name(i), (i % 1000) + 0.99, i % 50]).commit();
  await book.commit();
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
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
    body: await readFile(workbook),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

type ImportState = { status: string; batches_committed: number; rows_processed: number; rows_inserted: number };

async function importState(id: string): Promise<ImportState> {
  const { rows } = await pool.query(
    'select status, batches_committed, rows_processed::int, rows_inserted::int from imports where id = $1',
    [id],
  );
  return rows[0];
}

async function waitFor<T>(probe: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`never matched: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const uploadPath = (id: string) => path.join(dataDir, 'service', 'uploads', `${id}.csv`);
const converted = (id: string) => `${uploadPath(id)}.converted.csv`;

async function names(tenant: string): Promise<string[]> {
  const { rows } = await pool.query(
    'select p.name from products p join tenants t on t.id = p.tenant_id where t.name = $1 order by p.sku',
    [tenant],
  );
  return rows.map((row) => row.name);
}

describe('.xlsx crash and resume', () => {
  it('after kill -9 mid-import, continues from its checkpoint in the converted CSV, which it reuses', async () => {
    const { key } = await createApiKey(pool, { tenant: 'xlsx-crashed' });
    let service = await startService();
    const id = await upload(service.url, key);
    const state = await waitFor(() => importState(id), (s) => s.batches_committed >= 20);
    service.child.process.kill('SIGKILL');
    await service.child.exited;
    expect(state.status).toBe('processing');
    expect(existsSync(converted(id))).toBe(true);

    // Mark the converted CSV's last row: only a run that reuses the file imports the mark.
    const text = await readFile(converted(id), 'utf8');
    const last = name(ROWS - 1);
    expect(text.endsWith(`${last},${(ROWS - 1) % 1000 + 0.99},${(ROWS - 1) % 50}\n`)).toBe(true);
    await writeFile(converted(id), text.replace(last, `Reused ${last}`));

    service = await startService();
    const done = await waitFor(() => importState(id), (s) => s.status !== 'processing' && s.status !== 'queued');
    expect(done).toEqual({ status: 'succeeded', batches_committed: ROWS / BATCH, rows_processed: ROWS, rows_inserted: ROWS });
    const expected = Array.from({ length: ROWS }, (_, i) => name(i));
    expected[ROWS - 1] = `Reused ${last}`;
    expect(await names('xlsx-crashed')).toEqual(expected);
    await waitFor(() => existsSync(uploadPath(id)) || existsSync(converted(id)), (left) => !left);
    service.child.process.kill('SIGTERM');
    expect(await service.child.exited).toBe(0);
  });

  it('on SIGTERM during the conversion exits 0 and converts again on the next start', async () => {
    const { key } = await createApiKey(pool, { tenant: 'xlsx-sigterm' });
    let service = await startService();
    const id = await upload(service.url, key);
    await waitFor(() => existsSync(`${converted(id)}.partial`), (converting) => converting);
    service.child.process.kill('SIGTERM');
    expect(await service.child.exited).toBe(0);
    expect(await importState(id)).toMatchObject({ status: 'processing', batches_committed: 0 });
    expect(existsSync(`${converted(id)}.partial`)).toBe(false);
    expect(existsSync(converted(id))).toBe(false);

    service = await startService();
    const done = await waitFor(() => importState(id), (s) => s.status !== 'processing' && s.status !== 'queued');
    expect(done).toEqual({ status: 'succeeded', batches_committed: ROWS / BATCH, rows_processed: ROWS, rows_inserted: ROWS });
    expect(await names('xlsx-sigterm')).toEqual(Array.from({ length: ROWS }, (_, i) => name(i)));
    service.child.process.kill('SIGTERM');
    expect(await service.child.exited).toBe(0);
  });
});
