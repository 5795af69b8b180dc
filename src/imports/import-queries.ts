import type { Queryable } from '../db/pool.ts';
import type { ColumnMapping, ImportOptions } from './import-options.ts';
import { IMPORT_EVENTS_CHANNEL, notifyPayloadSql } from '../events/live-events.ts';
import type { ImportSchemaDrift } from '../alerts/alert-view.ts';
import type { TraceCarrier } from '../tracing/spans.ts';
import { jobPrioritySql } from './fair-share.ts';

export const IMPORT_TASK = 'import_products_csv';

export type ImportStatus = 'queued' | 'processing' | 'succeeded' | 'failed' | 'cancelled';

export type ImportRow = {
  id: string;
  tenant_id: string;
  status: ImportStatus;
  filename: string | null;
  file_path: string;
  bytes: string;
  sha256: string;
  rows_processed: string;
  rows_inserted: string;
  rows_updated: string;
  rows_unchanged: string;
  rows_rejected: string;
  /** Rows an atomic or dry-run import has put in import_held_rows (checked when it ends). */
  rows_held: string;
  batches_committed: number;
  header: string[] | null;
  warnings: string[];
  error: string | null;
  checkpoint_byte: string;
  checkpoint_line: string;
  options: ImportOptions;
  mapping: ColumnMapping | null;
  encoding: string | null;
  delimiter: string | null;
  file_format: 'csv' | 'xlsx';
  /** source=NAME of the upload: the supplier or feed, compared with its previous successful import. */
  source: string | null;
  /** The mapping as the upload asked for it (its own over its template's); `mapping` becomes the applied one. */
  requested_mapping: ColumnMapping | null;
  /** What the drift check found when the import ended (src/alerts/check-schema-drift.ts). */
  schema_drift: ImportSchemaDrift | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
};

export async function insertImport(
  db: Queryable,
  input: {
    id: string;
    tenantId: string;
    apiKeyId: string | null;
    filename: string | null;
    filePath: string;
    bytes: number;
    sha256: string;
    options: ImportOptions;
    mapping: ColumnMapping | null;
    encoding: string;
    fileFormat: 'csv' | 'xlsx';
    /** What the upload found (a file read as Windows-1252); the job's header warnings are added after them. */
    warnings?: string[];
    source?: string | null;
  },
): Promise<ImportRow> {
  const { rows } = await db.query<ImportRow>(
    `insert into imports (id, tenant_id, api_key_id, filename, file_path, bytes, sha256, options, mapping, encoding, file_format, warnings,
                          source, requested_mapping)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $9)
     returning *`,
    [
      input.id, input.tenantId, input.apiKeyId, input.filename, input.filePath, input.bytes, input.sha256,
      input.options, input.mapping, input.encoding, input.fileFormat, input.warnings ?? [], input.source ?? null,
    ],
  );
  return rows[0]!;
}

/**
 * Enqueued on the caller's client, so the job exists exactly when the import row does. `trace`: the
 * span the job's spans are children of (the upload request's), kept in the payload; none when off.
 */
export async function addImportJob(db: Queryable, importId: string, trace?: TraceCarrier): Promise<void> {
  // Priority: the import's place among its tenant's unfinished imports (fair-share.ts).
  await db.query(
    `select graphile_worker.add_job($1, json_strip_nulls(json_build_object('importId', $2::uuid, 'trace', $4::json)), max_attempts := 10, job_key := $3,
       priority := ${jobPrioritySql('$2')})`,
    [IMPORT_TASK, importId, `import:${importId}`, trace ? JSON.stringify(trace) : null],
  );
}

export async function findImport(db: Queryable, tenantId: string, id: string): Promise<ImportRow | undefined> {
  const { rows } = await db.query<ImportRow>('select * from imports where id = $1 and tenant_id = $2', [id, tenantId]);
  return rows[0];
}

export async function findImportById(db: Queryable, id: string): Promise<ImportRow | undefined> {
  const { rows } = await db.query<ImportRow>('select * from imports where id = $1', [id]);
  return rows[0];
}

/** A listed import with its exact created_at as text (microseconds and offset): a Date keeps only milliseconds. */
export type ListedImportRow = ImportRow & { created_at_exact: string };

/**
 * Newest first; the cursor is the (created_at, id) of the last item of the previous page, with
 * created_at as that item's created_at_exact, so rows sharing its millisecond are not skipped.
 */
export async function listImports(
  db: Queryable,
  tenantId: string,
  page: { limit: number; after?: { createdAt: string; id: string }; status?: ImportStatus; source?: string },
): Promise<ListedImportRow[]> {
  const { rows } = await db.query<ListedImportRow>(
    `select *, to_json(created_at) #>> '{}' as created_at_exact from imports
     where tenant_id = $1
       and ($2::timestamptz is null or (created_at, id) < ($2::timestamptz, $3::uuid))
       and ($5::text is null or status = $5)
       and ($6::text is null or source = $6)
     order by created_at desc, id desc
     limit $4`,
    [tenantId, page.after?.createdAt ?? null, page.after?.id ?? null, page.limit, page.status ?? null, page.source ?? null],
  );
  return rows;
}

/** Imports a tenant-wide stream shows: the unfinished ones, and those finished since `finishedSince`. */
export async function listWatchableImports(db: Queryable, tenantId: string, finishedSince?: Date): Promise<ImportRow[]> {
  const { rows } = await db.query<ImportRow>(
    `select * from imports
     where tenant_id = $1 and (status in ('queued', 'processing') or finished_at >= $2)
     order by created_at
     limit 1000`,
    [tenantId, finishedSince ?? null],
  );
  return rows;
}

/** queued → processing; a job re-run on a processing import keeps its start time and counters. */
export async function markImportProcessing(db: Queryable, id: string): Promise<ImportRow | undefined> {
  const { rows } = await db.query<ImportRow>(
    `update imports set status = 'processing', started_at = coalesce(started_at, now())
     where id = $1 and status in ('queued', 'processing')
     returning *`,
    [id],
  );
  return rows[0];
}

/** What reading the header decided: the header itself, the column separator, the applied mapping, warnings. */
export async function setImportHeader(
  db: Queryable,
  id: string,
  read: { header: string[]; delimiter: string; mapping: ColumnMapping; warnings: string[] },
): Promise<void> {
  // Appends to the upload's warnings; a re-run (continuation, retry) adds none it already added.
  await db.query('update imports set header = $2, delimiter = $3, mapping = $4, warnings = warnings || array(select w from unnest($5::text[]) w where w <> all (warnings)) where id = $1', [
    id,
    read.header,
    read.delimiter,
    read.mapping,
    read.warnings,
  ]);
}

/**
 * The header as read, before its columns are mapped: an import that then fails (a required column
 * missing, a mapping naming a column the file lacks) still says what its columns were, so its
 * source's drift check can compare them.
 */
export async function recordImportHeader(db: Queryable, id: string, header: string[]): Promise<void> {
  await db.query('update imports set header = $2 where id = $1 and header is distinct from $2', [id, header]);
}

/**
 * The source's last succeeded import other than `exceptId`, dry runs left out (they change no
 * product): the baseline an ending import of that source is compared with.
 */
export async function findPreviousSucceededImport(
  db: Queryable,
  scope: { tenantId: string; source: string; exceptId: string },
): Promise<ImportRow | undefined> {
  const { rows } = await db.query<ImportRow>(
    `select * from imports
     where tenant_id = $1 and source = $2 and status = 'succeeded' and id <> $3
       and not coalesce((options ->> 'dry_run')::boolean, false)
     order by finished_at desc, id desc
     limit 1`,
    [scope.tenantId, scope.source, scope.exceptId],
  );
  return rows[0];
}

/** Records what the drift check found, and its warning, on the import (in the finishing transaction). */
export async function setImportSchemaDrift(
  db: Queryable,
  id: string,
  found: { drift: ImportSchemaDrift; warning: string },
): Promise<ImportRow> {
  const { rows } = await db.query<ImportRow>(
    `update imports set schema_drift = $2,
       warnings = case when $3 = any (warnings) then warnings else warnings || $3 end
     where id = $1
     returning *`,
    [id, found.drift, found.warning],
  );
  return rows[0]!;
}

/** Locks the import row for the rest of the transaction and says its status (undefined: no such import). */
export async function lockImportStatus(db: Queryable, id: string): Promise<ImportStatus | undefined> {
  const { rows } = await db.query<{ status: ImportStatus }>('select status from imports where id = $1 for update', [id]);
  return rows[0]?.status;
}

/**
 * Sets the terminal status and tells listeners, in one statement (so one transaction). Only an
 * import in one of `from` ends, so an import ends once.
 */
export async function markImportFinished(
  db: Queryable,
  id: string,
  outcome: { status: 'succeeded' | 'failed' | 'cancelled'; error?: string },
  scope: { from: ImportStatus[]; tenantId?: string } = { from: ['processing'] },
): Promise<ImportRow | undefined> {
  const { rows } = await db.query<ImportRow>(
    `with finished as (
       update imports set status = $2, error = $3, finished_at = now()
       where id = $1 and status = any ($5::text[]) and ($6::bigint is null or tenant_id = $6)
       returning *
     )
     select finished.*, pg_notify($4, ${notifyPayloadSql('finished', {
       importId: 'finished.id',
       tenantId: 'finished.tenant_id',
       status: 'finished.status',
       batchesCommitted: 'finished.batches_committed',
     })})
     from finished`,
    [id, outcome.status, outcome.error ?? null, IMPORT_EVENTS_CHANNEL, scope.from, scope.tenantId ?? null],
  );
  return rows[0];
}

export type ImportErrorRow = { line: string; column_name: string | null; message: string; raw_values: string[] };

export async function listImportErrors(
  db: Queryable,
  importId: string,
  page: { limit: number; afterLine?: number },
): Promise<ImportErrorRow[]> {
  const { rows } = await db.query<ImportErrorRow>(
    `select line, column_name, message, raw_values from import_errors
     where import_id = $1 and line > $2
     order by line
     limit $3`,
    [importId, page.afterLine ?? 0, page.limit],
  );
  return rows;
}

/**
 * Claims an Idempotency-Key for a new import. Waits while another transaction holds the same key;
 * returns false when the key is taken (and not older than 24 h, which makes it free again).
 */
export async function claimIdempotencyKey(
  db: Queryable,
  claim: { tenantId: string; key: string; sha256: string; importId: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into idempotency_keys (tenant_id, key, sha256, import_id) values ($1, $2, $3, $4)
     on conflict (tenant_id, key) do update
       set sha256 = excluded.sha256, import_id = excluded.import_id, created_at = now()
       where idempotency_keys.created_at < now() - interval '24 hours'`,
    [claim.tenantId, claim.key, claim.sha256, claim.importId],
  );
  return rowCount === 1;
}

export async function findIdempotencyKey(
  db: Queryable,
  tenantId: string,
  key: string,
): Promise<{ sha256: string; import_id: string } | undefined> {
  const { rows } = await db.query<{ sha256: string; import_id: string }>(
    `select sha256, import_id from idempotency_keys
     where tenant_id = $1 and key = $2 and created_at >= now() - interval '24 hours'`,
    [tenantId, key],
  );
  return rows[0];
}
