import type { Queryable } from '../db/pool.ts';
import { KEY_COLUMNS } from '../products/product-table.ts';
import type { ProductField } from '../products/product-values.ts';
import { upsertColumns } from './batch-writer.ts';
import type { ImportRow } from './import-queries.ts';

// The end of an atomic or dry-run import, whose rows waited in import_held_rows (batch-writer.ts).
// Both run on the transaction that marks the import succeeded (finish-import.ts), so the outcome,
// the counts and the products either all commit or none does. The held rows of a finished import
// are garbage: the job deletes them after that commit (as it deletes the uploaded file), which
// keeps the delete (~0.5 s at 500K rows) out of the time until the import is seen finished.

/**
 * The last step of an import whose rows were held (dry run or atomic), given the import as it is
 * when it ends (its applied mapping says which fields the file has); nothing for other imports.
 */
export async function settleHeldRows(
  db: Queryable,
  imp: Pick<ImportRow, 'id' | 'options' | 'mapping' | 'rows_held'>,
): Promise<void> {
  if (!imp.options.dry_run && !imp.options.atomic) return;
  const { rows } = await db.query<{ held: string }>('select count(*) as held from import_held_rows where last_import_id = $1', [imp.id]);
  if (Number(rows[0]!.held) !== Number(imp.rows_held)) throw new HeldRowsLostError(imp.id, Number(imp.rows_held), Number(rows[0]!.held));
  const fields = new Set(Object.values(imp.mapping ?? {}).filter((field): field is ProductField => field !== null));
  if (imp.options.dry_run) await countHeldRows(db, imp.id, fields);
  else await applyHeldRows(db, imp.id, fields);
}

/**
 * Atomic: writes the held rows into products as one upsert in sku order (new skus inserted,
 * changed ones updated, equal ones left alone), adds those counts to the import, deletes them.
 */
export async function applyHeldRows(db: Queryable, importId: string, fields: ReadonlySet<ProductField>): Promise<void> {
  // The held rows' sku order is their primary key's: read in its order, never sorted. The table is
  // filled by COPY during the import, often before autovacuum has analyzed it; without statistics
  // the planner chose a bitmap scan plus an external sort on disk (69 MB at 500K rows): the final
  // insert took 1.65 s instead of 1.06 s (EXPLAIN ANALYZE, embedded PostgreSQL 18).
  // `set local`: a failure rolls the transaction back, and the setting with it.
  await db.query('set local enable_sort = off');
  await writeHeldRows(db, importId, fields);
  await db.query('reset enable_sort');
}

async function writeHeldRows(db: Queryable, importId: string, fields: ReadonlySet<ProductField>): Promise<void> {
  const { columns, updated, compared } = upsertColumns(fields);
  if (await insertHeldRowsIfAllNew(db, importId, columns)) return;
  await db.query(
    `with upserted as (
       insert into products as p (${columns.join(', ')})
       select ${columns.map((c) => `h.${c}`).join(', ')}
       from import_held_rows h
       where h.last_import_id = $1
       order by h.sku
       on conflict (${KEY_COLUMNS.join(', ')}) do update set
         ${updated.map((c) => `${c} = excluded.${c}`).join(', ')}
       where (${compared.map((c) => `p.${c}`).join(', ')}) is distinct from (${compared.map((c) => `excluded.${c}`).join(', ')})
       returning (xmax = 0) as inserted
     ),
     counts as (
       select count(*) filter (where inserted) as inserted, count(*) filter (where not inserted) as updated, count(*) as total
       from upserted
     ),
     held as (select count(*) as rows from import_held_rows where last_import_id = $1)
     update imports set
       rows_inserted = rows_inserted + counts.inserted,
       rows_updated = rows_updated + counts.updated,
       rows_unchanged = rows_unchanged + held.rows - counts.total
     from counts, held
     where id = $1`,
    [importId],
  );
}

/**
 * When no stored sku of the tenant lies in the held skus' range (a first import of a catalogue),
 * a plain insert: no conflict handling, about a fifth faster at 500K rows. A sku inserted meanwhile
 * by another import makes it fail on the unique key: rolled back to the savepoint, and the caller
 * upserts instead, as a batch's direct COPY falls back to staging.
 */
async function insertHeldRowsIfAllNew(db: Queryable, importId: string, columns: string[]): Promise<boolean> {
  const { rows } = await db.query<{ stored: boolean }>(
    `with bounds as (
       select (select sku from import_held_rows where last_import_id = $1 order by sku limit 1) as lo,
              (select sku from import_held_rows where last_import_id = $1 order by sku desc limit 1) as hi,
              (select tenant_id from imports where id = $1) as tenant_id
     )
     select exists (select from products p, bounds b where p.tenant_id = b.tenant_id and p.sku between b.lo and b.hi) as stored`,
    [importId],
  );
  if (rows[0]!.stored) return false;
  await db.query('savepoint held_insert');
  try {
    const { rowCount } = await db.query(
      `insert into products (${columns.join(', ')})
       select ${columns.map((c) => `h.${c}`).join(', ')} from import_held_rows h where h.last_import_id = $1 order by h.sku`,
      [importId],
    );
    await db.query('update imports set rows_inserted = rows_inserted + $2 where id = $1', [importId, rowCount ?? 0]);
    await db.query('release savepoint held_insert');
    return true;
  } catch (error) {
    if ((error as { code?: string }).code !== '23505') throw error;
    await db.query('rollback to savepoint held_insert');
    return false;
  }
}

/** Dry run: counts what the held rows would insert, update or leave unchanged; writes nothing else. */
export async function countHeldRows(db: Queryable, importId: string, fields: ReadonlySet<ProductField>): Promise<void> {
  const { compared } = upsertColumns(fields);
  const same = `(${compared.map((c) => `p.${c}`).join(', ')}) is not distinct from (${compared.map((c) => `h.${c}`).join(', ')})`;
  await db.query(
    `with counts as (
       select count(*) filter (where p.sku is null) as inserted,
              count(*) filter (where p.sku is not null and not ${same}) as updated,
              count(*) filter (where p.sku is not null and ${same}) as unchanged
       from import_held_rows h
       left join products p on p.tenant_id = h.tenant_id and p.sku = h.sku
       where h.last_import_id = $1
     )
     update imports set
       rows_inserted = rows_inserted + counts.inserted,
       rows_updated = rows_updated + counts.updated,
       rows_unchanged = rows_unchanged + counts.unchanged
     from counts
     where id = $1`,
    [importId],
  );
}

/**
 * Fewer held rows than the import wrote: PostgreSQL crashed and emptied the unlogged table. The
 * import starts again from its first record (restartHeldImport); nothing reached products.
 */
export class HeldRowsLostError extends Error {
  constructor(importId: string, expected: number, found: number) {
    super(`import ${importId}: ${found} of ${expected} held rows left (PostgreSQL restarted); starting the import again`);
  }
}

export const HELD_ROWS_LOST_WARNING =
  'PostgreSQL restarted while this import held its rows; it started again from the first record';

/** Back to the first record: counters, checkpoint, rejected records and held rows cleared, in one transaction. */
export async function restartHeldImport(db: Queryable, importId: string): Promise<void> {
  await db.query(
    `with cleared as (delete from import_held_rows where last_import_id = $1),
     forgotten as (delete from import_errors where import_id = $1)
     update imports set
       rows_processed = 0, rows_inserted = 0, rows_updated = 0, rows_unchanged = 0, rows_rejected = 0, rows_held = 0,
       batches_committed = 0, checkpoint_byte = 0, checkpoint_line = 0,
       warnings = array_append(array_remove(warnings, $2), $2)
     where id = $1`,
    [importId, HELD_ROWS_LOST_WARNING],
  );
}

/** A failed or cancelled import's held rows: nothing of them reaches products. */
export async function deleteHeldRows(db: Queryable, importId: string): Promise<void> {
  await db.query('delete from import_held_rows where last_import_id = $1', [importId]);
}
