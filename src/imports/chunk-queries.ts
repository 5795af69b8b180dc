import type { Queryable } from '../db/pool.ts';
import type { EncodedBatch } from './batch-builder.ts';
import type { ChunkStart } from './chunk-boundaries.ts';
import { jobPrioritySql } from './fair-share.ts';

// The SQL of chunked imports (migrations/013_import_chunks.sql): one function per statement.

export const CHUNK_TASK = 'import_chunk';

export type ChunkRow = {
  chunk: number;
  start_byte: string;
  start_line: string;
  records_before: string;
  status: 'pending' | 'parsing' | 'staged' | 'merged';
  error: string | null;
};

/** Who parses a chunk: a chunk job of its own, or the import's job (which writes every batch). */
export type ChunkParser = 'chunk-job' | 'import-job';

/** At upload, in the import's transaction: chunk n (1, 2 …) starts at starts[n - 1]. */
export async function insertImportChunks(db: Queryable, importId: string, starts: ChunkStart[]): Promise<void> {
  if (starts.length === 0) return;
  await db.query(
    `insert into import_chunks (import_id, chunk, start_byte, start_line, records_before)
     select $1, s.chunk, s.byte, s.line, s.records_before
     from json_to_recordset($2::json) as s(chunk integer, byte bigint, line bigint, records_before bigint)`,
    [importId, JSON.stringify(starts.map((start, i) => ({ chunk: i + 1, byte: start.byte, line: start.line, records_before: start.recordsBefore })))],
  );
}

export async function listImportChunks(db: Queryable, importId: string): Promise<ChunkRow[]> {
  const { rows } = await db.query<ChunkRow>(
    'select chunk, start_byte, start_line, records_before, status, error from import_chunks where import_id = $1 order by chunk',
    [importId],
  );
  return rows;
}

/**
 * Enqueues a job per chunk no worker has taken yet, or for one chunk (`only`: a run of its job
 * stopped at shutdown). job_key: at most one waiting job per chunk, so enqueuing again is harmless.
 * Any worker process may run them, alongside the import's own job.
 */
export async function addChunkJobs(db: Queryable, importId: string, only?: number): Promise<void> {
  await db.query(
    `select graphile_worker.add_job($1, json_build_object('importId', $2::uuid, 'chunk', chunk), max_attempts := 5,
       job_key := 'import-chunk:' || $2 || ':' || chunk, priority := ${jobPrioritySql('$2')})
     from import_chunks where import_id = $2 and (case when $3::integer is null then status = 'pending' else chunk = $3 end)
     order by chunk`,
    [CHUNK_TASK, importId, only ?? null],
  );
}

/**
 * Takes a chunk to parse: one nobody has, or one this kind of parser had and dropped (a crashed
 * or paused run: one chunk job per chunk at a time, one import job per import). Its earlier
 * staged batches are removed in the same statement: the parse starts over.
 */
export async function claimChunk(db: Queryable, importId: string, chunk: number, by: ChunkParser): Promise<ChunkRow | undefined> {
  const { rows } = await db.query<ChunkRow>(
    `with claimed as (
       update import_chunks set status = 'parsing', parsed_by = $3
       where import_id = $1 and chunk = $2 and (status = 'pending' or (status = 'parsing' and parsed_by = $3))
       returning chunk, start_byte, start_line, records_before, status, error
     ), cleared as (
       delete from import_chunk_batches b using claimed where b.import_id = $1 and b.chunk = claimed.chunk
     )
     select * from claimed`,
    [importId, chunk, by],
  );
  return rows[0];
}

/**
 * Takes over a chunk its chunk job dropped: parsing, but no job of it running now (it failed and
 * waits for a retry, or ran out of attempts). The import's job then parses it itself; its staged
 * batches stay (the import's job has written some of them, and parses the same ones again).
 */
export async function takeOverChunk(db: Queryable, importId: string, chunk: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `update import_chunks set parsed_by = 'import-job'
     where import_id = $1 and chunk = $2 and status = 'parsing' and parsed_by = 'chunk-job'
       and not exists (select from graphile_worker._private_jobs j
                       where j.key = 'import-chunk:' || $1 || ':' || $2 and j.locked_at is not null)`,
    [importId, chunk],
  );
  return rowCount === 1;
}

/** Stores one parsed batch of a chunk; false when the import is no longer processing (cancelled, failed). */
export async function stageBatch(db: Queryable, importId: string, chunk: number, index: number, batch: EncodedBatch): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into import_chunk_batches (import_id, chunk, batch, copy, rejected, valid_rows, processed, duplicates,
       checkpoint_byte, checkpoint_line, sku_lo, sku_hi, shares_skus)
     select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
     where exists (select from imports where id = $1 and status = 'processing')`,
    [
      importId, chunk, index, Buffer.from(batch.copy.buffer, batch.copy.byteOffset, batch.copy.byteLength), JSON.stringify(batch.rejected),
      batch.validRows, batch.processed, batch.duplicates, batch.checkpoint.byte, batch.checkpoint.line,
      batch.skuRange?.lo ?? null, batch.skuRange?.hi ?? null, batch.sharesSkus,
    ],
  );
  return rowCount === 1;
}

/** Every batch of the chunk is staged; `error`: the file-level error that ended its records. */
export async function markChunkStaged(db: Queryable, importId: string, chunk: number, error: string | null): Promise<void> {
  await db.query(`update import_chunks set status = 'staged', error = $3 where import_id = $1 and chunk = $2 and status = 'parsing'`, [
    importId,
    chunk,
    error,
  ]);
}

export async function findChunk(db: Queryable, importId: string, chunk: number): Promise<ChunkRow | undefined> {
  const { rows } = await db.query<ChunkRow>(
    'select chunk, start_byte, start_line, records_before, status, error from import_chunks where import_id = $1 and chunk = $2',
    [importId, chunk],
  );
  return rows[0];
}

/** A staged batch, as the writer takes it; undefined past the chunk's last. */
export async function readStagedBatch(db: Queryable, importId: string, chunk: number, index: number): Promise<EncodedBatch | undefined> {
  const { rows } = await db.query<{
    copy: Buffer;
    rejected: EncodedBatch['rejected'];
    valid_rows: number;
    processed: number;
    duplicates: number;
    checkpoint_byte: string;
    checkpoint_line: string;
    sku_lo: string | null;
    sku_hi: string | null;
    shares_skus: boolean;
  }>('select * from import_chunk_batches where import_id = $1 and chunk = $2 and batch = $3', [importId, chunk, index]);
  const row = rows[0];
  if (!row) return undefined;
  return {
    copy: new Uint8Array(row.copy.buffer, row.copy.byteOffset, row.copy.byteLength),
    rejected: row.rejected,
    validRows: row.valid_rows,
    processed: row.processed,
    duplicates: row.duplicates,
    checkpoint: { byte: Number(row.checkpoint_byte), line: Number(row.checkpoint_line) },
    skuRange: row.sku_lo === null ? null : { lo: row.sku_lo, hi: row.sku_hi! },
    sharesSkus: row.shares_skus,
  };
}

/** Written (or skipped, the import having failed before it): its staged batches go. */
export async function markChunkMerged(db: Queryable, importId: string, chunk: number): Promise<void> {
  await db.query(`update import_chunks set status = 'merged' where import_id = $1 and chunk = $2`, [importId, chunk]);
  await db.query('delete from import_chunk_batches where import_id = $1 and chunk = $2', [importId, chunk]);
}

/** When the import has ended: nothing of its chunks is kept. */
export async function deleteImportChunks(db: Queryable, importId: string): Promise<void> {
  await db.query('delete from import_chunks where import_id = $1', [importId]);
}
