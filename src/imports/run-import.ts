import { existsSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import type { Pool, PoolClient } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import { addRecord, BatchPipeline, emptyBatch } from './batch-pipeline.ts';
import { createBatchWriter, createStagingTable, ImportNotProcessingError, releaseStagingSession } from './batch-writer.ts';
import { describeDelimiter, detectDelimiter, FileLevelError, mapHeader } from './csv-header.ts';
import { finishImport } from './finish-import.ts';
import { addImportJob, findImportById, markImportProcessing, setImportHeader, type ImportRow } from './import-queries.ts';
import { readCsvRecords, type CsvRecord, type ReadOptions } from './read-csv-records.ts';
import { planRow } from './row-encoder.ts';

/** The worker shares the event loop with the API and live progress: it hands it over this often. */
const YIELD_EVERY_RECORDS = 50;

export type ImportLimits = { maxFieldSize: number; maxColumns: number; maxRecords: number };

export type ImportDeps = {
  pool: Pool;
  logger: Logger;
  batchSize: number;
  publicBaseUrl: string;
  limits: ImportLimits;
  /** A job stops at the next batch boundary after this long and re-enqueues its continuation. */
  jobTimeBudgetMs: number;
  /** Aborted on shutdown: the job stops at the next batch boundary the same way. */
  shutdownSignal: AbortSignal;
};

type Outcome = 'finished' | 'paused';

/**
 * Loads one import's file into products. Safe to run again: a finished import is left alone, and
 * an unfinished one continues from its checkpoint (the byte and line after its last committed
 * batch). A run that exceeds its time budget, or is asked to stop, commits what it has, enqueues
 * its continuation and returns, so no job holds its lock for long and imports interleave fairly.
 */
export async function runImport(deps: ImportDeps, importId: string, attempt: { isLast: boolean }): Promise<void> {
  const log = deps.logger.child({ importId });
  const started = await markImportProcessing(deps.pool, importId);
  if (!started) {
    // Finished already, or cancelled before it started: only its file may be left to remove.
    const row = await findImportById(deps.pool, importId);
    if (row) await rm(row.file_path, { force: true });
    log.info({ status: row?.status }, 'import already finished; nothing to do');
    return;
  }
  try {
    if (!existsSync(started.file_path)) throw new FileLevelError('The uploaded file is no longer on the server');
    if ((await loadFile(deps, started, log)) === 'paused') {
      await addImportJob(deps.pool, importId);
      log.info('import paused at a batch boundary; continuation enqueued');
      return;
    }
    await finishImport(deps, importId, { status: 'succeeded' });
    log.info('import succeeded');
  } catch (error) {
    if (error instanceof ImportNotProcessingError) {
      log.info('import left processing while running (cancelled); stopped');
    } else if (error instanceof FileLevelError) {
      await finishImport(deps, importId, { status: 'failed', error: error.message });
      log.info({ reason: error.message }, 'import failed');
    } else if (attempt.isLast) {
      await finishImport(deps, importId, {
        status: 'failed',
        error: 'The import could not be completed because of an internal error; rows committed so far are kept',
      });
      log.error({ err: error }, 'import failed on its last attempt');
      return;
    } else {
      throw error; // graphile-worker retries with backoff; the checkpoint makes the retry continue
    }
  }
  await rm(started.file_path, { force: true });
}

async function loadFile(deps: ImportDeps, imp: ImportRow, log: Logger): Promise<Outcome> {
  const { delimiter, detected } = detectDelimiter(await readFirstLine(imp.file_path));
  const read: ReadOptions = { delimiter, maxRecordSize: deps.limits.maxFieldSize };
  const header = await readHeader(imp.file_path, read);
  if (!header || header.fields.every((name) => name.trim() === '')) {
    throw new FileLevelError('The file is empty: expected a header line with at least sku and name');
  }
  const mapping = mapHeader(header.fields, deps.limits);
  const warnings = detected && delimiter !== ',' ? [`Columns are separated by ${describeDelimiter(delimiter)}`] : [];
  await setImportHeader(deps.pool, imp.id, header.fields, [...warnings, ...mapping.warnings]);

  const resume = Number(imp.checkpoint_byte) > 0;
  if (resume) log.info({ byte: Number(imp.checkpoint_byte), line: Number(imp.checkpoint_line) }, 'resuming from checkpoint');
  const records = readCsvRecords(imp.file_path, {
    ...read,
    startByte: resume ? Number(imp.checkpoint_byte) : header.endByte,
    startLine: resume ? Number(imp.checkpoint_line) : header.nextLine,
  });
  const client = await deps.pool.connect();
  try {
    await createStagingTable(client);
    const write = createBatchWriter(client, { importId: imp.id, tenantId: imp.tenant_id, fields: new Set(mapping.columns.keys()) });
    const plan = planRow(mapping.columns);
    return await loadRecords(deps, imp, records, new BatchPipeline(write, log), (record, batch) =>
      addRecord(batch, record, header.fields.length, mapping, plan),
    );
  } finally {
    await records.return(undefined); // closes the file whatever happened
    await releaseStagingSession(client).then(
      () => client.release(),
      (error: unknown) => client.release(error as Error), // a broken session is not reused
    );
  }
}

async function loadRecords(
  deps: ImportDeps,
  imp: ImportRow,
  records: AsyncGenerator<CsvRecord[]>,
  pipeline: BatchPipeline,
  add: (record: CsvRecord, batch: ReturnType<typeof emptyBatch>) => void,
): Promise<Outcome> {
  const deadline = Date.now() + deps.jobTimeBudgetMs;
  let total = Number(imp.rows_processed);
  let batch = emptyBatch();
  let sinceYield = 0;
  try {
    for await (const chunk of records) {
      for (const record of chunk) {
        if (++sinceYield === YIELD_EVERY_RECORDS) {
          sinceYield = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (++total > deps.limits.maxRecords) {
          throw new FileLevelError(`The file has more than ${deps.limits.maxRecords} records (MAX_RECORDS); the first ones were loaded`);
        }
        add(record, batch);
        if (batch.processed >= deps.batchSize) {
          await pipeline.submit(batch);
          batch = emptyBatch();
          if (deps.shutdownSignal.aborted || Date.now() > deadline) {
            await pipeline.drain();
            return 'paused';
          }
        }
      }
    }
    if (batch.processed > 0) await pipeline.submit(batch);
  } catch (error) {
    if (error instanceof FileLevelError && batch.processed > 0) {
      // A broken record (say, an unclosed quote) ends the file; every record before it still
      // loads, whatever BATCH_SIZE is, so the outcome does not depend on batch boundaries.
      await pipeline.submit(batch);
      await pipeline.drain();
    } else {
      // The batch already sent is let finish (its rows stay counted) before the client goes
      // back to the pool; the loop's own error is the one that matters.
      await pipeline.drain().catch(() => {});
    }
    throw error;
  }
  await pipeline.drain();
  return 'finished';
}

async function readHeader(filePath: string, options: ReadOptions): Promise<CsvRecord | undefined> {
  const records = readCsvRecords(filePath, options);
  try {
    const first = await records.next();
    return first.done ? undefined : first.value[0];
  } finally {
    await records.return(undefined);
  }
}

/** The header line as text, for delimiter detection: the first 64 KiB up to the first line break. */
async function readFirstLine(filePath: string): Promise<string> {
  const file = await open(filePath);
  try {
    const { buffer, bytesRead } = await file.read({ buffer: Buffer.alloc(64 * 1024), position: 0 });
    const text = buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
    return text.split(/\r?\n/, 1)[0] ?? '';
  } finally {
    await file.close();
  }
}
