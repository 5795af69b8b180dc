import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import type { PoolClient } from '../db/pool.ts';
import { SKU_PATTERN, type ProductField } from '../products/product-values.ts';
import { IMPORT_EVENTS_CHANNEL } from './import-queries.ts';
import type { EncodedBatch } from './batch-builder.ts';
import { STAGING_COLUMNS } from './row-encoder.ts';

export type BatchResult = {
  rows_processed: string;
  rows_inserted: string;
  rows_updated: string;
  rows_unchanged: string;
  rows_rejected: string;
  batches_committed: number;
};

const OPTIONAL_FIELDS = ['description', 'price', 'currency', 'quantity', 'category', 'status', 'updated_at'] as const;
const UNIQUE_VIOLATION = '23505';

/**
 * The temp staging table lives as long as the job's connection. It carries valid and rejected
 * records alike, so each batch is exactly two round trips: one COPY, then one multi-statement
 * query that upserts, records rejections, bumps counters and checkpoint, NOTIFYs and clears it.
 */
export async function createStagingTable(client: PoolClient): Promise<void> {
  // Batch commits need not wait for their WAL flush: a batch lost to a database crash takes its
  // checkpoint with it, so the job redoes it. The import's final commit (another connection)
  // is synchronous, and flushing it flushes every batch before it.
  await client.query(`
    set synchronous_commit = off;
    create temp table if not exists import_staging (
      line bigint not null,
      sku text, name text, description text, price numeric(14, 2), currency text,
      quantity integer, category text, status text, updated_at timestamptz,
      error_column text, error_message text, raw_values text[]
    );
    truncate import_staging`);
}

/** Undoes createStagingTable's session setting before the connection goes back to the pool. */
export async function releaseStagingSession(client: PoolClient): Promise<void> {
  await client.query('reset synchronous_commit; truncate import_staging');
}

/**
 * Builds the writer for one import. Columns the file does not have are left untouched on update
 * (and take their defaults on insert), so a file with only sku,name,status cannot wipe prices.
 */
export function createBatchWriter(
  client: PoolClient,
  target: { importId: string; tenantId: string; fields: ReadonlySet<ProductField> },
): (batch: EncodedBatch) => Promise<BatchResult> {
  const applyStatement = buildApplyStatement(target);
  return async (batch) => {
    await pipeline(
      Readable.from([batch.copy]),
      client.query(copyFrom(`copy import_staging (${STAGING_COLUMNS.join(', ')}) from stdin`)),
    );
    let results: { rows: BatchResult[] }[];
    try {
      results = (await client.query(applyStatement(batch, 'auto'))) as unknown as { rows: BatchResult[] }[];
    } catch (error) {
      // Another import of the tenant inserted one of these new skus meanwhile: the plain insert
      // collided, everything rolled back (the staged rows are still there), so upsert instead.
      if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
      results = (await client.query(applyStatement(batch, 'upsert'))) as unknown as { rows: BatchResult[] }[];
    }
    // results: [lock the import row, apply the batch, truncate staging]
    const counted = results[1]?.rows[0];
    if (!counted) throw new ImportNotProcessingError(target.importId);
    return counted;
  };
}

/** The import left 'processing' (cancelled or finished elsewhere): nothing of the batch was applied. */
export class ImportNotProcessingError extends Error {
  constructor(importId: string) {
    super(`import ${importId} is no longer processing; batch discarded`);
  }
}

/**
 * The statement that applies a staged batch. A batch none of whose skus can exist yet is written
 * with a plain INSERT, which costs about 60% of an INSERT … ON CONFLICT per row (measured: 3.4
 * against 5.5 ms per 1000 rows); any other batch is upserted. Either way rows are written in sku
 * order, so concurrent imports of one tenant touching the same skus queue instead of deadlocking.
 */
function buildApplyStatement(target: {
  importId: string;
  tenantId: string;
  fields: ReadonlySet<ProductField>;
}): (batch: EncodedBatch, mode: 'auto' | 'upsert') => string {
  // Only internal values are inlined (a uuid and an integer id, both checked here), never file content:
  // a multi-statement query cannot take bind parameters.
  if (!/^[0-9a-f-]{36}$/i.test(target.importId) || !/^\d+$/.test(target.tenantId)) {
    throw new Error('invalid import or tenant id');
  }
  const importId = `'${target.importId}'::uuid`;
  const tenant = target.tenantId;
  const present = OPTIONAL_FIELDS.filter((field) => field !== 'updated_at' && target.fields.has(field));
  const columns = ['sku', 'name', ...present];
  const updates = ['name', ...present].map((column) => `${column} = excluded.${column}`);
  // Only what the file holds is compared: a row whose values all equal the stored ones is left
  // alone (no new row version, no WAL) and counted as unchanged.
  const compared = ['name', ...present, ...(target.fields.has('updated_at') ? ['updated_at'] : [])];
  const stillProcessing = `exists (select 1 from imports where id = ${importId} and status = 'processing')`;
  const rowsToWrite = `
      select ${tenant}, ${columns.map((c) => `s.${c}`).join(', ')}, coalesce(s.updated_at, now()), ${importId}
      from import_staging s
      where s.error_message is null and ${stillProcessing}`;
  const into = `insert into products as p (tenant_id, ${columns.join(', ')}, updated_at, last_import_id)`;
  const int = (n: number) => String(Math.trunc(n));
  // One index range probe: no stored sku between the batch's lowest and highest means none of the
  // batch's skus exists (a sorted catalogue's first import). The bounds are inlined as literals so
  // the planner always probes (tenant_id, sku), never scans the tenant: they are skus, which
  // SKU_PATTERN limits to letters, digits, '-', '_' and '.', checked again here. A collation that
  // orders skus otherwise only costs the fallback (a unique violation, then an upsert).
  const anyExisting = (batch: EncodedBatch) => {
    const range = batch.skuRange;
    if (!range) return 'false';
    if (!SKU_PATTERN.test(range.lo) || !SKU_PATTERN.test(range.hi)) return 'true';
    return `exists (select 1 from products p where p.tenant_id = ${tenant} and p.sku between '${range.lo}' and '${range.hi}')`;
  };

  return (batch, mode) => `
    select id from imports where id = ${importId} and status = 'processing' for update;

    with any_existing as (
      select ${mode === 'upsert' ? 'true' : anyExisting(batch)} as yes
    ),
    inserted as (
      ${into} ${rowsToWrite} and not (select yes from any_existing)
      order by s.sku
      returning true as inserted
    ),
    upserted as (
      ${into} ${rowsToWrite} and (select yes from any_existing)
      order by s.sku
      on conflict (tenant_id, sku) do update set
        ${[...updates, 'updated_at = excluded.updated_at', 'last_import_id = excluded.last_import_id'].join(',\n        ')}
      where (${compared.map((c) => `p.${c}`).join(', ')}) is distinct from (${compared.map((c) => `excluded.${c}`).join(', ')})
      returning (xmax = 0) as inserted
    ),
    written as (
      select count(*) filter (where inserted) as inserted, count(*) filter (where not inserted) as updated, count(*) as total
      from (select inserted from inserted union all select inserted from upserted) w
    ),
    rejected as (
      insert into import_errors (import_id, line, column_name, message, raw_values)
      select ${importId}, s.line, s.error_column, s.error_message, s.raw_values
      from import_staging s
      where s.error_message is not null and ${stillProcessing}
      returning 1
    ),
    counted as (
      update imports set
        rows_processed = rows_processed + ${int(batch.processed)},
        rows_inserted = rows_inserted + (select inserted from written),
        rows_updated = rows_updated + (select updated from written) + ${int(batch.duplicates)},
        rows_unchanged = rows_unchanged + ${int(batch.validRows)} - (select total from written),
        rows_rejected = rows_rejected + (select count(*) from rejected),
        batches_committed = batches_committed + 1,
        checkpoint_byte = ${int(batch.checkpoint.byte)},
        checkpoint_line = ${int(batch.checkpoint.line)}
      where id = ${importId} and status = 'processing'
      returning id, tenant_id, rows_processed, rows_inserted, rows_updated, rows_unchanged, rows_rejected, batches_committed
    )
    select rows_processed, rows_inserted, rows_updated, rows_unchanged, rows_rejected, batches_committed,
      -- Delivered at commit, to every API process: small (ids and counters), one per batch.
      pg_notify('${IMPORT_EVENTS_CHANNEL}', json_build_object(
        'type', 'progress', 'importId', id, 'tenantId', tenant_id, 'batchesCommitted', batches_committed,
        'rowsProcessed', rows_processed, 'rowsInserted', rows_inserted, 'rowsUpdated', rows_updated,
        'rowsUnchanged', rows_unchanged, 'rowsRejected', rows_rejected)::text) as notified
    from counted;

    truncate import_staging;`;
}
