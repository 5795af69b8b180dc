import type { Logger } from '../logger.ts';
import { describeProblems, productSchema, type ProductField } from '../products/product-schema.ts';
import type { Batch, BatchResult } from './batch-writer.ts';
import type { HeaderMapping } from './csv-header.ts';
import type { CsvRecord } from './read-csv-records.ts';

export function emptyBatch(): Batch {
  return { rows: new Map(), rejected: [], processed: 0, duplicates: 0, checkpoint: { byte: 0, line: 0 } };
}

const NOT_UTF8 =
  'contains bytes that are not valid UTF-8 (is the file saved in another encoding, such as Windows-1252? Save it as UTF-8)';

/** Validates one record into the batch: a row to upsert (the last of a repeated sku wins) or a rejection. */
export function addRecord(batch: Batch, record: CsvRecord, width: number, mapping: HeaderMapping): void {
  const { fields, line } = record;
  batch.processed++;
  batch.checkpoint = { byte: record.endByte, line: record.nextLine };
  if (fields.length !== width) {
    batch.rejected.push({
      line,
      column: null,
      message: `has ${fields.length} field${fields.length === 1 ? '' : 's'} but the header has ${width}`,
      values: fields,
    });
    return;
  }
  if (record.invalidUtf8) {
    batch.rejected.push({ line, column: null, message: NOT_UTF8, values: fields });
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
export class BatchPipeline {
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
