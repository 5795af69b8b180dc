import type { Logger } from '../logger.ts';
import { describeProblems, productSchema, type ProductField } from '../products/product-schema.ts';
import type { Batch, BatchResult } from './batch-writer.ts';
import type { HeaderMapping } from './csv-header.ts';
import type { CsvRecord } from './read-csv-records.ts';
import { encodeProduct, encodeRejected, encodeValidRecord, type RowPlan } from './row-encoder.ts';

export function emptyBatch(): Batch {
  return { rows: new Map(), rejected: [], processed: 0, duplicates: 0, checkpoint: { byte: 0, line: 0 } };
}

const NOT_UTF8 =
  'contains bytes that are not valid UTF-8 (is the file saved in another encoding, such as Windows-1252? Save it as UTF-8)';

/**
 * Validates one record into the batch: a row to upsert (the last of a repeated sku wins) or a
 * rejection. Valid records take the fast path; only a record it refuses meets the zod schema,
 * which says why.
 */
export function addRecord(batch: Batch, record: CsvRecord, width: number, mapping: HeaderMapping, plan: RowPlan): void {
  const { fields, line } = record;
  batch.processed++;
  batch.checkpoint = { byte: record.endByte, line: record.nextLine };
  if (fields.length !== width) {
    const message = `has ${fields.length} field${fields.length === 1 ? '' : 's'} but the header has ${width}`;
    batch.rejected.push(encodeRejected(line, null, message, fields));
    return;
  }
  if (record.invalidUtf8) {
    batch.rejected.push(encodeRejected(line, null, NOT_UTF8, fields));
    return;
  }
  let row = encodeValidRecord(fields, line, plan);
  if (!row) {
    const input: Partial<Record<ProductField, string>> = {};
    for (const [field, index] of mapping.columns) input[field] = fields[index];
    const parsed = productSchema.safeParse(input);
    if (!parsed.success) {
      const { column, message } = describeProblems(parsed.error.issues);
      batch.rejected.push(encodeRejected(line, column, message, fields));
      return;
    }
    row = { sku: parsed.data.sku, copy: encodeProduct(parsed.data, line) };
  }
  if (batch.rows.delete(row.sku)) batch.duplicates++; // re-insert so the later line's position is kept
  batch.rows.set(row.sku, row.copy);
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
