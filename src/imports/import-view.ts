import { z } from 'zod';
import { importSchemaDriftSchema } from '../alerts/alert-view.ts';
import { columnMappingSchema, importOptionsSchema } from './import-options.ts';
import type { ImportRow } from './import-queries.ts';

const count = z.number().int().nonnegative();
const time = z.iso.datetime();

/** An import as the API shows it (GET /v1/imports/:id, lists, and later progress events). */
export const importViewSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(['queued', 'processing', 'succeeded', 'failed', 'cancelled']),
    filename: z.string().nullable(),
    bytes: count,
    sha256: z.string().meta({ description: 'SHA-256 of the uploaded file, hex' }),
    rows_processed: count.meta({ description: 'CSV records read so far (valid or not), header excluded' }),
    rows_inserted: count,
    rows_updated: count.meta({ description: 'Existing skus changed, including repeats of a sku within the file' }),
    rows_unchanged: count.meta({ description: 'Existing skus whose values in the file equal the stored ones: not rewritten' }),
    rows_rejected: count.meta({ description: 'Records refused; see /errors' }),
    batches_committed: count,
    warnings: z.array(z.string()),
    options: importOptionsSchema,
    mapping: columnMappingSchema.nullable().meta({
      description: 'File column → field (null: ignored) as applied once the header was read; before that, as requested',
    }),
    encoding: z.string().nullable().meta({ description: 'The encoding the file was read in (utf-8, windows-1252 …): as sent, or as detected' }),
    delimiter: z.string().nullable().meta({ description: 'The column separator, once detected' }),
    error: z.string().nullable().meta({ description: 'Why the import failed, for a person to act on' }),
    source: z.string().nullable().meta({ description: 'The supplier or feed (upload option source), or null' }),
    schema_drift: importSchemaDriftSchema.nullable().meta({
      description: 'Set when the import ended with columns that differ from its source’s previous successful import (also in warnings)',
    }),
    created_at: time,
    started_at: time.nullable(),
    finished_at: time.nullable(),
  })
  .meta({ id: 'Import' });

export type ImportView = z.infer<typeof importViewSchema>;

export function toImportView(row: ImportRow): ImportView {
  return {
    id: row.id,
    status: row.status,
    filename: row.filename,
    bytes: Number(row.bytes),
    sha256: row.sha256,
    rows_processed: Number(row.rows_processed),
    rows_inserted: Number(row.rows_inserted),
    rows_updated: Number(row.rows_updated),
    rows_unchanged: Number(row.rows_unchanged),
    rows_rejected: Number(row.rows_rejected),
    batches_committed: row.batches_committed,
    warnings: row.warnings,
    options: row.options,
    mapping: row.mapping,
    encoding: row.encoding,
    delimiter: row.delimiter,
    error: row.error,
    source: row.source,
    schema_drift: row.schema_drift,
    created_at: row.created_at.toISOString(),
    started_at: row.started_at?.toISOString() ?? null,
    finished_at: row.finished_at?.toISOString() ?? null,
  };
}
