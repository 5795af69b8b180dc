import { describeProblems, productSchema, type ProductField } from '../products/product-schema.ts';
import type { CsvRecord } from './read-csv-records.ts';
import { encodeProduct, encodeRejected, encodeValidRecord, planRow, type RowPlan } from './row-encoder.ts';

/** A batch ready for the database: its COPY lines for the staging table and its counts. */
export type EncodedBatch = {
  copy: string;
  /** Distinct skus among the valid records (the last occurrence of a repeated sku wins). */
  validRows: number;
  /** Records in the batch, valid or not. */
  processed: number;
  /** Valid records dropped because a later record of the batch had the same sku. */
  duplicates: number;
  /** Where the record after this batch starts: the job resumes there. */
  checkpoint: { byte: number; line: number };
  /** Lowest and highest sku of the valid rows (null when there are none). */
  skuRange: { lo: string; hi: string } | null;
};

const NOT_UTF8 =
  'contains bytes that are not valid UTF-8 (is the file saved in another encoding, such as Windows-1252? Save it as UTF-8)';

/**
 * Turns records into batches. Valid records take the fast path (row-encoder.ts); only a record
 * it refuses meets the zod schema, which says why it is rejected.
 */
export class BatchBuilder {
  private rows = new Map<string, string>();
  private rejected: string[] = [];
  private processed = 0;
  private duplicates = 0;
  private checkpoint = { byte: 0, line: 0 };
  private readonly plan: RowPlan;
  private readonly columns: ReadonlyMap<ProductField, number>;
  private readonly width: number;

  constructor(header: { width: number; columns: ReadonlyMap<ProductField, number> }) {
    this.width = header.width;
    this.columns = header.columns;
    this.plan = planRow(header.columns);
  }

  get size(): number {
    return this.processed;
  }

  add(record: CsvRecord): void {
    const { fields, line } = record;
    this.processed++;
    this.checkpoint = { byte: record.endByte, line: record.nextLine };
    if (fields.length !== this.width) {
      const message = `has ${fields.length} field${fields.length === 1 ? '' : 's'} but the header has ${this.width}`;
      this.rejected.push(encodeRejected(line, null, message, fields));
      return;
    }
    if (record.invalidUtf8) {
      this.rejected.push(encodeRejected(line, null, NOT_UTF8, fields));
      return;
    }
    let row = encodeValidRecord(fields, line, this.plan);
    if (!row) {
      const input: Partial<Record<ProductField, string>> = {};
      for (const [field, index] of this.columns) input[field] = fields[index];
      const parsed = productSchema.safeParse(input);
      if (!parsed.success) {
        const { column, message } = describeProblems(parsed.error.issues);
        this.rejected.push(encodeRejected(line, column, message, fields));
        return;
      }
      row = { sku: parsed.data.sku, copy: encodeProduct(parsed.data, line) };
    }
    if (this.rows.delete(row.sku)) this.duplicates++; // re-insert so the later line's position is kept
    this.rows.set(row.sku, row.copy);
  }

  /** The batch so far, encoded; the builder starts over. */
  take(): EncodedBatch {
    let copy = '';
    let lo: string | undefined;
    let hi: string | undefined;
    for (const sku of this.rows.keys()) {
      if (lo === undefined || sku < lo) lo = sku;
      if (hi === undefined || sku > hi) hi = sku;
    }
    for (const line of this.rows.values()) copy += line;
    for (const line of this.rejected) copy += line;
    const batch = {
      copy,
      validRows: this.rows.size,
      processed: this.processed,
      duplicates: this.duplicates,
      checkpoint: this.checkpoint,
      skuRange: lo === undefined || hi === undefined ? null : { lo, hi },
    };
    this.rows = new Map();
    this.rejected = [];
    this.processed = 0;
    this.duplicates = 0;
    return batch;
  }
}
