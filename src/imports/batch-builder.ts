import type { checkProduct } from '../products/product-schema.ts';
import type { ProductField } from '../products/product-values.ts';
import type { CsvRecord } from './read-csv-records.ts';
import { encodeProduct, encodeValidRecord, planRow, rejectRecord, type RejectedRecord, type RowFrame, type RowPlan } from './row-encoder.ts';

/** A batch ready for the database: its valid rows as COPY lines in sku order, its rejected records, its counts. */
export type EncodedBatch = {
  /** UTF-8 bytes, so the parser thread can hand them over without a copy (a transfer). */
  copy: Uint8Array;
  rejected: RejectedRecord[];
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
  /** Whether any of its skus is also one of the batch before it (which then must commit first). */
  sharesSkus: boolean;
  /** Parser-thread time for this batch (ms): reading and splitting its records, checking and encoding its rows. */
  stages?: { parseMs: number; validateMs: number };
};

const NOT_UTF8 =
  'contains bytes that are not valid UTF-8 (is the file saved in another encoding, such as Windows-1252? Save it as UTF-8)';

/**
 * Turns records into batches. Valid records take the fast path (row-encoder.ts); only a record
 * it refuses meets the zod schema, which says why it is rejected. The schema is handed in when
 * first needed (useSchema): a clean file never loads zod into the parser thread (~30 MB).
 */
export class BatchBuilder {
  private rows = new Map<string, string>();
  /** The last batch's skus, sorted, as copies (a sku is often a slice of a whole chunk of the file, which keeping it would keep). */
  private previousSkus: string[] = [];
  private rejected: RejectedRecord[] = [];
  private processed = 0;
  private duplicates = 0;
  private checkpointByte = 0;
  private checkpointLine = 0;
  private readonly plan: RowPlan;
  private readonly columns: ReadonlyMap<ProductField, number>;
  private readonly width: number;
  private readonly frame: RowFrame;
  private check: typeof checkProduct | undefined;

  constructor(header: { width: number; columns: ReadonlyMap<ProductField, number> }, target: { tenantId: string; importId: string }) {
    this.width = header.width;
    this.columns = header.columns;
    this.plan = planRow(header.columns);
    // A blank updated_at means "when it was imported": the time its batch was started.
    this.frame = { ...target, blankUpdatedAt: this.plan.updated_at < 0 ? null : new Date().toISOString() };
  }

  get size(): number {
    return this.processed;
  }

  useSchema(check: typeof checkProduct): void {
    this.check = check;
  }

  /** Takes a record; false (and nothing taken) when it needs the schema and none was given yet. */
  add(record: CsvRecord): boolean {
    const { fields, line } = record;
    let rejection: { column: string | null; message: string } | undefined;
    let row: { sku: string; copy: string } | undefined;
    if (fields.length !== this.width) {
      rejection = { column: null, message: `has ${fields.length} field${fields.length === 1 ? '' : 's'} but the header has ${this.width}` };
    } else if (record.invalidUtf8) {
      rejection = { column: null, message: NOT_UTF8 };
    } else {
      row = encodeValidRecord(fields, this.plan, this.frame);
      if (!row) {
        if (!this.check) return false;
        const input: Partial<Record<ProductField, string>> = {};
        for (const [field, index] of this.columns) input[field] = fields[index];
        const result = this.check(input);
        if ('problem' in result) rejection = result.problem;
        else row = { sku: result.product.sku, copy: encodeProduct(result.product, this.frame) };
      }
    }
    this.processed++;
    this.checkpointByte = record.endByte;
    this.checkpointLine = record.nextLine;
    if (row) {
      const before = this.rows.size;
      this.rows.set(row.sku, row.copy); // the later line wins (rows are sorted by sku when taken)
      if (this.rows.size === before) this.duplicates++;
    } else {
      this.rejected.push(rejectRecord(line, rejection!.column, rejection!.message, fields));
    }
    return true;
  }

  /** The batch so far, its lines turned into UTF-8 bytes by `encode`; the builder starts over. */
  take(encode: (text: string) => Uint8Array): EncodedBatch {
    // Rows go in sku order (code-unit order, which is byte order for skus): every writer of a
    // tenant's products then takes row locks in the same order, so concurrent imports queue
    // instead of deadlocking. Files are usually sorted already, which one pass finds out.
    let skus = [...this.rows.keys()];
    if (!isSorted(skus)) skus = skus.sort();
    let copy = '';
    for (const sku of skus) copy += this.rows.get(sku)!;
    const batch: EncodedBatch = {
      copy: encode(copy),
      rejected: this.rejected,
      validRows: this.rows.size,
      processed: this.processed,
      duplicates: this.duplicates,
      checkpoint: { byte: this.checkpointByte, line: this.checkpointLine },
      skuRange: skus.length === 0 ? null : { lo: skus[0]!, hi: skus.at(-1)! },
      sharesSkus: intersect(this.previousSkus, skus),
    };
    this.previousSkus = skus.join('\n').split('\n');
    this.rows = new Map();
    this.rejected = [];
    this.processed = 0;
    this.duplicates = 0;
    if (this.frame.blankUpdatedAt !== null) this.frame.blankUpdatedAt = new Date().toISOString();
    return batch;
  }
}

/** Whether two sorted lists have a key in common. */
function intersect(a: string[], b: string[]): boolean {
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    if (a[i] === b[j]) return true;
    if (a[i]! < b[j]!) i++;
    else j++;
  }
  return false;
}

function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}
