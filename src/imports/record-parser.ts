import { on } from 'node:events';
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { Worker } from 'node:worker_threads';
import type { ProductField } from '../products/product-values.ts';
import type { EncodedBatch } from './batch-builder.ts';
import { FileLevelError } from './csv-header.ts';
import type { ReadOptions } from './read-csv-records.ts';

export type ParseJob = {
  /**
   * A local file the thread reads itself, or `main-thread`: the thread asks the main thread for
   * each stream of bytes it needs (a file in S3 storage: the S3 client stays out of the thread,
   * where it would add ~35 MB).
   */
  source: { kind: 'path'; path: string } | { kind: 'main-thread' };
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
export type ParserCommand =
  | { type: 'ack' }
  | { type: 'recycle'; buffer: ArrayBuffer }
  | { type: 'opened'; id: number; stream: ReadableStream<Uint8Array> };

export type ParserMessage =
  | { type: 'batch'; batch: EncodedBatch }
  | { type: 'failed'; message: string }
  | { type: 'end' }
  /** The thread needs the file's bytes from `start` (job.source `main-thread`). */
  | { type: 'open'; id: number; start: number; end: number | undefined };

/**
 * Parses an import's file in a worker thread (record-parser-worker.ts) and hands its batches over
 * in file order. `ack()` after taking a batch lets the worker run on; `stop()` ends it whenever
 * the caller stops early (pause, cancel, error).
 */
export function startRecordParser(
  job: ParseJob,
  options: { compileCacheDir?: string; openBytes?: (start: number, end: number | undefined) => Readable } = {},
) {
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
  // The bytes cross as a web stream (transferred: the thread reads it with backpressure).
  worker.on('message', (message: ParserMessage) => {
    if (message.type !== 'open') return;
    const stream = Readable.toWeb(options.openBytes!(message.start, message.end)) as ReadableStream<Uint8Array>;
    worker.postMessage({ type: 'opened', id: message.id, stream } satisfies ParserCommand, [stream as never]);
  });
  async function* batches(): AsyncGenerator<EncodedBatch> {
    for await (const [message] of messages) {
      if (message.type === 'open') continue; // answered above
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
