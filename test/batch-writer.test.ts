import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BatchBuilder, type EncodedBatch } from '../src/imports/batch-builder.ts';
import { createBatchWriter, ImportNotProcessingError, prepareWriterSession, releaseWriterSession } from '../src/imports/batch-writer.ts';
import type { ProductField } from '../src/products/product-values.ts';
import { createTestDatabase } from './helpers/test-service.ts';

// The batch writer writes two batches of an import at once, on two connections, and commits them
// in order (batch-writer.ts). Its ordering and its waits are checked here, against a real
// PostgreSQL, on hand-built batches; the imports' own tests cover it end to end.

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;
let tenantId: string;
let clients: pg.PoolClient[];

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new pg.Pool({ connectionString: database.connectionString, max: 6 });
  const { rows } = await pool.query<{ id: string }>("insert into tenants (name) values ('writer') returning id");
  tenantId = rows[0]!.id;
});
afterAll(async () => {
  await pool?.end();
  await database?.drop();
});
beforeEach(async () => {
  clients = [await pool.connect(), await pool.connect()];
  for (const client of clients) await prepareWriterSession(client);
  await pool.query('delete from products');
  return async () => {
    for (const client of clients) {
      await releaseWriterSession(client).catch(() => {});
      client.release();
    }
  };
});

const COLUMNS = new Map<ProductField, number>([['sku', 0], ['name', 1], ['price', 2]]);

async function newImport(): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `insert into imports (id, tenant_id, file_path, bytes, sha256, status) values ($1, $2, '/nowhere', 0, '', 'processing')`,
    [id, tenantId],
  );
  return id;
}

/** One batch per list of [sku, price] rows, in the order given, as the parser thread would build them. */
function batchesOf(importId: string, ...lists: [string, string][][]): EncodedBatch[] {
  const builder = new BatchBuilder({ width: 3, columns: COLUMNS }, { tenantId, importId });
  let line = 2;
  return lists.map((rows) => {
    for (const [sku, price] of rows) {
      builder.add({ fields: [sku, `Name ${sku}`, price], line, nextLine: line + 1, endByte: line * 10, invalidUtf8: false });
      line++;
    }
    return builder.take((text) => new TextEncoder().encode(text));
  });
}

async function prices(): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ sku: string; price: string }>('select sku, price::text from products order by sku');
  return Object.fromEntries(rows.map((row) => [row.sku, row.price]));
}

async function seed(rows: [string, string][]): Promise<void> {
  for (const [sku, price] of rows) {
    await pool.query('insert into products (tenant_id, sku, name, price) values ($1, $2, $3, $4)', [tenantId, sku, `Name ${sku}`, price]);
  }
}

describe('the batch writer', () => {
  it('commits batches in file order, the later row of a sku winning, with counters that add up', async () => {
    const importId = await newImport();
    await seed([['A', '1.00'], ['C', '1.00']]);
    const write = createBatchWriter(clients, { importId, tenantId, fields: new Set(COLUMNS.keys()) });
    // The second batch shares sku A with the first (it must wait for it); the third does not.
    const [first, second, third] = batchesOf(importId, [['A', '2.00'], ['B', '2.00']], [['A', '3.00'], ['C', '3.00']], [['D', '4.00']]);
    expect([first!.sharesSkus, second!.sharesSkus, third!.sharesSkus]).toEqual([false, true, false]);
    const results = await Promise.all([write(first!), write(second!)]);
    results.push(await write(third!));
    expect(results.map((result) => result.batches_committed)).toEqual([1, 2, 3]);
    expect(results.map((result) => Number(result.rows_processed))).toEqual([2, 4, 5]);
    expect(await prices()).toEqual({ A: '3.00', B: '2.00', C: '3.00', D: '4.00' });
    const { rows } = await pool.query('select rows_inserted, rows_updated, checkpoint_line from imports where id = $1', [importId]);
    expect(rows[0]).toEqual({ rows_inserted: '2', rows_updated: '3', checkpoint_line: '7' });
  });

  it('after a batch that met stored rows, stages the next seven without probing, then probes and COPYs again', async () => {
    const importId = await newImport();
    await seed([['A', '1.00']]);
    const write = createBatchWriter(clients, { importId, tenantId, fields: new Set(COLUMNS.keys()) });
    // A meets the stored row; B to I are new skus, each in a batch of its own.
    const batches = batchesOf(importId, [['A', '2.00']], ...[...'BCDEFGHI'].map((sku): [string, string][] => [[sku, '3.00']]));
    const results = [];
    for (const batch of batches) results.push(await write(batch));
    expect(results.map((result) => result.path)).toEqual(['upsert', ...Array(7).fill('upsert'), 'copy']);
    expect(results.at(-1)).toMatchObject({ batches_committed: 9, rows_processed: '9', rows_inserted: '8', rows_updated: '1', rows_unchanged: '0' });
    expect(await prices()).toEqual({ A: '2.00', ...Object.fromEntries([...'BCDEFGHI'].map((sku) => [sku, '3.00'])) });
  });

  it('drops a batch written without a probe once its import is cancelled, at the statement that records it', async () => {
    const importId = await newImport();
    await seed([['A', '1.00']]);
    const write = createBatchWriter(clients, { importId, tenantId, fields: new Set(COLUMNS.keys()) });
    const [first, second] = batchesOf(importId, [['A', '2.00']], [['B', '2.00']]);
    expect(await write(first!)).toMatchObject({ path: 'upsert', batches_committed: 1 });
    await pool.query("update imports set status = 'cancelled' where id = $1", [importId]);
    await expect(write(second!)).rejects.toThrow(ImportNotProcessingError);
    expect(await prices()).toEqual({ A: '2.00' });
    const { rows } = await pool.query('select batches_committed, rows_processed from imports where id = $1', [importId]);
    expect(rows[0]).toEqual({ batches_committed: 1, rows_processed: '1' });
  });

  it('does not commit a batch whose predecessor failed, and a cancel drops the batch in flight', async () => {
    const importId = await newImport();
    await seed([['A', '1.00']]);
    const write = createBatchWriter(clients, { importId, tenantId, fields: new Set(COLUMNS.keys()) });
    const [first, second] = batchesOf(importId, [['A', '2.00']], [['B', '2.00']]);
    // Holding the first batch's row keeps it waiting while the import is cancelled.
    const holder = await pool.connect();
    try {
      await holder.query("begin; select from products where sku = 'A' for update");
      const pending = [write(first!), write(second!)];
      await pool.query("update imports set status = 'cancelled' where id = $1", [importId]);
      await holder.query('rollback');
      const outcomes = await Promise.allSettled(pending);
      expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? outcome.reason : outcome.value))).toEqual([
        expect.any(ImportNotProcessingError),
        expect.any(Error),
      ]);
    } finally {
      holder.release();
    }
    expect(await prices()).toEqual({ A: '1.00' });
    const { rows } = await pool.query('select batches_committed from imports where id = $1', [importId]);
    expect(rows[0]).toEqual({ batches_committed: 0 });
  });

  it('never holds rows of the next batch while the one before still takes rows: another transaction cannot deadlock them', async () => {
    // Batch 1 updates A and C, batch 2 updates B; another transaction holds C, then takes B. Had
    // batch 2 locked B while batch 1 waited for C, the other transaction would wait on batch 2,
    // batch 2 (for its commit) on batch 1, batch 1 on the other transaction: a cycle, half of it
    // outside PostgreSQL, so unseen. Batch 2 takes rows only once batch 1 has written its own.
    const importId = await newImport();
    await seed([['A', '1.00'], ['B', '1.00'], ['C', '1.00']]);
    const write = createBatchWriter(clients, { importId, tenantId, fields: new Set(COLUMNS.keys()) });
    const [first, second] = batchesOf(importId, [['A', '2.00'], ['C', '2.00']], [['B', '2.00']]);
    const other = await pool.connect();
    try {
      await other.query("begin; select from products where sku = 'C' for update");
      const pending = Promise.allSettled([write(first!), write(second!)]);
      await waitFor(async () => {
        const { rows } = await pool.query(
          "select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
        );
        return rows[0].waiting === 1; // batch 1, on C
      });
      await other.query("set local lock_timeout = '5s'; select from products where sku = 'B' for update");
      await other.query('rollback');
      const outcomes = await pending;
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled']);
    } finally {
      await other.query('rollback').catch(() => {});
      other.release();
    }
    expect(await prices()).toEqual({ A: '2.00', B: '2.00', C: '2.00' });
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
