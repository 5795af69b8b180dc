import type { Product } from '../products/product-schema.ts';
import {
  INVALID,
  isBlank,
  MAX_CATEGORY,
  MAX_DESCRIPTION,
  MAX_NAME,
  normalizeCurrency,
  normalizePrice,
  normalizeQuantity,
  normalizeSku,
  normalizeStatus,
  normalizeText,
  normalizeTimestamp,
  type ProductField,
} from '../products/product-values.ts';
import { WRITTEN_COLUMNS } from '../products/product-table.ts';

// Valid rows travel to PostgreSQL as COPY text-format lines in the column order of COPY_COLUMNS,
// straight into products (a batch whose skus are all new) or into the staging table that the
// upsert reads (any other batch). This module writes those lines: straight from a CSV record when
// every value is valid (the fast path: the same rules as the zod schema, without building
// objects), or from a zod result. Rejected records go separately, as RejectedRecord values.
// The columns are every column the application writes, in table order (product-table.ts):
// encodeProduct follows that list; encodeValidRecord, the hot path, is written out by hand for
// speed, and the tests hold it to encodeProduct and the lines of both to the table.

export const COPY_COLUMNS: readonly string[] = WRITTEN_COLUMNS.map((column) => column.name);
const STAMP_COLUMN = WRITTEN_COLUMNS.find((column) => column.role === 'stamp')?.name;

/**
 * What every line of one batch shares: the tenant and import ids, and what a blank updated_at
 * becomes (the batch's time), or null when the file has no updated_at column: the field is then
 * left out of the lines and the database's now() applies.
 */
export type RowFrame = { tenantId: string; importId: string; blankUpdatedAt: string | null };

/** The COPY column list of the lines of a file with, or without, an updated_at column. */
export function copyColumns(withUpdatedAt: boolean): string {
  return COPY_COLUMNS.filter((column) => column !== STAMP_COLUMN || withUpdatedAt).join(', ');
}

export type RejectedRecord = { line: number; column: string | null; message: string; values: string[] };

/** Where each product field is in a record of this file (-1: the file has no such column). */
export type RowPlan = Record<ProductField, number>;

export function planRow(columns: ReadonlyMap<ProductField, number>): RowPlan {
  const at = (field: ProductField) => columns.get(field) ?? -1;
  return {
    sku: at('sku'), name: at('name'), description: at('description'), price: at('price'), currency: at('currency'),
    quantity: at('quantity'), category: at('category'), status: at('status'), updated_at: at('updated_at'),
  };
}

/**
 * The COPY line of a record whose values are all valid, or undefined when any is not (the
 * caller then asks the zod schema, which says why). Gives exactly what encodeProduct gives for
 * the schema's result: the tests hold the two to that.
 */
export function encodeValidRecord(fields: string[], plan: RowPlan, frame: RowFrame): { sku: string; copy: string } | undefined {
  const sku = normalizeSku(fields[plan.sku]!);
  const rawName = fields[plan.name]!;
  if (sku === INVALID || isBlank(rawName)) return undefined;
  const name = normalizeText(rawName, MAX_NAME);
  if (name === INVALID) return undefined;
  let copy = `${frame.tenantId}\t${sku}\t${escapeCopy(name)}`;

  let value: string | number | typeof INVALID | null;
  value = optional(fields, plan.description, (v) => normalizeText(v, MAX_DESCRIPTION));
  if (value === INVALID) return undefined;
  copy += value === null ? '\t\\N' : `\t${escapeCopy(value)}`;
  value = optional(fields, plan.price, normalizePrice);
  if (value === INVALID) return undefined;
  copy += value === null ? '\t\\N' : `\t${value}`;
  value = optional(fields, plan.currency, normalizeCurrency);
  if (value === INVALID) return undefined;
  copy += value === null ? '\t\\N' : `\t${value}`;
  value = optional(fields, plan.quantity, normalizeQuantity);
  if (value === INVALID) return undefined;
  copy += value === null ? '\t\\N' : `\t${value}`;
  value = optional(fields, plan.category, (v) => normalizeText(v, MAX_CATEGORY));
  if (value === INVALID) return undefined;
  copy += value === null ? '\t\\N' : `\t${escapeCopy(value)}`;
  value = optional(fields, plan.status, normalizeStatus);
  if (value === INVALID) return undefined;
  copy += `\t${value ?? 'active'}`;
  value = optional(fields, plan.updated_at, normalizeTimestamp);
  if (value === INVALID) return undefined;
  const updatedAt = frame.blankUpdatedAt === null ? '' : `\t${value ?? frame.blankUpdatedAt}`;
  return { sku, copy: `${copy}${updatedAt}\t${frame.importId}\n` };
}

function optional<T>(fields: string[], index: number, normalize: (value: string) => T): T | null {
  if (index < 0) return null;
  const raw = fields[index]!;
  return isBlank(raw) ? null : normalize(raw);
}

/** The line of a product the zod schema accepted: its values in the order of COPY_COLUMNS. */
export function encodeProduct(product: Product, frame: RowFrame): string {
  const cells: string[] = [];
  for (const column of WRITTEN_COLUMNS) {
    if (column.role === 'tenant') cells.push(frame.tenantId);
    else if (column.role === 'import') cells.push(frame.importId);
    else if (column.role === 'stamp') {
      if (frame.blankUpdatedAt !== null) cells.push(cell(product[column.name as ProductField] ?? frame.blankUpdatedAt));
    } else cells.push(cell(product[column.name as ProductField]));
  }
  return `${cells.join('\t')}\n`;
}

function cell(value: string | number | null | undefined): string {
  return value === null || value === undefined ? '\\N' : escapeCopy(String(value));
}

/** A rejected record: its line, why, and its values as they were (NUL, which text cannot hold, as U+FFFD). */
export function rejectRecord(line: number, column: string | null, message: string, values: string[]): RejectedRecord {
  return { line, column, message, values: values.map((value) => value.replaceAll('\u0000', '\uFFFD')) };
}

/** COPY text format: backslash, tab, CR and LF are escaped. */
export function escapeCopy(text: string): string {
  return COPY_SPECIALS.test(text) ? text.replace(COPY_SPECIALS_ALL, (c) => COPY_ESCAPES[c]!) : text;
}
const COPY_SPECIALS = /[\\\t\n\r]/;
const COPY_SPECIALS_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
