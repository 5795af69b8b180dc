import { createHash } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { PoolClient } from '../db/pool.ts';
import { isUuid } from '../db/is-uuid.ts';
import { KEY_COLUMNS, WRITTEN_COLUMNS, type ProductColumnRole } from '../products/product-table.ts';
import { SKU_PATTERN, type ProductField } from '../products/product-values.ts';
import type { EncodedBatch } from './batch-builder.ts';
import { IMPORT_EVENTS_CHANNEL, notifyPayloadSql } from '../events/live-events.ts';
import { copyColumns } from './row-encoder.ts';

export type BatchResult = {
  rows_processed: string;
  rows_inserted: string;
  rows_updated: string;
  rows_unchanged: string;
  rows_rejected: string;
  batches_committed: number;
};

const UNIQUE_VIOLATION = '23505';
// Staged columns the upsert does not take as they are, by role (product-table.ts): ids come from
// its parameters, and a file without updated_at (the stamp) leaves that column null in staging
// (now(), as an insert's default would).
const STAGED_VALUE: Partial<Record<ProductColumnRole, (column: string) => string>> = {
  tenant: () => '$9::bigint',
  import: () => '$1::uuid',
  stamp: (column) => `coalesce(s.${column}, now())`,
};
// The staging table's columns: the COPY columns (row-encoder.ts), each product field of its type
// in products, so COPY parses (and refuses) values just as a COPY straight into products would.
const STAGING_COLUMNS = WRITTEN_COLUMNS.map(
  (column) => `${column.name} ${column.role === 'tenant' || column.role === 'import' ? 'text' : column.type}`,
).join(', ');

/**
 * Sets up the job's connection. Batch commits need not wait for their WAL flush: a batch lost to
 * a database crash takes its checkpoint with it, so the job redoes it; the import's final commit
 * (on another connection) is synchronous, and flushing it flushes every batch before it.
 * The staging table empties itself at each commit, and only in transactions that used it. Its
 * tenant and import columns stay text (never parsed: the upsert takes both from its parameters).
 */
export async function prepareWriterSession(client: PoolClient): Promise<void> {
  await client.query(`
    set synchronous_commit = off;
    create temp table if not exists import_staging (${STAGING_COLUMNS}) on commit delete rows`);
}

/** Undoes prepareWriterSession's setting before the connection goes back to the pool. */
export async function releaseWriterSession(client: PoolClient): Promise<void> {
  await client.query('reset synchronous_commit');
}

/** The import left 'processing' (cancelled or finished elsewhere): nothing of the batch was applied. */
export class ImportNotProcessingError extends Error {
  constructor(importId: string) {
    super(`import ${importId} is no longer processing; batch discarded`);
  }
}

/**
 * Where an import's rows go. `hold`: an atomic or dry-run import's rows wait in import_held_rows
 * (settle-held-rows.ts decides their fate when the import ends); in the meantime only repeats of
 * a sku already held are counted (as updated or unchanged), the rest when the import ends.
 */
export type WriteTarget = { importId: string; tenantId: string; fields: ReadonlySet<ProductField>; hold?: boolean };

/**
 * Builds the writer for one import. Each batch is one transaction of four round trips:
 *  1. lock the import row (a cancel waits, or wins and the batch is dropped) and probe whether any
 *     stored sku of the tenant lies between the batch's lowest and highest sku;
 *  2. COPY the rows: straight into products when none can exist yet (a first import of a
 *     catalogue: as fast as a bare COPY), otherwise into the staging table;
 *  3. one prepared statement: upsert from staging (when staged), record rejections, bump counters
 *     and checkpoint, NOTIFY;
 *  4. COMMIT.
 * Rows arrive in sku order, so writers of one tenant lock rows in the same order and queue instead
 * of deadlocking. A direct COPY that meets a sku another import inserted meanwhile (unique
 * violation) rolls back and the batch goes through staging.
 */
export function createBatchWriter(
  client: PoolClient,
  target: WriteTarget,
): (batch: EncodedBatch) => Promise<BatchResult> {
  // Only internal values are inlined in SQL text (a uuid, an integer id, skus that match
  // SKU_PATTERN); file content always travels as COPY data or as bind parameters.
  if (!isUuid(target.importId) || !/^\d+$/.test(target.tenantId)) throw new Error('invalid import or tenant id');
  const columnList = copyColumns(target.fields.has('updated_at'));
  const finishInserted = prepared(buildFinishStatement(target, 'inserted'));
  const finishStaged = prepared(buildFinishStatement(target, 'staged'));

  async function write(batch: EncodedBatch, direct: boolean): Promise<BatchResult> {
    try {
      const [, lock] = (await client.query(`begin; ${lockAndProbe(target, batch)}`)) as unknown as {
        rows: { processing: boolean; existing: boolean }[];
      }[];
      const state = lock?.rows[0];
      if (!state?.processing) throw new ImportNotProcessingError(target.importId);
      const intoProducts = direct && !state.existing;
      if (batch.copy.byteLength > 0) {
        const table = !intoProducts ? 'import_staging' : target.hold ? 'import_held_rows' : 'products';
        const copy = client.query(copyFrom(`copy ${table} (${columnList}) from stdin`));
        copy.end(batch.copy);
        await finished(copy);
      }
      const finish = intoProducts ? finishInserted : finishStaged;
      const { rows } = await client.query<BatchResult>({
        ...finish,
        values: [
          target.importId, batch.processed, batch.validRows, batch.duplicates, batch.rejected.length,
          batch.checkpoint.byte, batch.checkpoint.line, JSON.stringify(batch.rejected),
          ...(intoProducts ? [] : [target.tenantId]),
        ],
      });
      await client.query('commit');
      return rows[0]!;
    } catch (error) {
      // The session must leave the failed transaction; if even that fails the connection is
      // broken and the pool discards it. Either way the original error is the one to report.
      await client.query('rollback').catch(() => {});
      throw error;
    }
  }

  return async (batch) => {
    try {
      return await write(batch, true);
    } catch (error) {
      if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
      return await write(batch, false);
    }
  };
}

/** A named statement: parsed and planned once per connection, not once per batch. */
function prepared(text: string): { name: string; text: string } {
  return { name: `lading_batch_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text };
}

/**
 * Locks the import row and probes the batch's sku range with one index range scan. The bounds are
 * literals so the planner always probes (tenant_id, sku) and never scans the tenant. Skus compare
 * in byte order (products.sku is collate "C"), the order the parser sorted them in.
 */
function lockAndProbe(target: WriteTarget, batch: EncodedBatch): string {
  const range = batch.skuRange;
  const stored = target.hold
    ? `import_held_rows p where p.last_import_id = '${target.importId}'`
    : `products p where p.tenant_id = ${target.tenantId}`;
  const inRange = !range
    ? 'false'
    : !SKU_PATTERN.test(range.lo) || !SKU_PATTERN.test(range.hi)
      ? 'true'
      : `exists (select from ${stored} and p.sku between '${range.lo}' and '${range.hi}')`;
  return `select status = 'processing' as processing, ${inRange} as existing from imports where id = '${target.importId}' for update`;
}

/**
 * The statement that ends a batch. Parameters: $1 import id, $2 records, $3 valid rows, $4 rows
 * dropped as repeated skus, $5 rejected records, $6 and $7 the checkpoint, $8 the rejected
 * records as JSON, $9 the tenant id (used by the staged variant only). When the rows were staged it upserts them first: columns the file does not
 * have are left untouched (a file with only sku,name,status cannot wipe prices), and a row whose
 * values all equal the stored ones is not rewritten (no new row version, no WAL) but counted as
 * unchanged.
 */
function buildFinishStatement(target: WriteTarget, rows: 'inserted' | 'staged'): string {
  const { upserted, columns, updated, compared } = upsertColumns(target.fields);
  // Held rows new to the import are counted when it ends (inserted or not depends on products then).
  const newRows = target.hold ? '0::bigint' : '$3::bigint';
  const written =
    rows === 'inserted'
      ? `written as (select ${newRows} as inserted, 0::bigint as updated, $3::bigint as total, $3::bigint as held)`
      : `upserted as (
      insert into ${target.hold ? 'import_held_rows' : 'products'} as p (${columns.join(', ')})
      select ${upserted.map((c) => STAGED_VALUE[c.role]?.(c.name) ?? `s.${c.name}`).join(', ')}
      from import_staging s
      order by s.sku collate "C"
      on conflict (${target.hold ? 'last_import_id, sku' : KEY_COLUMNS.join(', ')}) do update set
        ${updated.map((c) => `${c} = excluded.${c}`).join(', ')}
      where (${compared.map((c) => `p.${c}`).join(', ')}) is distinct from (${compared.map((c) => `excluded.${c}`).join(', ')})
      returning (xmax = 0) as inserted
    ),
    written as (
      select ${target.hold ? '0::bigint' : 'count(*) filter (where inserted)'} as inserted,
        count(*) filter (where not inserted) as updated, count(*) as total, count(*) filter (where inserted) as held
      from upserted
    )`;
  return `
    with ${written},
    rejected as (
      insert into import_errors (import_id, line, column_name, message, raw_values)
      select $1::uuid, e.line, e.column, e.message, e.values
      from json_to_recordset($8::json) as e(line bigint, "column" text, message text, "values" text[])
    ),
    counted as (
      update imports set
        rows_processed = rows_processed + $2::bigint,
        rows_inserted = rows_inserted + (select inserted from written),
        rows_updated = rows_updated + (select updated from written) + $4::bigint,
        rows_unchanged = rows_unchanged + $3::bigint - (select total from written),
        rows_rejected = rows_rejected + $5::bigint,
        batches_committed = batches_committed + 1,${target.hold ? '\n        rows_held = rows_held + (select held from written),' : ''}
        checkpoint_byte = $6::bigint,
        checkpoint_line = $7::bigint
      where id = $1::uuid
      returning id, tenant_id, rows_processed, rows_inserted, rows_updated, rows_unchanged, rows_rejected, batches_committed
    )
    select rows_processed, rows_inserted, rows_updated, rows_unchanged, rows_rejected, batches_committed,
      -- Delivered at commit, to every API process: small (ids and counters), one per batch.
      pg_notify('${IMPORT_EVENTS_CHANNEL}', ${notifyPayloadSql('progress', {
        importId: 'id',
        tenantId: 'tenant_id',
        batchesCommitted: 'batches_committed',
        rowsProcessed: 'rows_processed',
        rowsInserted: 'rows_inserted',
        rowsUpdated: 'rows_updated',
        rowsUnchanged: 'rows_unchanged',
        rowsRejected: 'rows_rejected',
      })}) as notified
    from counted`;
}

/**
 * The columns an upsert of this file's rows writes (the fields it has, plus ids and stamp), those
 * it updates on a conflict, and those compared to tell a change from an unchanged row.
 */
export function upsertColumns(fields: ReadonlySet<ProductField>) {
  const has = (column: { name: string }) => fields.has(column.name as ProductField);
  const upserted = WRITTEN_COLUMNS.filter((column) => column.role !== 'optional' || has(column));
  const columns = upserted.map((column) => column.name);
  const updated = upserted.filter((column) => !column.key).map((column) => column.name);
  const compared = upserted
    .filter((column) => !column.key && column.role !== 'import' && (column.role === 'required' || has(column)))
    .map((column) => column.name);
  return { upserted, columns, updated, compared };
}
