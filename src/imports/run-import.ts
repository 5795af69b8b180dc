import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Pool, PoolClient } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import { describeProblems, productSchema, type ProductField } from '../products/product-schema.ts';
import { createBatchWriter, createStagingTable, ImportNotProcessingError, type Batch, type BatchResult } from './batch-writer.ts';
import { FileLevelError, mapHeader, type HeaderMapping } from './csv-header.ts';
import { finishImport } from './finish-import.ts';
import { markImportProcessing, setImportHeader, type ImportRow } from './import-queries.ts';
import { readCsvRecords, type CsvRecord } from './read-csv-records.ts';

const YIELD_EVERY_RECORDS = 200;

export type ImportDeps = { pool: Pool; logger: Logger; batchSize: number; publicBaseUrl: string };

/**
 * Loads one import's file into products. Safe to run again for the same import: a finished import
 * is left alone, and a re-run continues after the last committed batch (its checkpoint line).
 */
export async function runImport(deps: ImportDeps, importId: string, attempt: { isLast: boolean }): Promise<void> {
  const log = deps.logger.child({ importId });
  const started = await markImportProcessing(deps.pool, importId);
  if (!started) {
    log.info('import already finished; nothing to do');
    return;
  }
  try {
    if (!existsSync(started.file_path)) throw new FileLevelError('The uploaded file is no longer on the server');
    await loadFile(deps, started, log);
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

async function loadFile(deps: ImportDeps, imp: ImportRow, log: Logger): Promise<void> {
  const client = await deps.pool.connect();
  try {
    await createStagingTable(client);
    const records = readCsvRecords(imp.file_path);
    try {
      await loadRecords(deps, imp, client, records, log);
    } finally {
      await records.return(undefined); // closes the file whatever happened
    }
  } finally {
    client.release();
  }
}

async function loadRecords(
  deps: ImportDeps,
  imp: ImportRow,
  client: PoolClient,
  records: AsyncGenerator<CsvRecord[]>,
  log: Logger,
): Promise<void> {
    const resumeFromLine = Number(imp.checkpoint_line);
    const first = await records.next();
    const headerRecord = first.done ? undefined : first.value[0];
    if (!headerRecord) throw new FileLevelError('The file is empty: expected a header line with at least sku and name');
    const header = headerRecord.fields;
    if (header.every((name) => name.trim() === '')) {
      throw new FileLevelError('The file is empty: expected a header line with at least sku and name');
    }
    const mapping = mapHeader(header);
    if (resumeFromLine === 0) await setImportHeader(client, imp.id, header, mapping.warnings);
    else log.info({ resumeFromLine }, 'resuming after the last committed batch');

    const write = createBatchWriter(client, {
      importId: imp.id,
      tenantId: imp.tenant_id,
      fields: new Set(mapping.columns.keys()),
    });
    const pipeline = new BatchPipeline(write, log);
    let batch = emptyBatch();
    let sinceYield = 0;
    const addRecords = async (chunk: CsvRecord[]) => {
      for (const record of chunk) {
        // The worker shares the event loop with the API and live progress: hand it over now and
        // then so a batch's worth of validation never delays a notification by tens of ms.
        if (++sinceYield === YIELD_EVERY_RECORDS) {
          sinceYield = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (record.line < resumeFromLine) continue;
        addRecord(batch, record.fields, record.line, header.length, mapping);
        batch.checkpoint = { byte: record.endByte, line: record.nextLine };
        if (batch.processed >= deps.batchSize) {
          await pipeline.submit(batch);
          batch = emptyBatch();
        }
      }
    };
    try {
      await addRecords(first.value!.slice(1));
      for await (const chunk of records) await addRecords(chunk);
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
}

function emptyBatch(): Batch {
  return { rows: new Map(), rejected: [], processed: 0, duplicates: 0, checkpoint: { byte: 0, line: 0 } };
}

function addRecord(batch: Batch, fields: string[], line: number, width: number, mapping: HeaderMapping): void {
  batch.processed++;
  if (fields.length !== width) {
    batch.rejected.push({
      line,
      column: null,
      message: `has ${fields.length} field${fields.length === 1 ? '' : 's'} but the header has ${width}`,
      values: fields,
    });
    return;
  }
  const input: Partial<Record<ProductField, string>> = {};
  for (const [field, index] of mapping.columns) input[field] = fields[index];
  const parsed = productSchema.safeParse(input);
  if (!parsed.success) {
    batch.rejected.push({ line, ...describeProblems(parsed.error.issues), values: fields });
    return;
  }
  const sku = parsed.data.sku;
  if (batch.rows.delete(sku)) batch.duplicates++; // re-insert so the later line's position is kept
  batch.rows.set(sku, { line, product: parsed.data });
}

/**
 * Keeps one batch in flight on the database while the next is parsed: parsing and writing
 * overlap instead of taking turns. A failed write surfaces at the next submit or at drain.
 */
class BatchPipeline {
  private inFlight: Promise<BatchResult> | undefined;
  private readonly write: (batch: Batch) => Promise<BatchResult>;
  private readonly log: Logger;

  constructor(write: (batch: Batch) => Promise<BatchResult>, log: Logger) {
    this.write = write;
    this.log = log;
  }

  async submit(batch: Batch): Promise<void> {
    await this.drain();
    const pending = this.write(batch);
    pending.catch(() => {}); // observed by the next drain(); avoids an unhandled rejection meanwhile
    this.inFlight = pending;
  }

  async drain(): Promise<void> {
    if (!this.inFlight) return;
    const result = await this.inFlight;
    this.inFlight = undefined;
    this.log.debug({ batch: result.batches_committed, rowsProcessed: Number(result.rows_processed) }, 'batch committed');
  }
}
