import type { Logger } from '../logger.ts';
import type { EncodedBatch } from './batch-builder.ts';
import type { BatchResult } from './batch-writer.ts';

/**
 * Keeps one batch in flight on the database while the next is parsed: parsing and writing
 * overlap instead of taking turns. A failed write surfaces at the next submit or at drain.
 */
export class BatchPipeline {
  private inFlight: Promise<BatchResult> | undefined;
  private readonly write: (batch: EncodedBatch) => Promise<BatchResult>;
  private readonly log: Logger;

  constructor(write: (batch: EncodedBatch) => Promise<BatchResult>, log: Logger) {
    this.write = write;
    this.log = log;
  }

  async submit(batch: EncodedBatch): Promise<void> {
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
