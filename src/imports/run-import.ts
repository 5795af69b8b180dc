import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Pool, PoolClient } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import type { EncodedBatch } from './batch-builder.ts';
import { BatchPipeline } from './batch-pipeline.ts';
import { checkErrorPolicy } from './check-error-policy.ts';
import { convertedCsvPath, convertXlsxForImport, removeConvertedCsv } from './convert-xlsx.ts';
import { deleteHeldRows, HeldRowsLostError, restartHeldImport, settleHeldRows } from './settle-held-rows.ts';
import { createBatchWriter, ImportNotProcessingError, prepareWriterSession, releaseWriterSession } from './batch-writer.ts';
import { describeDelimiter, detectDelimiter, FileLevelError, mapHeader } from './csv-header.ts';
import { finishImport } from './finish-import.ts';
import { addImportJob, findImportById, markImportProcessing, recordImportHeader, setImportHeader, type ImportRow } from './import-queries.ts';
import { openBytes, readCsvRecords, type ByteSource, type CsvRecord, type ReadOptions } from './read-csv-records.ts';
import { startRecordParser } from './record-parser.ts';
import { addChunkJobs, deleteImportChunks, listImportChunks } from './chunk-queries.ts';
import { chunkedBatches, type BatchSource, type ParseRange } from './chunked-batches.ts';
import { CHECK_EVERY_MS, MIN_SLICE_MS, shouldYield } from './fair-share.ts';
import type { TraceCarrier } from '../tracing/spans.ts';
import type { ProductField } from '../products/product-values.ts';
import { countImportRows, countImportStages, countInProgress } from '../metrics/import-metrics.ts';
import { isS3Location, type Storage } from '../storage/storage.ts';

export type ImportLimits = { maxRecordSize: number; maxColumns: number; maxRecords: number };

/**
 * This run of the job: its last attempt or not, and the trace context from its payload (the upload
 * request's span), which a continuation carries on so every run of the import joins one trace.
 */
export type ImportAttempt = { isLast: boolean; trace?: TraceCarrier };

export type ImportDeps = {
  pool: Pool;
  /** Where uploads are (imports.file_path is a location in it). */
  storage: Storage;
  /** A local folder for what an import needs on disk: a workbook from S3 storage and its CSV. */
  workDir: string;
  logger: Logger;
  batchSize: number;
  publicBaseUrl: string;
  limits: ImportLimits;
  /** A job stops at the next batch boundary after this long and re-enqueues its continuation. */
  jobTimeBudgetMs: number;
  /** Aborted on shutdown: the job stops at the next batch boundary the same way. */
  shutdownSignal: AbortSignal;
  /** Where the parser thread keeps compiled code between imports (starts ~35 ms sooner). */
  compileCacheDir?: string;
};

type Outcome = 'finished' | 'paused';

/**
 * Loads one import's file into products. Safe to run again: a finished import is left alone, and
 * an unfinished one continues from its checkpoint (the byte and line after its last committed
 * batch). A run that exceeds its time budget, or is asked to stop, commits what it has, enqueues
 * its continuation and returns, so no job holds its lock for long and imports interleave fairly.
 */
export function runImport(deps: ImportDeps, importId: string, attempt: ImportAttempt): Promise<void> {
  return countInProgress(() => runImportJob(deps, importId, attempt));
}

async function runImportJob(deps: ImportDeps, importId: string, attempt: ImportAttempt): Promise<void> {
  const log = deps.logger.child({ importId });
  const started = await markImportProcessing(deps.pool, importId);
  if (!started) {
    // Finished already, or cancelled before it started: only its file may be left to remove.
    const row = await findImportById(deps.pool, importId);
    await deleteHeldRows(deps.pool, importId); // a run that ended it and stopped before its clean-up
    if (row) await removeFiles(deps, row);
    log.info({ status: row?.status }, 'import already finished; nothing to do');
    return;
  }
  try {
    if (!(await deps.storage.exists(started.file_path))) throw new FileLevelError('The uploaded file is no longer on the server');
    const rows = countImportRows(started);
    if ((await loadFile(deps, started, log, rows)) === 'paused') {
      await addImportJob(deps.pool, importId, attempt.trace);
      log.info('import paused at a batch boundary; continuation enqueued');
      return;
    }
    const ended = await finishImport(deps, importId, { status: 'succeeded' }, async (client) => {
      const row = await findImportById(client, importId);
      if (row) await settleHeldRows(client, row);
    });
    rows.ended(ended);
    log.info(ended ? 'import succeeded' : 'import left processing before it could end (cancelled); nothing settled');
  } catch (error) {
    if (error instanceof HeldRowsLostError) {
      await restartHeldImport(deps.pool, importId);
      await addImportJob(deps.pool, importId, attempt.trace);
      log.warn({ reason: error.message }, 'held rows lost; import restarted from its first record');
      return;
    }
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
  await deleteHeldRows(deps.pool, importId); // a finished dry-run or atomic import's, if any
  await removeFiles(deps, started);
}

/**
 * A parser thread over `range` of an import's file, checking records against the mapped header
 * (`plan`). A local file is opened by the thread itself; anything else through the main thread.
 */
export function parseRange(
  deps: ImportDeps,
  imp: ImportRow,
  source: ByteSource,
  plan: { delimiter: string; width: number; columns: ReadonlyMap<ProductField, number> },
  range: ParseRange,
) {
  return startRecordParser(
    {
      source: typeof source === 'string' ? { kind: 'path', path: source } : { kind: 'main-thread' },
      read: { delimiter: plan.delimiter, maxRecordSize: deps.limits.maxRecordSize, startByte: range.startByte, startLine: range.startLine, endByte: range.endByte },
      width: plan.width,
      columns: [...plan.columns],
      batchSize: deps.batchSize,
      maxRecords: deps.limits.maxRecords,
      recordsBefore: range.recordsBefore,
      target: { tenantId: imp.tenant_id, importId: imp.id },
    },
    { compileCacheDir: deps.compileCacheDir, openBytes: typeof source === 'string' ? undefined : source },
  );
}

/** A local file is read where it is (the parser thread opens it itself); a stored object through storage. */
export function storedBytes(deps: Pick<ImportDeps, 'storage'>, imp: ImportRow): ByteSource {
  return isS3Location(imp.file_path) ? (start, end) => deps.storage.read(imp.file_path, { start, end }) : imp.file_path;
}

/**
 * Where a workbook is converted: next to the upload in file storage, else a copy in workDir (made
 * by the first run on this machine; a run elsewhere converts again, to the same bytes).
 */
function localWorkbookPath(deps: ImportDeps, imp: ImportRow): string {
  return isS3Location(imp.file_path) ? path.join(deps.workDir, `${imp.id}.xlsx`) : imp.file_path;
}

/** The chunks' staged batches, the converted CSV, then the upload: once the upload is gone, so is everything. */
async function removeFiles(deps: ImportDeps, imp: ImportRow): Promise<void> {
  await deleteImportChunks(deps.pool, imp.id);
  const workbook = localWorkbookPath(deps, imp);
  await removeConvertedCsv(workbook);
  if (workbook !== imp.file_path) await rm(workbook, { force: true });
  await deps.storage.remove(imp.file_path);
}

/** An .xlsx upload on this machine's disk (yauzl reads a ZIP at random places): copied from S3 when it is there. */
async function localWorkbook(deps: ImportDeps, imp: ImportRow): Promise<string> {
  const local = localWorkbookPath(deps, imp);
  if (local === imp.file_path || existsSync(convertedCsvPath(local))) return local; // converted here before
  await mkdir(deps.workDir, { recursive: true });
  await pipeline(deps.storage.read(imp.file_path), createWriteStream(local));
  return local;
}

async function loadFile(deps: ImportDeps, imp: ImportRow, log: Logger, rows: ReturnType<typeof countImportRows>): Promise<Outcome> {
  let source = storedBytes(deps, imp);
  if (imp.file_format === 'xlsx') {
    // The worksheet as a CSV next to the upload (made once, reused on resume); read like any CSV from here on.
    const options = { sheet: imp.options.sheet, headerRow: imp.options.header_row };
    const workbook = await localWorkbook(deps, imp);
    const csv = await convertXlsxForImport(workbook, options, { log, signal: deps.shutdownSignal, compileCacheDir: deps.compileCacheDir });
    if (csv === null) return 'paused'; // shutting down mid-conversion: the continuation converts again
    source = csv;
  }
  // header_row=N: the N-1 lines above the header (titles, notes) are skipped unparsed; line
  // numbers stay those of the file. A run after the header was recorded (a continuation) finds
  // the applied mapping on the import: it names every column, so it gives the same columns again.
  const headerRow = imp.options.header_row ?? 1;
  const headerStart = await findLineStart(source, headerRow);
  const beyondEnd = `The file ends before line ${headerRow}, where header_row says the header is`;
  if (headerStart === undefined) throw new FileLevelError(beyondEnd);
  const { delimiter, detected } = detectDelimiter(await readFirstLine(source, headerStart), imp.mapping);
  const read: ReadOptions = { delimiter, maxRecordSize: deps.limits.maxRecordSize };
  const header = await readHeader(source, { ...read, startByte: headerStart, startLine: headerRow });
  if (!header && headerRow > 1) throw new FileLevelError(beyondEnd);
  if (!header || header.fields.every((name) => name.trim() === '')) {
    throw new FileLevelError('The file is empty: expected a header line with at least sku and name');
  }
  await recordImportHeader(deps.pool, imp.id, header.fields); // kept if mapping fails: the source's drift check compares it
  const mapping = mapHeader(header.fields, deps.limits, { mapping: imp.mapping, line: header.line });
  const warnings = detected && delimiter !== ',' ? [`Columns are separated by ${describeDelimiter(delimiter)}`] : [];
  await setImportHeader(deps.pool, imp.id, {
    header: header.fields,
    delimiter,
    mapping: mapping.applied,
    warnings: [...warnings, ...mapping.warnings],
  });

  const resume = Number(imp.checkpoint_byte) > 0;
  if (resume) log.info({ byte: Number(imp.checkpoint_byte), line: Number(imp.checkpoint_line) }, 'resuming from checkpoint');
  const parse = (range: ParseRange) =>
    parseRange(deps, imp, source, { delimiter, width: header.fields.length, columns: mapping.columns }, range);
  // A chunked upload's later chunks are parsed by any worker meanwhile (chunked-batches.ts).
  const chunks = imp.file_format === 'csv' ? await listImportChunks(deps.pool, imp.id) : [];
  if (chunks.length > 0) await addChunkJobs(deps.pool, imp.id);
  // Two connections: two batches are written at once (batch-writer.ts), committed in order.
  const clients: PoolClient[] = [];
  let batches: BatchSource | undefined;
  try {
    for (let i = 0; i < 2; i++) clients.push(await deps.pool.connect());
    for (const client of clients) await prepareWriterSession(client);
    const write = rows.timeBatches(
      createBatchWriter(
        clients,
        { importId: imp.id, tenantId: imp.tenant_id, fields: new Set(mapping.columns.keys()), hold: imp.options.dry_run || imp.options.atomic },
        // Before the next batch commits: past the error policy's limit, no further batch loads.
        (result) => checkErrorPolicy(imp.options, { processed: Number(result.rows_processed), rejected: Number(result.rows_rejected) }),
      ),
    );
    const writeAndRecycle = async (batch: EncodedBatch) => {
      try {
        return await write(batch);
      } finally {
        batches?.recycle(batch);
      }
    };
    const pipeline = new BatchPipeline(writeAndRecycle, log, imp, clients.length);
    const checkpoint = { byte: Number(imp.checkpoint_byte), line: Number(imp.checkpoint_line), records: Number(imp.rows_processed) };
    batches =
      chunks.length === 0
        ? parse(
            resume
              ? { startByte: checkpoint.byte, startLine: checkpoint.line, endByte: undefined, recordsBefore: checkpoint.records }
              : { startByte: header.endByte, startLine: header.nextLine, endByte: undefined, recordsBefore: 0 },
          )
        : chunkedBatches({
            pool: deps.pool,
            importId: imp.id,
            chunks,
            afterHeader: { byte: header.endByte, line: header.nextLine },
            resume: resume ? checkpoint : undefined,
            parse,
            drain: () => pipeline.drain(),
            shutdownSignal: deps.shutdownSignal,
          });
    return await writeBatches(deps, batches, pipeline, imp.tenant_id);
  } finally {
    await batches?.stop(); // ends the parser thread whatever happened
    for (const client of clients) {
      await releaseWriterSession(client).then(
        () => client.release(),
        (error: unknown) => client.release(error as Error), // a broken session is not reused
      );
    }
  }
}

/** Writes the batches in order, one in flight while the next is parsed. */
async function writeBatches(deps: ImportDeps, source: BatchSource, pipeline: BatchPipeline, tenantId: string): Promise<Outcome> {
  const started = Date.now();
  const deadline = started + deps.jobTimeBudgetMs;
  let checked = started;
  // After a first slice, now and then: another tenant waiting with fewer jobs running gets this slot.
  const yieldToAnotherTenant = async () => {
    const now = Date.now();
    if (now - started < MIN_SLICE_MS || now - checked < CHECK_EVERY_MS) return false;
    checked = now;
    return shouldYield(deps.pool, tenantId);
  };
  try {
    for await (const batch of source.batches) {
      if (batch.stages) countImportStages(batch.stages);
      await pipeline.submit(batch);
      source.ack();
      if (deps.shutdownSignal.aborted || Date.now() > deadline || (await yieldToAnotherTenant())) {
        await pipeline.drain();
        return 'paused';
      }
    }
  } catch (error) {
    // A file-level problem comes after the batch of every record before it: let that commit.
    // Otherwise the batch already sent is let finish before the connection goes back to the pool;
    // the original error is the one that matters.
    if (error instanceof FileLevelError) await pipeline.drain();
    else await pipeline.drain().catch(() => {});
    throw error;
  }
  await pipeline.drain();
  return source.paused ? 'paused' : 'finished'; // paused: shutting down while waiting for another worker's chunk
}

async function readHeader(source: ByteSource, options: ReadOptions): Promise<CsvRecord | undefined> {
  const records = readCsvRecords(source, options);
  try {
    const first = await records.next();
    return first.done ? undefined : first.value[0];
  } finally {
    await records.return(undefined);
  }
}

/**
 * The header line as text, for delimiter detection: the first non-empty line in the 64 KiB from
 * `start` (csv-parse skips empty lines too).
 */
async function readFirstLine(source: ByteSource, start: number): Promise<string> {
  const LIMIT = 64 * 1024;
  const chunks: Buffer[] = [];
  let length = 0;
  const bytes = openBytes(source, start, LIMIT);
  try {
    for await (const chunk of bytes as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= LIMIT) break;
    }
  } finally {
    bytes.destroy();
  }
  const text = Buffer.concat(chunks).subarray(0, LIMIT).toString('utf8').replace(/^\uFEFF/, '');
  return text.split(/\r?\n/).find((line) => line !== '') ?? '';
}

/**
 * Byte offset where physical line `line` starts (counting line feeds), or undefined when the file
 * has fewer line breaks. The lines before it are not parsed: they may hold anything, an unbalanced
 * quote included.
 */
async function findLineStart(source: ByteSource, line: number): Promise<number | undefined> {
  if (line <= 1) return 0;
  const bytes = openBytes(source, 0, 64 * 1024);
  try {
    let breaks = 0;
    let position = 0;
    for await (const chunk of bytes as AsyncIterable<Buffer>) {
      for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) {
        if (++breaks === line - 1) return position + at + 1;
      }
      position += chunk.length;
    }
    return undefined;
  } finally {
    bytes.destroy();
  }
}
