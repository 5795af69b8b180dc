import type { Queryable } from '../db/pool.ts';
import type { ColumnMapping } from '../imports/import-options.ts';
import { findPreviousSucceededImport, setImportSchemaDrift, type ImportRow } from '../imports/import-queries.ts';
import { resolveMapping } from '../mapping/resolve-mapping.ts';
import { enqueueSchemaDriftEvent } from '../webhooks/webhook-events.ts';
import { upsertOpenAlert } from './alert-queries.ts';
import { toAlertView, type ImportSchemaDrift, type SchemaDriftAlertView, type SchemaDriftDetails } from './alert-view.ts';
import { compareColumns, describeChanges, driftSignature, type Column } from './compare-columns.ts';

type Compared = ImportSchemaDrift['compared'];

/**
 * Schema drift, checked in the transaction that ends an import of a source (finish-import.ts):
 * its columns against those of the source's previous successful import (not a dry run). A
 * difference becomes a warning and `schema_drift` on the import, and raises the source's
 * schema_drift alert, or repeats the open one with the same signature; a newly raised alert also
 * queues the source.schema_drift webhook event. All of it commits with the import's end.
 *
 * Succeeded and failed imports are checked (a supplier renaming its sku column fails the import:
 * that is the drift most worth an alert), provided their header was read; only succeeded ones are
 * baselines. Cancelled imports are not checked. Returns the import as it is now.
 */
export async function checkSchemaDrift(db: Queryable, row: ImportRow, publicBaseUrl: string): Promise<ImportRow> {
  if (row.source === null || row.header === null || (row.status !== 'succeeded' && row.status !== 'failed')) return row;
  const baseline = await findPreviousSucceededImport(db, { tenantId: row.tenant_id, source: row.source, exceptId: row.id });
  if (!baseline?.header) return row;
  // With a mapping the user chose which columns matter: columns it leaves unused may come and go.
  const compared: Compared = isGiven(row.requested_mapping) ? 'mapped_columns' : 'header';
  const changes = compareColumns(columnsOf(baseline.header, baseline.mapping, compared), columnsOf(row.header, row.mapping, compared));
  if (!changes) return row;

  const what = compared === 'header' ? 'Columns' : 'Mapped columns';
  const message = `${what} changed since the last successful import of source "${row.source}" (${baseline.id}): ${describeChanges(changes)}`;
  const details: SchemaDriftDetails = {
    source: row.source,
    compared,
    baseline_import_id: baseline.id,
    ...changes,
    first_import_id: row.id, // kept from the first occurrence when the alert repeats
    latest_import_id: row.id,
  };
  const alert = await upsertOpenAlert(db, {
    tenantId: row.tenant_id,
    kind: 'schema_drift',
    signature: driftSignature(row.source, changes),
    title: `Schema drift in source "${row.source}"`,
    message,
    details,
  });
  const drift: ImportSchemaDrift = { compared, baseline_import_id: baseline.id, ...changes, alert_id: alert.id };
  const updated = await setImportSchemaDrift(db, row.id, { drift, warning: message });
  if (alert.opened) await enqueueSchemaDriftEvent(db, toAlertView(alert) as SchemaDriftAlertView, updated, publicBaseUrl);
  return updated;
}

function isGiven(mapping: ColumnMapping | null): boolean {
  return mapping !== null && Object.keys(mapping).length > 0;
}

/**
 * An import's columns with the field each fills. A finished import's `mapping` is the applied
 * one, naming every column, so resolving it again gives what the import did; an import that
 * failed before its mapping was applied still holds the requested mapping, which gives the best
 * reading of its columns (the same rules, problems aside).
 */
function columnsOf(header: string[], mapping: ColumnMapping | null, compared: Compared): Column[] {
  const { byColumn } = resolveMapping(header, mapping);
  const columns = header.map((name, index) => ({ name, field: byColumn[index]?.field ?? null }));
  return compared === 'header' ? columns : columns.filter((column) => column.field !== null);
}
