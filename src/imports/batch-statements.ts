import { createHash } from 'node:crypto';
import { IMPORT_EVENTS_CHANNEL, notifyPayloadSql } from '../events/live-events.ts';
import { KEY_COLUMNS, WRITTEN_COLUMNS, type ProductColumnRole } from '../products/product-table.ts';
import { SKU_PATTERN, type ProductField } from '../products/product-values.ts';

// The SQL of a batch (batch-writer.ts runs it): the probe, the upsert of staged rows, and the
// statement that records the batch. Only internal values are inlined in SQL text (a uuid, an
// integer id, skus that match SKU_PATTERN); file content always travels as COPY data or as bind
// parameters.

/** Where an import's rows go (see WriteTarget in batch-writer.ts). */
type Target = { importId: string; tenantId: string; fields: ReadonlySet<ProductField>; hold?: boolean };

/** A named statement: parsed and planned once per connection, not once per batch. */
export function prepared(text: string): { name: string; text: string } {
  return { name: `lading_batch_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`, text };
}

// The staging table's columns: the COPY columns (row-encoder.ts), each product field of its type
// in products, so COPY parses (and refuses) values just as a COPY straight into products would.
// Its tenant and import columns stay text (never parsed: the upsert takes both from parameters).
export const STAGING_COLUMNS = WRITTEN_COLUMNS.map(
  (column) => `${column.name} ${column.role === 'tenant' || column.role === 'import' ? 'text' : column.type}`,
).join(', ');

// Staged columns the upsert does not take as they are, by role (product-table.ts): ids come from
// its parameters, and a file without updated_at (the stamp) leaves that column null in staging
// (now(), as an insert's default would).
const STAGED_VALUE: Partial<Record<ProductColumnRole, (column: string) => string>> = {
  tenant: () => '$2::bigint',
  import: () => '$1::uuid',
  stamp: (column) => `coalesce(s.${column}, now())`,
};

/**
 * Whether the import is still processing (held rows: the import row locked), and whether any stored sku of the tenant (or held row of
 * the import) lies between the batch's lowest and highest sku: one index range scan. The bounds
 * are literals so the planner always probes (tenant_id, sku) and never scans the tenant. Skus
 * compare in byte order (products.sku is collate "C"), the order the parser sorted them in.
 */
export function probeStatement(target: Target, range: { lo: string; hi: string } | null): string {
  const stored = target.hold
    ? `import_held_rows p where p.last_import_id = '${target.importId}'`
    : `products p where p.tenant_id = ${target.tenantId}`;
  const inRange = !range
    ? 'false'
    : !SKU_PATTERN.test(range.lo) || !SKU_PATTERN.test(range.hi)
      ? 'true'
      : `exists (select from ${stored} and p.sku between '${range.lo}' and '${range.hi}')`;
  // Held rows: the import row stays locked to the commit (see createBatchWriter).
  const lock = target.hold ? ' for update' : '';
  return `select status = 'processing' as processing, ${inRange} as existing from imports where id = '${target.importId}'${lock}`;
}

/**
 * Upserts the staged rows and counts them. Parameters: $1 import id, $2 tenant id. Columns the
 * file does not have are left untouched (a file with only sku,name,status cannot wipe prices),
 * and a row whose values all equal the stored ones is not rewritten (no new row version, no WAL)
 * but counted as unchanged (total − inserted − updated). Held rows new to the import are counted
 * when it ends (inserted or not depends on products then).
 */
export function upsertStatement(target: Target): string {
  const { upserted, columns, updated, compared } = upsertColumns(target.fields);
  return `
    with upserted as (
      insert into ${target.hold ? 'import_held_rows' : 'products'} as p (${columns.join(', ')})
      select ${upserted.map((c) => STAGED_VALUE[c.role]?.(c.name) ?? `s.${c.name}`).join(', ')}
      from import_staging s
      order by s.sku collate "C"
      on conflict (${target.hold ? 'last_import_id, sku' : KEY_COLUMNS.join(', ')}) do update set
        ${updated.map((c) => `${c} = excluded.${c}`).join(', ')}
      where (${compared.map((c) => `p.${c}`).join(', ')}) is distinct from (${compared.map((c) => `excluded.${c}`).join(', ')})
      returning (xmax = 0) as inserted
    )
    select ${target.hold ? '0' : 'count(*) filter (where inserted)'} as inserted, count(*) filter (where not inserted) as updated,
      count(*) as total, count(*) filter (where inserted) as held
    from upserted`;
}

/**
 * Records a batch whose rows are written: its rejections, the import's counters and checkpoint,
 * and one NOTIFY. Parameters: $1 import id, $2 records, $3 valid rows, $4 rows dropped as repeated
 * skus, $5 rejected records, $6 and $7 the checkpoint, $8 the rejected records as JSON, $9–$11
 * the rows inserted, updated and written (inserted, updated or held), $12 (held rows only) those newly held. No row when the
 * import is no longer processing (cancelled meanwhile): the caller then rolls back.
 */
export function finishStatement(target: Target): string {
  return `
    with rejected as (
      insert into import_errors (import_id, line, column_name, message, raw_values)
      select $1::uuid, e.line, e.column, e.message, e.values
      from json_to_recordset($8::json) as e(line bigint, "column" text, message text, "values" text[])
    ),
    counted as (
      update imports set
        rows_processed = rows_processed + $2::bigint,
        rows_inserted = rows_inserted + $9::bigint,
        rows_updated = rows_updated + $10::bigint + $4::bigint,
        rows_unchanged = rows_unchanged + $3::bigint - $11::bigint,
        rows_rejected = rows_rejected + $5::bigint,
        batches_committed = batches_committed + 1,${target.hold ? '\n        rows_held = rows_held + $12::bigint,' : ''}
        checkpoint_byte = $6::bigint,
        checkpoint_line = $7::bigint
      where id = $1::uuid and status = 'processing'
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
