import type { Span } from '@opentelemetry/api';
import type { Logger } from '../logger.ts';
import { inSpan } from '../tracing/spans.ts';
import type { EncodedBatch } from './batch-builder.ts';
import type { BatchResult, WrittenBatch } from './batch-writer.ts';

/** An import's cumulative counters, as its row and each batch's result hold them. */
type Counters = Omit<BatchResult, 'batches_committed'>;
const COUNTERS = ['rows_processed', 'rows_inserted', 'rows_updated', 'rows_unchanged', 'rows_rejected'] as const;

/**
 * Keeps up to `depth` batches in flight on the database (one per writer connection) while the
 * next is parsed: parsing and writing overlap instead of taking turns, and so do the writes (the
 * writer commits them in order). A failed write surfaces at a later submit or at drain; the
 * batches after it are let end (rolled back) first, so no connection is still busy afterwards.
 * Each write is a span ("import batch", child of the job's) with the batch's own row counts.
 */
export class BatchPipeline {
  private readonly inFlight: Promise<BatchResult>[] = [];
  private readonly write: (batch: EncodedBatch) => Promise<WrittenBatch>;
  private readonly log: Logger;
  private readonly depth: number;
  /** The counters before the batch being written: a batch's counts are the difference. */
  private counters: Counters;

  constructor(write: (batch: EncodedBatch) => Promise<WrittenBatch>, log: Logger, start: Counters, depth = 1) {
    this.write = write;
    this.log = log;
    this.counters = start;
    this.depth = depth;
  }

  async submit(batch: EncodedBatch): Promise<void> {
    while (this.inFlight.length >= this.depth) await this.settleOldest();
    const pending = inSpan('import batch', {}, (span) => this.writeTraced(batch, span));
    pending.catch(() => {}); // observed by a later settleOldest(); avoids an unhandled rejection meanwhile
    this.inFlight.push(pending);
  }

  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.settleOldest();
  }

  private async settleOldest(): Promise<void> {
    const oldest = this.inFlight[0]!;
    try {
      const result = await oldest;
      this.log.debug({ batch: result.batches_committed, rowsProcessed: Number(result.rows_processed) }, 'batch committed');
    } catch (error) {
      await Promise.allSettled(this.inFlight);
      this.inFlight.length = 0;
      throw error;
    }
    this.inFlight.shift();
  }

  private async writeTraced(batch: EncodedBatch, span: Span): Promise<BatchResult> {
    const result = await this.write(batch);
    if (span.isRecording()) {
      span.setAttribute('lading.batch.number', result.batches_committed);
      span.setAttribute('lading.batch.path', result.path);
      // Batches commit one at a time, in order: the counters moved by this batch only.
      for (const name of COUNTERS) span.setAttribute(`lading.batch.${name}`, Number(result[name]) - Number(this.counters[name]));
    }
    this.counters = result;
    return result;
  }
}
