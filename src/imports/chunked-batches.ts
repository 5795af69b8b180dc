import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from '../db/pool.ts';
import type { EncodedBatch } from './batch-builder.ts';
import { claimChunk, findChunk, markChunkMerged, readStagedBatch, takeOverChunk, type ChunkRow } from './chunk-queries.ts';
import { FileLevelError } from './csv-header.ts';

/** Batches in file order, as the writer takes them (the parser thread is one; chunkedBatches another). */
export type BatchSource = {
  batches: AsyncIterable<EncodedBatch>;
  /** The batch was taken: the source may prepare another. */
  ack(): void;
  /** A written batch's bytes may be reused. */
  recycle(batch: EncodedBatch): void;
  stop(): Promise<void>;
  /** Set when the batches ended because the process is shutting down (not the file's end). */
  readonly paused?: boolean;
};

/** Where a parser starts and stops: a chunk's bytes, or the rest of one from a checkpoint. */
export type ParseRange = { startByte: number; startLine: number; endByte: number | undefined; recordsBefore: number };

// How often the import's job looks for the next staged batch of a chunk another worker parses,
// and how often it checks that the chunk's job is still running (else it parses the chunk itself).
const STAGED_POLL_MS = 20;
const TAKE_OVER_CHECK_MS = 1000;

/**
 * The batches of a chunked import (migrations/013_import_chunks.sql), in file order: chunk 0 (from
 * the header) parsed here; every later chunk either read as another worker staged it, batch by
 * batch as they come, or parsed here when no worker has started it (so one worker alone never
 * waits). A resumed import starts in the chunk holding its checkpoint, after the batches it had
 * written. A chunk whose records ended in a file-level error ends the batches with that error
 * after its last batch, as one parser would. Before a chunk starts, the writes of the one before
 * are drained and its staged batches deleted.
 */
export function chunkedBatches(context: {
  pool: Pool;
  importId: string;
  chunks: ChunkRow[];
  /** Where chunk 0's records start: just after the header. */
  afterHeader: { byte: number; line: number };
  /** The checkpoint of an import that ran before (byte > 0), with the records it had taken. */
  resume: { byte: number; line: number; records: number } | undefined;
  parse(range: ParseRange): BatchSource;
  /** Waits until every batch handed out so far is committed. */
  drain(): Promise<void>;
  shutdownSignal: AbortSignal;
}): BatchSource {
  const { pool, importId } = context;
  const segments = [
    { chunk: 0, byte: context.afterHeader.byte, line: context.afterHeader.line, recordsBefore: 0 },
    ...context.chunks.map((c) => ({ chunk: c.chunk, byte: Number(c.start_byte), line: Number(c.start_line), recordsBefore: Number(c.records_before) })),
  ];
  let parser: BatchSource | undefined;
  let paused = false;
  // A batch's bytes go back only to the parser thread that made them (a staged batch's are pg's).
  const madeBy = new WeakMap<EncodedBatch, BatchSource>();

  async function* batches(): AsyncGenerator<EncodedBatch> {
    const resume = context.resume;
    const first = Math.max(0, resume ? segments.findLastIndex((segment) => segment.byte <= resume.byte) : 0);
    for (let i = first; i < segments.length; i++) {
      const segment = segments[i]!;
      const end = segments[i + 1]?.byte;
      const resumed = i === first && resume !== undefined && resume.byte > segment.byte ? resume : undefined;
      if (i > first) {
        await context.drain();
        const previous = segments[i - 1]!.chunk;
        if (previous > 0) await markChunkMerged(pool, importId, previous);
      }
      let ours = segment.chunk === 0 || (await claimChunk(pool, importId, segment.chunk, 'import-job')) !== undefined;
      let firstOfChunk = segment.chunk > 0 && !resumed;
      // Batches of the chunk already handed out from staging, when its chunk job dropped it midway.
      let handedOut = 0;
      let skip = 0;
      if (!ours) {
        for (let index = 0; ; index++) {
          const batch = await nextStagedBatch(segment.chunk, index);
          if (batch === 'paused') {
            paused = true;
            return;
          }
          if (batch === 'taken over') {
            ours = true;
            skip = handedOut;
            break;
          }
          if (batch === undefined) break;
          if (resumed && batch.checkpoint.byte <= resumed.byte) continue; // written before the pause
          if (firstOfChunk) batch.sharesSkus = true;
          firstOfChunk = false;
          handedOut++;
          yield batch;
        }
      }
      if (ours) {
        const own = context.parse(
          resumed
            ? { startByte: resumed.byte, startLine: resumed.line, endByte: end, recordsBefore: resumed.records }
            : { startByte: segment.byte, startLine: segment.line, endByte: end, recordsBefore: segment.recordsBefore },
        );
        parser = own;
        try {
          for await (const batch of own.batches) {
            if (skip > 0) {
              skip--; // the same batch as one already handed out from staging
              own.recycle(batch);
              own.ack();
              continue;
            }
            // Its parser never saw the batch before it: the writer must not overlap the two.
            if (firstOfChunk) batch.sharesSkus = true;
            firstOfChunk = false;
            madeBy.set(batch, own);
            yield batch;
          }
        } finally {
          await own.stop();
          parser = undefined;
        }
      }
    }
  }

  /**
   * Batch `index` of a chunk another worker parses, once it is staged; undefined past its last;
   * 'taken over' when its job stopped running (this job parses the rest).
   */
  async function nextStagedBatch(chunk: number, index: number): Promise<EncodedBatch | undefined | 'paused' | 'taken over'> {
    let checked = Date.now();
    for (;;) {
      const batch = await readStagedBatch(pool, importId, chunk, index);
      if (batch) return batch;
      const row = await findChunk(pool, importId, chunk);
      if (row?.status === 'staged' || row?.status === 'merged') {
        // Staged between the two reads: look once more.
        const last = await readStagedBatch(pool, importId, chunk, index);
        if (last) return last;
        if (row.error) throw new FileLevelError(row.error);
        return undefined;
      }
      // Still being parsed; or its job failed and waits for a retry, or ran out of attempts: then
      // this job parses the chunk itself rather than wait (a chunk job that runs again leaves it).
      if (context.shutdownSignal.aborted) return 'paused';
      if (Date.now() - checked > TAKE_OVER_CHECK_MS) {
        checked = Date.now();
        if (await takeOverChunk(pool, importId, chunk)) return 'taken over';
      }
      await sleep(STAGED_POLL_MS);
    }
  }

  return {
    batches: batches(),
    ack: () => parser?.ack(),
    recycle: (batch) => madeBy.get(batch)?.recycle(batch),
    stop: async () => {
      await parser?.stop();
    },
    get paused() {
      return paused;
    },
  };
}
