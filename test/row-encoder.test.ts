import { describe, expect, it } from 'vitest';
import { copyColumns, encodeProduct, encodeValidRecord, planRow, type RowFrame } from '../src/imports/row-encoder.ts';
import { productSchema } from '../src/products/product-schema.ts';
import { PRODUCT_FIELDS, type ProductField } from '../src/products/product-values.ts';

// The CSV fast path must write exactly what the zod schema's result would write, and refuse
// exactly what the schema refuses. Checked here on edge values of every field, in random
// combinations and column subsets.
const SAMPLES: Record<ProductField, string[]> = {
  sku: ['A-1', ' A-1 ', 'a.b_c-9', '', ' ', 'a b', 'x'.repeat(64), 'x'.repeat(65), 'Ä1', 'A\u0000', '\tA\t', 'A,1'],
  name: ['n', ' n ', '', '   ', 'x'.repeat(255), ` ${'x'.repeat(255)} `, 'x'.repeat(256), 'a\u0000b', '\u00a0x\u00a0', 'multi\nline', 'tab\there', 'back\\slash', '=SUM(A1)', 'Café 😀'],
  description: ['', ' ', 'd', 'x'.repeat(5000), 'x'.repeat(5001), 'a\u0000', 'two\r\nlines', '\\N', 'tab\t'],
  price: ['', ' ', '0', '0.5', '.5', '1.', '12.345', '-1', '1e3', ' 19.99 ', '999999999999.99', '9999999999999', '+1', '0x10', '١٢', '007.10'],
  currency: ['', 'eur', 'EUR', ' usd ', 'EURO', 'ABC', 'xxx', 'chf', ' ', 'E U'],
  quantity: ['', '0', '5', '-1', '1.5', '2147483647', '2147483648', '00012', ' 7 ', '9999999999', '1e3', '+3', ' '],
  category: ['', 'c', 'x'.repeat(255), 'x'.repeat(256), 'tab\tcat', 'nul\u0000'],
  status: ['', ' ', 'active', 'Active', 'ARCHIVED', ' inactive ', 'gone', 'actives'],
  updated_at: [
    '', ' ', '2024-05-01', '2024-05-01T12:00:00Z', '2024-06-21T09:29:50.000Z', '2024-06-21T09:29:50.000z', '2024-02-29',
    '2023-02-29', '2024-02-30', '2024-13-01', '2024-01-01T24:00:00Z', '2024-01-01T23:59:60Z', '2024-01-01T10:00',
    '2024-01-01T10:00:00.123456789Z', '2024-01-01T10:00:00+05:30', '2024-01-01T10:00:00-0800', '2024-01-01 10:00:00',
    '0000-01-01', '2024-1-1', ' 2024-05-01 ', '2024-05-01T12:00:00.000+00:00', '1900-02-29', '2000-02-29',
  ],
};


function frameFor(columns: Map<ProductField, number>): RowFrame {
  const blankUpdatedAt = columns.has('updated_at') ? '2026-01-02T03:04:05.678Z' : null;
  return { tenantId: '7', importId: '00000000-0000-4000-8000-000000000001', blankUpdatedAt };
}

function viaSchema(fields: string[], columns: Map<ProductField, number>) {
  const input: Partial<Record<ProductField, string>> = {};
  for (const [field, index] of columns) input[field] = fields[index];
  const parsed = productSchema.safeParse(input);
  return parsed.success ? { sku: parsed.data.sku, copy: encodeProduct(parsed.data, frameFor(columns)) } : undefined;
}

function compare(values: Partial<Record<ProductField, string>>) {
  const columns = new Map<ProductField, number>();
  const fields: string[] = [];
  for (const field of PRODUCT_FIELDS) {
    if (values[field] === undefined) continue;
    columns.set(field, fields.length);
    fields.push(values[field]!);
  }
  const fast = encodeValidRecord(fields, planRow(columns), frameFor(columns));
  expect(fast, JSON.stringify(values)).toEqual(viaSchema(fields, columns));
  // One value per COPY column (tabs inside values are escaped); test/product-table.test.ts loads
  // such lines into products and staging and checks each value lands in its column.
  if (fast) expect(fast.copy.slice(0, -1).split('\t')).toHaveLength(copyColumns(columns.has('updated_at')).split(', ').length);
  return fast !== undefined;
}

const valid = { sku: 'OK-1', name: 'Name' };

describe('the CSV fast path against the zod schema', () => {
  for (const field of PRODUCT_FIELDS) {
    it(`agrees on every sample ${field}`, () => {
      for (const sample of SAMPLES[field]) compare({ ...valid, [field]: sample });
    });
  }

  it('agrees on 20,000 random records with random column subsets', () => {
    let seed = 1234;
    const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const values: Partial<Record<ProductField, string>> = {};
      for (const field of PRODUCT_FIELDS) {
        const required = field === 'sku' || field === 'name';
        if (!required && random() < 0.3) continue; // the file has no such column
        const samples = SAMPLES[field];
        // Mostly valid values, so that whole records pass often enough to compare their encoding.
        values[field] = random() < 0.7 ? (field === 'sku' ? `S-${i}` : samples[field === 'name' ? 0 : 2 + Math.floor(random() * 2)]!) : samples[Math.floor(random() * samples.length)]!;
      }
      if (compare(values)) accepted++;
    }
    expect(accepted).toBeGreaterThan(2000); // both outcomes are well exercised
    expect(accepted).toBeLessThan(18_000);
  });
});
