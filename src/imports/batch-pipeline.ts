import type { Span } from '@opentelemetry/api';
import type { Logger } from '../logger.ts';
import { inSpan } from '../tracing/spans.ts';
import type { EncodedBatch } from './batch-builder.ts';
import type { BatchResult } from './batch-writer.ts';

/** An import's cumulative counters, as its row and each batch's result hold them. */
type Counters = Omit<BatchResult, 'batches_committed'>;
const COUNTERS = ['rows_processed', 'rows_inserted', 'rows_updated', 'rows_unchanged', 'rows_rejected'] as const;

/**
 * Keeps one batch in flight on the database while the next is parsed: parsing and writing
 * overlap instead of taking turns. A failed write surfaces at the next submit or at drain.
 * Each write is a span ("import batch", child of the job's) with the batch's own row counts.
 */
export class BatchPipeline {
  private inFlight: Promise<BatchResult> | undefined;
  private readonly write: (batch: EncodedBatch) => Promise<BatchResult>;
  private readonly log: Logger;
  /** The counters before the batch being written: a batch's counts are the difference. */
  private counters: Counters;

  constructor(write: (batch: EncodedBatch) => Promise<BatchResult>, log: Logger, start: Counters) {
    this.write = write;
    this.log = log;
    this.counters = start;
  }

  async submit(batch: EncodedBatch): Promise<void> {
    await this.drain();
    const pending = inSpan('import batch', {}, (span) => this.writeTraced(batch, span));
    pending.catch(() => {}); // observed by the next drain(); avoids an unhandled rejection meanwhile
    this.inFlight = pending;
  }

  async drain(): Promise<void> {
    if (!this.inFlight) return;
    const result = await this.inFlight;
    this.inFlight = undefined;
    this.log.debug({ batch: result.batches_committed, rowsProcessed: Number(result.rows_processed) }, 'batch committed');
  }

  private async writeTraced(batch: EncodedBatch, span: Span): Promise<BatchResult> {
    const result = await this.write(batch);
    if (span.isRecording()) {
      span.setAttribute('lading.batch.number', result.batches_committed);
      // Batches are written one at a time, in order: the counters moved by this batch only.
      for (const name of COUNTERS) span.setAttribute(`lading.batch.${name}`, Number(result[name]) - Number(this.counters[name]));
    }
    this.counters = result;
    return result;
  }
}
