// The rules for each product value as plain functions: the zod schema (product-schema.ts) wraps
// them with messages for the API and for rejected rows, and the CSV fast path (row-encoder.ts)
// calls them directly for the rows that are valid, which is nearly all of them. One definition,
// so the two can only agree; tests check that they do on every kind of value.

// The fields themselves (names, which are required) come from the products table's definition.
export { PRODUCT_FIELDS, REQUIRED_PRODUCT_FIELDS, type ProductField } from './product-table.ts';

export const PRODUCT_STATUSES = ['active', 'inactive', 'archived'] as const;
export type ProductStatus = (typeof PRODUCT_STATUSES)[number];

export const MAX_NAME = 255;
export const MAX_DESCRIPTION = 5000;
export const MAX_CATEGORY = 255;
export const MAX_QUANTITY = 2_147_483_647; // PostgreSQL integer

/** Returned by a rule for a value it refuses. */
export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

export const SKU_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
// numeric(14,2): up to 12 digits before the point, at most 2 after.
const PRICE_PATTERN = /^\d{1,12}(\.\d{1,2})?$/;
const INTEGER_PATTERN = /^\d{1,10}$/;
const CURRENCY_CODES = new Set(Intl.supportedValuesOf('currency'));
// ISO-8601 date, or date-time with optional seconds, fraction and offset.
const ISO_8601_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;
// What Date#toISOString gives back: such a value needs only its calendar checked.
const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const STATUSES = new Set<string>(PRODUCT_STATUSES);

/** Optional values: blank (after trimming) means "no value". */
export function isBlank(value: string): boolean {
  return value.trim() === '';
}

export function normalizeSku(value: string): string | Invalid {
  const sku = value.trim();
  return SKU_PATTERN.test(sku) ? sku : INVALID;
}

/** Trimmed text of at most `max` characters; PostgreSQL text cannot hold U+0000. */
export function normalizeText(value: string, max: number): string | Invalid {
  const text = value.trim();
  return text.length <= max && !text.includes('\u0000') ? text : INVALID;
}

export function normalizePrice(value: string | number): string | Invalid {
  const price = typeof value === 'number' ? String(value) : value.trim();
  return PRICE_PATTERN.test(price) ? price : INVALID;
}

export function normalizeQuantity(value: string | number): number | Invalid {
  const trimmed = typeof value === 'number' ? '' : value.trim();
  const quantity = typeof value === 'number' ? value : INTEGER_PATTERN.test(trimmed) ? Number(trimmed) : NaN;
  return Number.isInteger(quantity) && quantity >= 0 && quantity <= MAX_QUANTITY ? quantity : INVALID;
}

export function normalizeCurrency(value: string): string | Invalid {
  const code = value.trim().toUpperCase();
  return CURRENCY_CODES.has(code) ? code : INVALID;
}

export function normalizeStatus(value: string): ProductStatus | Invalid {
  const status = value.trim().toLowerCase();
  return STATUSES.has(status) ? (status as ProductStatus) : INVALID;
}

/**
 * An ISO-8601 date or date-time as a UTC ISO string; a date-time without offset is taken as UTC.
 * JavaScript's Date accepts 2024-02-30 and 24:00, so the calendar is checked here first.
 */
export function normalizeTimestamp(value: string): string | Invalid {
  // Most files carry exactly what toISOString writes: read its digits in place (a hot path).
  if (value.length === 24 && CANONICAL_ISO.test(value)) {
    const digits = (from: number, to: number) => {
      let n = 0;
      for (let i = from; i < to; i++) n = n * 10 + value.charCodeAt(i) - 48;
      return n;
    };
    const valid = isCalendarTime(digits(0, 4), digits(5, 7), digits(8, 10), digits(11, 13), digits(14, 16), digits(17, 19));
    return valid ? value : INVALID;
  }
  const text = value.trim();
  const match = ISO_8601_PATTERN.exec(text);
  if (!match) return INVALID;
  const [hour, minute, second] = match[4] === undefined ? [0, 0, 0] : [Number(match[4]), Number(match[5]), Number(match[6] ?? 0)];
  if (!isCalendarTime(Number(match[1]), Number(match[2]), Number(match[3]), hour, minute, second)) return INVALID;
  if (CANONICAL_ISO.test(text)) return text;
  const date = new Date(text.length === 10 || match[7] !== undefined ? text : `${text}Z`);
  return Number.isNaN(date.getTime()) ? INVALID : date.toISOString();
}

function isCalendarTime(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return false;
  return hour <= 23 && minute <= 59 && second <= 59;
}
