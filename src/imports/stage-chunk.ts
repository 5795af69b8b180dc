import { countImportStages } from '../metrics/import-metrics.ts';
import { addChunkJobs, claimChunk, findChunk, markChunkStaged, stageBatch } from './chunk-queries.ts';
import { FileLevelError, mapHeader } from './csv-header.ts';
import { findImportById } from './import-queries.ts';
import { parseRange, storedBytes, type ImportDeps } from './run-import.ts';

/**
 * Job `import_chunk`: parses and checks one chunk of a chunked import (migrations/013) into staged
 * batches, which the import's own job writes in order (chunked-batches.ts). Runs on any worker,
 * alongside the import's job and the other chunks' jobs. Does nothing when the import has ended,
 * or when the import's job has taken the chunk itself. Safe to run again: a run that stopped
 * (crash, shutdown) is taken up by the next, which stages the chunk's batches from its start
 * again; they are the same batches, so the import's job may already have written some of them.
 */
export async function stageChunk(deps: ImportDeps, importId: string, chunkNumber: number): Promise<void> {
  const log = deps.logger.child({ importId, chunk: chunkNumber });
  const imp = await findImportById(deps.pool, importId);
  // The import's job enqueues chunk jobs once it has read the header: these are always there then.
  if (imp?.status !== 'processing' || !imp.header || imp.delimiter === null) return;
  const chunk = await claimChunk(deps.pool, importId, chunkNumber, 'chunk-job');
  if (!chunk) {
    log.debug('chunk taken by the import’s own job, or staged already');
    return;
  }
  const next = await findChunk(deps.pool, importId, chunkNumber + 1);
  const mapping = mapHeader(imp.header, deps.limits, { mapping: imp.mapping });
  const parser = parseRange(
    deps,
    imp,
    storedBytes(deps, imp),
    { delimiter: imp.delimiter, width: imp.header.length, columns: mapping.columns },
    {
      startByte: Number(chunk.start_byte),
      startLine: Number(chunk.start_line),
      endByte: next ? Number(next.start_byte) : undefined,
      recordsBefore: Number(chunk.records_before),
    },
  );
  let error: string | null = null;
  let index = 0;
  try {
    for await (const batch of parser.batches) {
      if (batch.stages) countImportStages(batch.stages);
      const staged = await stageBatch(deps.pool, importId, chunkNumber, index++, batch);
      parser.recycle(batch);
      if (!staged) {
        log.info('import no longer processing; chunk left');
        return;
      }
      parser.ack();
      if (deps.shutdownSignal.aborted) {
        // Shutting down: the chunk stays ours (parsing), and the next run of its job starts it over.
        await addChunkJobs(deps.pool, importId, chunkNumber);
        log.info('shutting down; chunk job enqueued again');
        return;
      }
    }
  } catch (failure) {
    if (!(failure instanceof FileLevelError)) throw failure; // the job is retried
    error = failure.message; // the import's job ends the import there, after this chunk's batches
  } finally {
    await parser.stop();
  }
  await markChunkStaged(deps.pool, importId, chunkNumber, error);
  log.info({ batches: index, error }, 'chunk staged');
}
