import { on } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { ProductField } from '../products/product-values.ts';
import type { EncodedBatch } from './batch-builder.ts';
import { FileLevelError } from './csv-header.ts';
import type { ReadOptions } from './read-csv-records.ts';

export type ParseJob = {
  filePath: string;
  read: ReadOptions;
  width: number;
  columns: [ProductField, number][];
  batchSize: number;
  maxRecords: number;
  /** Records already committed by earlier runs, for MAX_RECORDS. */
  recordsBefore: number;
  /** Written into every row (products.tenant_id, products.last_import_id). */
  target: { tenantId: string; importId: string };
};

/** From the main thread: a batch was taken (the worker may parse one more), or its bytes are free again. */
export type ParserCommand = { type: 'ack' } | { type: 'recycle'; buffer: ArrayBuffer };

export type ParserMessage =
  | { type: 'batch'; batch: EncodedBatch }
  | { type: 'failed'; message: string }
  | { type: 'end' };

/**
 * Parses an import's file in a worker thread (record-parser-worker.ts) and hands its batches over
 * in file order. `ack()` after taking a batch lets the worker run on; `stop()` ends it whenever
 * the caller stops early (pause, cancel, error).
 */
export function startRecordParser(job: ParseJob, options: { compileCacheDir?: string } = {}) {
  const worker = new Worker(new URL('./record-parser-worker.ts', import.meta.url), {
    workerData: job,
    // A thread compiles (and strips the types of) its modules afresh unless given a cache.
    ...(options.compileCacheDir ? { env: { ...process.env, NODE_COMPILE_CACHE: options.compileCacheDir } } : {}),
    // Its live data is a few batches (about 10 MB after a full collection, with the thread's own
    // modules); V8 fills whatever cap it is given with garbage first, and the pages a thread used
    // stay with the process after it exits (V8 pools them for the next thread). At 96/16 MB a
    // `text` import added ~105 MB to the process, at 32/4 ~55 MB. With V8's memory saver mode
    // (npm start) 32 MB made one import in three spend seconds in full collections; 48 did not in
    // eight. A file of only rejected rows (zod loaded) and csv-parse's path run within 32 MB.
    resourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 4 },
  });
  // Listened to from the start, not from the first read: a thread's messages, 'error' and 'exit'
  // are emitted whether or not anyone listens, and a small file's batch and end (or a failed
  // thread's error) can come while the caller is still opening its database connections. Read
  // later, they were lost and the import waited forever (the tests' rare hang: a job that never
  // ended, its writer sessions idle).
  // 'error' (an unexpected failure in the worker) makes the iteration throw; 'exit' ends it.
  const messages = on(worker, 'message', { close: ['exit'] }) as AsyncIterableIterator<[ParserMessage]>;
  async function* batches(): AsyncGenerator<EncodedBatch> {
    for await (const [message] of messages) {
      if (message.type === 'batch') yield message.batch;
      else if (message.type === 'failed') throw new FileLevelError(message.message);
      else return;
    }
    throw new Error('the CSV parser thread stopped unexpectedly');
  }
  return {
    batches: batches(),
    ack: () => worker.postMessage({ type: 'ack' } satisfies ParserCommand),
    /** Gives a written batch's bytes back for reuse; the batch must not be touched afterwards. */
    recycle: (batch: EncodedBatch) => {
      const buffer = batch.copy.buffer as ArrayBuffer;
      worker.postMessage({ type: 'recycle', buffer } satisfies ParserCommand, [buffer]);
    },
    stop: async () => {
      await worker.terminate();
    },
  };
}
