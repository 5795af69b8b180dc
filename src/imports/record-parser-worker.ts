import { readlinkSync } from 'node:fs';
import { flushCompileCache } from 'node:module';
import { setPriority } from 'node:os';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { BatchBuilder, type EncodedBatch } from './batch-builder.ts';
import { FileLevelError } from './csv-header.ts';
import type { ByteSource } from './read-csv-records.ts';
import { scanCsvRecords } from './scan-csv-records.ts';
import type { ParseJob, ParserCommand, ParserMessage } from './record-parser.ts';

// Worker thread: reads, validates and encodes an import's records into batches, so the main
// thread (HTTP API, live progress, database I/O) never waits behind a batch's worth of parsing.
// It runs at most MAX_AHEAD batches ahead of the batches the main thread has taken.

// Four (~200 KB each) absorb the database's pauses (a checkpoint, a slow commit) without stalling.
const MAX_AHEAD = 4;
// Loaded outside a thread (main.ts, when LADING_COMPILE_ONLY is set): its modules are compiled now;
// into the compile cache with them, and the process ends.
if (!parentPort) {
  await import('../products/product-schema.ts'); // loaded at the first rejected record
  flushCompileCache();
  process.exit(0);
}
const job = workerData as ParseJob;
const port = parentPort;

// A batch's bytes move to the main thread (transferred, not copied) and come back once written,
// so a few buffers circulate instead of one new buffer per batch piling up as garbage.
const utf8 = new TextEncoder();
const spare: ArrayBuffer[] = [];
function encodeIntoSpare(text: string): Uint8Array {
  let buffer = spare.pop() ?? new ArrayBuffer(256 * 1024);
  let result = utf8.encodeInto(text, new Uint8Array(buffer));
  if (result.read < text.length) {
    buffer = new ArrayBuffer(Math.ceil(Buffer.byteLength(text) * 1.25));
    result = utf8.encodeInto(text, new Uint8Array(buffer));
  }
  return new Uint8Array(buffer, 0, result.written);
}

// The thread's old generation fills with garbage (records of batches that outlived two young
// collections), and V8 let it grow to ~35 MB of the 48 MB cap before collecting it, although ~6 MB
// was live (heap snapshots at batch 400 and 4,000 of a 5M-row `text` file): on long files that was
// the process's peak. A full collection whenever the used heap passes twice what the last one left
// (16 MB at least) ran ~6 times in 5M rows (~130 ms), and the thread's heap stayed under 23 MB.
// They stop while they have taken over 2 % of the thread's time: a thread with a compile cache to
// fill (the first import after a start on an empty cache) refilled 16 MB every few batches, and
// without that bound spent 12 s of 47 in them (docs/performance.md). Needs --expose-gc (npm
// start); elsewhere V8 decides alone.
const collectGarbage = (globalThis as { gc?: (options: { type: 'major' }) => void }).gc;
const COLLECT_ABOVE_AT_LEAST = 16 * 1024 * 1024;
const COLLECTING_SHARE_AT_MOST = 0.02;
let collectAbove = COLLECT_ABOVE_AT_LEAST;
let collectingMs = 0;
function collectIfGrown(): void {
  if (!collectGarbage || getHeapStatistics().used_heap_size <= collectAbove) return;
  if (collectingMs > COLLECTING_SHARE_AT_MOST * performance.now()) return;
  const started = performance.now();
  collectGarbage({ type: 'major' });
  collectingMs += performance.now() - started;
  collectAbove = Math.max(COLLECT_ABOVE_AT_LEAST, 2 * getHeapStatistics().used_heap_size);
}

let credits = MAX_AHEAD;
let wake: (() => void) | undefined;
const opening = new Map<number, (stream: ReadableStream<Uint8Array>) => void>();
port.on('message', (message: ParserCommand) => {
  if (message.type === 'opened') {
    opening.get(message.id)?.(message.stream);
    opening.delete(message.id);
    return;
  }
  if (message.type === 'recycle') {
    spare.push(message.buffer);
    return;
  }
  credits++;
  wake?.();
  wake = undefined;
});

/**
 * Parsing is bulk work: it runs at a lower priority (nice 5) than the main thread, so the API and
 * live progress stay responsive while an import keeps a core busy (with 1,000 subscribers on two
 * cores it brought the progress p99 back under 50 ms at no cost to import speed: docs/performance.md).
 * Linux only (a thread's id from /proc; setpriority on a thread id renices that thread alone).
 */
function lowerThreadPriority(): void {
  try {
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 5);
  } catch {
    // elsewhere, or not permitted: the same work at the same priority
  }
}

/** The file's bytes from `start`: read here, or asked of the main thread (ParseJob.source). */
function byteSource(): ByteSource {
  if (job.source.kind === 'path') return job.source.path;
  let ids = 0;
  return (start, end) => {
    const bytes = new PassThrough({ highWaterMark: 64 * 1024 });
    const id = ++ids;
    opening.set(id, (stream) => {
      // Destroying `bytes` (the reader stopped early) cancels the stream, and so the main thread's read.
      pipeline(Readable.fromWeb(stream), bytes).catch((error: unknown) => bytes.destroy(error as Error));
    });
    send({ type: 'open', id, start, end });
    return bytes;
  };
}

function send(message: ParserMessage): void {
  port.postMessage(message, message.type === 'batch' ? [message.batch.copy.buffer as ArrayBuffer] : []);
}

async function post(batch: EncodedBatch): Promise<void> {
  if (credits === 0) await new Promise<void>((resolve) => (wake = resolve));
  credits--;
  send({ type: 'batch', batch });
}

lowerThreadPriority();

const builder = new BatchBuilder({ width: job.width, columns: new Map(job.columns) }, job.target);
let total = job.recordsBefore;
// Where the thread's time goes (lading_import_stage_seconds_total), timed per chunk of records
// (64 KB of file), not per record: two clock reads per chunk.
let parseMs = 0;
let validateMs = 0;
function take(): EncodedBatch {
  const started = performance.now();
  const batch = builder.take(encodeIntoSpare);
  validateMs += performance.now() - started;
  batch.stages = { parseMs, validateMs };
  parseMs = 0;
  validateMs = 0;
  return batch;
}
try {
  let clock = performance.now();
  for await (const chunk of scanCsvRecords(byteSource(), job.read)) {
    let mark = performance.now();
    parseMs += mark - clock;
    for (const record of chunk) {
      if (++total > job.maxRecords) {
        throw new FileLevelError(`The file has more than ${job.maxRecords} records (MAX_RECORDS); the first ones were loaded`);
      }
      if (!builder.add(record)) {
        builder.useSchema((await import('../products/product-schema.ts')).checkProduct);
        builder.add(record);
      }
      if (builder.size >= job.batchSize) {
        validateMs += performance.now() - mark;
        await post(take()); // waiting for the main thread counts in neither stage
        collectIfGrown();
        mark = performance.now();
      }
    }
    clock = performance.now();
    validateMs += clock - mark;
  }
  if (builder.size > 0) await post(take());
  send({ type: 'end' });
} catch (error) {
  if (!(error instanceof FileLevelError)) throw error; // reaches the main thread as the worker's 'error'
  // A broken record (say, an unclosed quote) ends the file; every record before it still loads,
  // whatever BATCH_SIZE is, so the outcome does not depend on batch boundaries.
  if (builder.size > 0) await post(take());
  send({ type: 'failed', message: error.message });
}
