import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_IMPORT_OPTIONS } from '../src/imports/import-options.ts';
import { insertImport } from '../src/imports/import-queries.ts';
import { HELD_ROWS_LOST_WARNING } from '../src/imports/settle-held-rows.ts';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

// Dry run and atomic imports hold their rows until the end (import_held_rows): a dry run then only
// counts, an atomic import writes everything in the transaction that marks it succeeded.

let service: TestService;
beforeAll(async () => {
  service = await startTestService({ BATCH_SIZE: '2' });
});
afterAll(() => service?.stop());

async function upload(key: string, csv: string, query = ''): Promise<ImportBody & { options: Record<string, unknown> }> {
  const response = await service.request(`/v1/imports?${query}`, { method: 'POST', key, body: csv, headers: { 'content-type': 'text/csv' } });
  expect(response.status).toBe(202);
  return (await service.waitForImport(key, (await readJson(response)).id)) as never;
}

const products = async (key: string) =>
  (
    await service.pool.query(
      `select p.sku, p.name, p.price::text, p.quantity, p.last_import_id from products p join api_keys k on k.tenant_id = p.tenant_id
       where k.key_hash = sha256(convert_to($1, 'UTF8')) order by p.sku`,
      [key],
    )
  ).rows;
const heldRows = async () => Number((await service.pool.query('select count(*) from import_held_rows')).rows[0].count);
const errorLines = async (key: string, id: string) =>
  (await readJson(await service.request(`/v1/imports/${id}/errors`, { key }))).items.map((e: { line: number }) => e.line);

const BASE = 'sku,name,price,quantity\nA-1,One,1.00,1\nA-2,Two,2.00,2\nA-3,Three,3.00,3\n';
// Unchanged, changed, new, rejected, and a sku repeated in a later batch (batches of two records).
const CHANGES = 'sku,name,price,quantity\nA-1,One,1.00,1\nA-2,Two,2.50,2\nA-4,Four,4.00,4\nA-5,Five,oops,5\nA-4,Four again,4.40,4\nA-3,Three,3.00,3\n';
const COUNTS = ['rows_processed', 'rows_inserted', 'rows_updated', 'rows_unchanged', 'rows_rejected', 'batches_committed'] as const;
const countsOf = (body: ImportBody) => Object.fromEntries(COUNTS.map((name) => [name, body[name]]));

describe('dry_run=true', () => {
  it('counts exactly what the real import then does, keeps the full error report, and changes no product', async () => {
    const { key } = await service.createTenant();
    await upload(key, BASE);
    const before = await products(key);

    const dry = await upload(key, CHANGES, 'dry_run=true');
    expect(dry.status).toBe('succeeded');
    expect(dry.options.dry_run).toBe(true);
    expect(await products(key)).toEqual(before);
    expect(await heldRows()).toBe(0);

    const real = await upload(key, CHANGES);
    expect(countsOf(dry)).toEqual(countsOf(real));
    expect(countsOf(real)).toEqual({
      rows_processed: 6, rows_inserted: 1, rows_updated: 2, rows_unchanged: 2, rows_rejected: 1, batches_committed: 3,
    });
    expect(await errorLines(key, dry.id)).toEqual([5]);
    expect(await errorLines(key, real.id)).toEqual([5]);
  });
});

describe('atomic=true', () => {
  it('writes nothing until the whole file is in, then all of it: the same products and counts as a plain import', async () => {
    const { key: atomicKey } = await service.createTenant();
    const { key: plainKey } = await service.createTenant();
    await upload(atomicKey, BASE);
    await upload(plainKey, BASE);
    const atomic = await upload(atomicKey, CHANGES, 'atomic=true');
    const plain = await upload(plainKey, CHANGES);
    expect(atomic.status).toBe('succeeded');
    expect(countsOf(atomic)).toEqual(countsOf(plain));
    const strip = (rows: { last_import_id: string | null }[]) => rows.map(({ last_import_id, ...rest }) => ({ ...rest, written: last_import_id !== null }));
    expect(strip(await products(atomicKey))).toEqual(strip(await products(plainKey)));
    expect(await heldRows()).toBe(0);
  });

  it('settles a first catalogue (nothing stored in its sku range, so a plain insert) with the counts and rows of a plain import', async () => {
    const { key } = await service.createTenant();
    const fresh = await upload(key, CHANGES, 'atomic=true');
    expect(countsOf(fresh)).toMatchObject({ rows_inserted: 4, rows_updated: 1, rows_unchanged: 0, rows_rejected: 1 });
    expect((await products(key)).map((p: { sku: string; price: string }) => [p.sku, p.price])).toEqual([
      ['A-1', '1.00'], ['A-2', '2.50'], ['A-3', '3.00'], ['A-4', '4.40'],
    ]);
    expect(await heldRows()).toBe(0);
  });

  it('leaves products exactly as before when it fails at 80% of the file', async () => {
    const { key } = await service.createTenant();
    await upload(key, BASE);
    const before = await products(key);
    const rows = Array.from({ length: 10 }, (_, i) => `B-${i},Item ${i},${i === 8 ? 'bad' : '9.99'},1`);
    const done = await upload(key, `sku,name,price,quantity\nA-1,Changed,7.00,7\n${rows.join('\n')}\n`, 'atomic=true&max_errors=0');
    expect(done).toMatchObject({ status: 'failed', rows_inserted: 0, rows_updated: 0, rows_rejected: 1 });
    expect(done.error).toMatch(/^Stopped: 1 records rejected, more than max_errors=0/);
    expect(done.rows_processed).toBeGreaterThanOrEqual(9);
    expect(await products(key)).toEqual(before);
    expect(await heldRows()).toBe(0);
  });
});

describe('atomic=true after PostgreSQL lost the held rows (a crash empties the unlogged table)', () => {
  it('notices at the end, starts again from the first record, and ends with the exact result', async () => {
    const { tenant, key } = await service.createTenant();
    await upload(key, BASE);
    const tenantId = (await service.pool.query('select id from tenants where name = $1', [tenant])).rows[0].id;
    // An atomic import whose whole file was read and held (checkpoint at its end, 6 rows held),
    // whose held rows are gone, as after a PostgreSQL crash: its job runs again.
    const id = randomUUID();
    const filePath = path.join(service.config.dataDir, 'uploads', `${id}.csv`);
    await mkdir(path.dirname(filePath), { recursive: true });
    await writeFile(filePath, CHANGES);
    await insertImport(service.pool, {
      id, tenantId, apiKeyId: null, filename: 'lost.csv', filePath, bytes: CHANGES.length, sha256: 'test', fileFormat: 'csv',
      encoding: 'utf-8', mapping: null, options: { ...DEFAULT_IMPORT_OPTIONS, atomic: true },
    });
    await service.pool.query(
      `update imports set status = 'processing', rows_processed = 6, rows_rejected = 1, rows_held = 4, batches_committed = 3,
         checkpoint_byte = $2, checkpoint_line = 8 where id = $1`,
      [id, Buffer.byteLength(CHANGES)],
    );
    await service.pool.query(`select graphile_worker.add_job('import_products_csv', json_build_object('importId', $1::uuid))`, [id]);

    const done = (await service.waitForImport(key, id)) as ImportBody;
    expect(done.status).toBe('succeeded');
    expect(countsOf(done)).toEqual({
      rows_processed: 6, rows_inserted: 1, rows_updated: 2, rows_unchanged: 2, rows_rejected: 1, batches_committed: 3,
    });
    expect(done.warnings).toContain(HELD_ROWS_LOST_WARNING);
    expect(await errorLines(key, id)).toEqual([5]);
    expect((await products(key)).map((p: { sku: string; price: string }) => [p.sku, p.price])).toEqual([
      ['A-1', '1.00'], ['A-2', '2.50'], ['A-3', '3.00'], ['A-4', '4.40'],
    ]);
    expect(await heldRows()).toBe(0);
  });
});
