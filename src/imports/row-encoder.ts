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

// Rows travel to PostgreSQL as COPY text-format lines for the staging table:
//   line, sku, name, description, price, currency, quantity, category, status, updated_at,
//   error_column, error_message, raw_values
// This module writes those lines: straight from a CSV record when every value is valid (the fast
// path: the same rules as the zod schema, without building objects), or from a zod result.

export const STAGING_COLUMNS = [
  'line', 'sku', 'name', 'description', 'price', 'currency', 'quantity', 'category', 'status', 'updated_at',
  'error_column', 'error_message', 'raw_values',
] as const;

const NO_ERROR = '\t\\N\t\\N\t\\N\n';

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
 * The staging line of a record whose values are all valid, or undefined when any is not (the
 * caller then asks the zod schema, which says why). Gives exactly what encodeProduct gives for
 * the schema's result: the tests hold the two to that.
 */
export function encodeValidRecord(fields: string[], line: number, plan: RowPlan): { sku: string; copy: string } | undefined {
  const sku = normalizeSku(fields[plan.sku]!);
  const rawName = fields[plan.name]!;
  if (sku === INVALID || isBlank(rawName)) return undefined;
  const name = normalizeText(rawName, MAX_NAME);
  if (name === INVALID) return undefined;
  let copy = `${line}\t${sku}\t${escapeCopy(name)}`;

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
  copy += value === null ? '\t\\N' : `\t${value}`;
  return { sku, copy: copy + NO_ERROR };
}

function optional<T>(fields: string[], index: number, normalize: (value: string) => T): T | null {
  if (index < 0) return null;
  const raw = fields[index]!;
  return isBlank(raw) ? null : normalize(raw);
}

/** The staging line of a product the zod schema accepted. */
export function encodeProduct(product: Product, line: number): string {
  const cell = (value: string | number | null | undefined) => (value === null || value === undefined ? '\\N' : escapeCopy(String(value)));
  return (
    `${line}\t${cell(product.sku)}\t${cell(product.name)}\t${cell(product.description)}\t${cell(product.price)}` +
    `\t${cell(product.currency)}\t${cell(product.quantity)}\t${cell(product.category)}\t${cell(product.status)}` +
    `\t${cell(product.updated_at)}${NO_ERROR}`
  );
}

/** The staging line of a rejected record: its line, why, and its values as they were. */
export function encodeRejected(line: number, column: string | null, message: string, values: string[]): string {
  return `${line}${'\t\\N'.repeat(9)}\t${column === null ? '\\N' : escapeCopy(column)}\t${escapeCopy(message)}\t${escapeCopy(toArrayLiteral(values))}\n`;
}

/** COPY text format: backslash, tab, CR and LF are escaped. */
export function escapeCopy(text: string): string {
  return COPY_SPECIALS.test(text) ? text.replace(COPY_SPECIALS_ALL, (c) => COPY_ESCAPES[c]!) : text;
}
const COPY_SPECIALS = /[\\\t\n\r]/;
const COPY_SPECIALS_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A text[] literal; NUL (which PostgreSQL text cannot hold) becomes U+FFFD in the kept raw values. */
function toArrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/\u0000/g, '\uFFFD').replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}
