import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import type { PoolClient } from '../db/pool.ts';
import type { Product, ProductField } from '../products/product-schema.ts';
import { IMPORT_EVENTS_CHANNEL } from './import-queries.ts';

/** One batch as the job hands it over: valid rows (deduplicated by sku) and rejected records. */
export type Batch = {
  rows: Map<string, { line: number; product: Product }>;
  rejected: { line: number; column: string | null; message: string; values: string[] }[];
  /** Records in the batch, valid or not. */
  processed: number;
  /** Rows dropped because a later record of the same batch had the same sku (last one wins). */
  duplicates: number;
  checkpoint: { byte: number; line: number };
};

export type BatchResult = {
  rows_processed: string;
  rows_inserted: string;
  rows_updated: string;
  rows_rejected: string;
  batches_committed: number;
};

const OPTIONAL_FIELDS = ['description', 'price', 'currency', 'quantity', 'category', 'status', 'updated_at'] as const;
const STAGING_COLUMNS = ['line', 'sku', 'name', ...OPTIONAL_FIELDS, 'error_column', 'error_message', 'raw_values'];

/**
 * The temp staging table lives as long as the job's connection. It carries valid and rejected
 * records alike, so each batch is exactly two round trips: one COPY, then one multi-statement
 * query that upserts, records rejections, bumps counters and checkpoint, NOTIFYs and clears it.
 */
export async function createStagingTable(client: PoolClient): Promise<void> {
  await client.query(`
    create temp table if not exists import_staging (
      line bigint not null,
      sku text, name text, description text, price numeric(14, 2), currency text,
      quantity integer, category text, status text, updated_at timestamptz,
      error_column text, error_message text, raw_values text[]
    );
    truncate import_staging`);
}

/**
 * Builds the writer for one import. Columns the file does not have are left untouched on update
 * (and take their defaults on insert), so a file with only sku,name,status cannot wipe prices.
 */
export function createBatchWriter(
  client: PoolClient,
  target: { importId: string; tenantId: string; fields: ReadonlySet<ProductField> },
): (batch: Batch) => Promise<BatchResult> {
  const applyStatement = buildApplyStatement(target);
  return async (batch) => {
    await pipeline(
      Readable.from([encodeBatch(batch)]),
      client.query(copyFrom(`copy import_staging (${STAGING_COLUMNS.join(', ')}) from stdin`)),
    );
    const results = (await client.query(applyStatement(batch))) as unknown as { rows: BatchResult[] }[];
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

function buildApplyStatement(target: {
  importId: string;
  tenantId: string;
  fields: ReadonlySet<ProductField>;
}): (batch: Batch) => string {
  // Only internal values are inlined (a uuid and an integer id, both checked here), never file content:
  // a multi-statement query cannot take bind parameters.
  if (!/^[0-9a-f-]{36}$/i.test(target.importId) || !/^\d+$/.test(target.tenantId)) {
    throw new Error('invalid import or tenant id');
  }
  const importId = `'${target.importId}'::uuid`;
  const present = OPTIONAL_FIELDS.filter((field) => field !== 'updated_at' && target.fields.has(field));
  const insertColumns = ['sku', 'name', ...present];
  const updates = ['name', ...present].map((column) => `${column} = excluded.${column}`);
  const int = (n: number) => String(Math.trunc(n));
  return (batch) => `
    select id from imports where id = ${importId} and status = 'processing' for update;

    with upserted as (
      insert into products as p (tenant_id, ${insertColumns.join(', ')}, updated_at, last_import_id)
      select ${target.tenantId}, ${insertColumns.map((c) => `s.${c}`).join(', ')}, coalesce(s.updated_at, now()), ${importId}
      from import_staging s
      where s.error_message is null
        and exists (select 1 from imports where id = ${importId} and status = 'processing')
      -- Rows are locked in sku order, so concurrent imports of one tenant touching the same
      -- skus wait on each other instead of deadlocking.
      order by s.sku
      on conflict (tenant_id, sku) do update set
        ${[...updates, 'updated_at = excluded.updated_at', 'last_import_id = excluded.last_import_id'].join(',\n        ')}
      returning (xmax = 0) as inserted
    ),
    rejected as (
      insert into import_errors (import_id, line, column_name, message, raw_values)
      select ${importId}, s.line, s.error_column, s.error_message, s.raw_values
      from import_staging s
      where s.error_message is not null
        and exists (select 1 from imports where id = ${importId} and status = 'processing')
      returning 1
    ),
    counted as (
      update imports set
        rows_processed = rows_processed + ${int(batch.processed)},
        rows_inserted = rows_inserted + (select count(*) filter (where inserted) from upserted),
        rows_updated = rows_updated + (select count(*) filter (where not inserted) from upserted) + ${int(batch.duplicates)},
        rows_rejected = rows_rejected + (select count(*) from rejected),
        batches_committed = batches_committed + 1,
        checkpoint_byte = ${int(batch.checkpoint.byte)},
        checkpoint_line = ${int(batch.checkpoint.line)}
      where id = ${importId} and status = 'processing'
      returning id, tenant_id, rows_processed, rows_inserted, rows_updated, rows_rejected, batches_committed
    )
    select rows_processed, rows_inserted, rows_updated, rows_rejected, batches_committed,
      -- Delivered at commit, to every API process: small (ids and counters), one per batch.
      pg_notify('${IMPORT_EVENTS_CHANNEL}', json_build_object(
        'type', 'progress', 'importId', id, 'tenantId', tenant_id, 'batchesCommitted', batches_committed,
        'rowsProcessed', rows_processed, 'rowsInserted', rows_inserted, 'rowsUpdated', rows_updated,
        'rowsRejected', rows_rejected)::text) as notified
    from counted;

    truncate import_staging;`;
}

/** COPY text format: tab-separated, \N for null, backslash escapes for \\, tab, CR and LF. */
function encodeBatch(batch: Batch): string {
  let out = '';
  for (const { line, product } of batch.rows.values()) {
    out += `${line}\t${escape(product.sku)}\t${escape(product.name)}`;
    for (const field of OPTIONAL_FIELDS) out += `\t${escape(product[field])}`;
    out += '\t\\N\t\\N\t\\N\n';
  }
  for (const rejected of batch.rejected) {
    out += `${rejected.line}${'\t\\N'.repeat(2 + OPTIONAL_FIELDS.length)}\t${escape(rejected.column)}\t${escape(rejected.message)}\t${escape(toArrayLiteral(rejected.values))}\n`;
  }
  return out;
}

function escape(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  const text = String(value);
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : text;
}
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A text[] literal; NUL (which PostgreSQL text cannot hold) becomes U+FFFD in the kept raw values. */
function toArrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/\u0000/g, '\uFFFD').replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}
