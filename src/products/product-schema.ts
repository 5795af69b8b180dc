import { z } from 'zod';

// One schema for a product, whether it arrives as a CSV record (every value a string) or as
// JSON through the products API (numbers allowed for price and quantity). Blank optional values
// mean "no value" (null). Messages are written to be shown to a person next to a line number.

export const PRODUCT_FIELDS = [
  'sku',
  'name',
  'description',
  'price',
  'currency',
  'quantity',
  'category',
  'status',
  'updated_at',
] as const;
export type ProductField = (typeof PRODUCT_FIELDS)[number];
export const REQUIRED_PRODUCT_FIELDS: readonly ProductField[] = ['sku', 'name'];
export const PRODUCT_STATUSES = ['active', 'inactive', 'archived'] as const;

const SKU_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
// numeric(14,2): up to 12 digits before the point, at most 2 after.
const PRICE_PATTERN = /^\d{1,12}(\.\d{1,2})?$/;
const INTEGER_PATTERN = /^\d{1,10}$/;
const MAX_QUANTITY = 2_147_483_647; // PostgreSQL integer
const CURRENCY_CODES = new Set(Intl.supportedValuesOf('currency'));
// ISO-8601 date, or date-time with optional seconds, fraction and offset.
const ISO_8601_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

type Context = z.core.$RefinementCtx;

function fail(ctx: Context, input: unknown, message: string): never {
  ctx.issues.push({ code: 'custom', input, message });
  return z.NEVER as never;
}

/** PostgreSQL text cannot hold U+0000; refuse it rather than fail the whole batch later. */
const text = (max: number) =>
  z
    .string({ error: 'must be text' })
    .trim()
    .max(max, { error: `must be at most ${max} characters` })
    .refine((value) => !value.includes('\u0000'), { error: 'must not contain a NUL character' });

/** Optional: absent, null or blank all mean "no value". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (typeof value === 'string' && value.trim() === '' ? null : value), schema.nullish());

const price = z.union([z.string(), z.number()], { error: 'must be a number' }).transform((input, ctx) => {
  const value = typeof input === 'number' ? String(input) : input.trim();
  if (!PRICE_PATTERN.test(value)) {
    return fail(ctx, input, 'must be a decimal number ≥ 0 with at most 2 decimal places (e.g. 19.99)');
  }
  return value;
});

const quantity = z.union([z.string(), z.number()], { error: 'must be a whole number' }).transform((input, ctx) => {
  const value = typeof input === 'number' ? input : INTEGER_PATTERN.test(input.trim()) ? Number(input.trim()) : NaN;
  if (!Number.isInteger(value) || value < 0 || value > MAX_QUANTITY) {
    return fail(ctx, input, `must be a whole number from 0 to ${MAX_QUANTITY}`);
  }
  return value;
});

const currency = z.string({ error: 'must be text' }).transform((input, ctx) => {
  const code = input.trim().toUpperCase();
  if (!CURRENCY_CODES.has(code)) return fail(ctx, input, 'must be an ISO-4217 currency code such as EUR or USD');
  return code;
});

const status = z.string({ error: 'must be text' }).transform((input, ctx) => {
  const value = input.trim().toLowerCase();
  if (!(PRODUCT_STATUSES as readonly string[]).includes(value)) {
    return fail(ctx, input, `must be one of ${PRODUCT_STATUSES.join(', ')}`);
  }
  return value as (typeof PRODUCT_STATUSES)[number];
});

/** Normalised to a UTC ISO string; a date-time without offset is taken as UTC. */
const timestamp = z.string({ error: 'must be text' }).transform((input, ctx) => {
  const value = input.trim();
  const iso = isValidIso8601(value) ? new Date(/[zZ]|[+-]\d{2}:?\d{2}$/.test(value) || value.length === 10 ? value : `${value}Z`) : null;
  if (!iso || Number.isNaN(iso.getTime())) {
    return fail(ctx, input, 'must be an ISO-8601 date or date-time (e.g. 2024-05-01T12:00:00Z)');
  }
  return iso.toISOString();
});

/** JavaScript's Date accepts 2024-02-30 and 24:00; a calendar check keeps those out. */
function isValidIso8601(value: string): boolean {
  const match = ISO_8601_PATTERN.exec(value);
  if (!match) return false;
  const [, year, month, day, hour = '0', minute = '0', second = '0'] = match.map((part) => part ?? undefined);
  const y = Number(year);
  const m = Number(month);
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return y >= 1 && m >= 1 && m <= 12 && Number(day) >= 1 && Number(day) <= daysInMonth &&
    Number(hour) <= 23 && Number(minute) <= 59 && Number(second) <= 59;
}

export const productSchema = z
  .strictObject({
    sku: z
      .string({ error: 'is required' })
      .trim()
      .regex(SKU_PATTERN, { error: 'must be 1–64 characters: letters, digits, "-", "_" or "."' }),
    name: z
      .string({ error: 'is required' })
      .trim()
      .min(1, { error: 'is required' })
      .max(255, { error: 'must be at most 255 characters' })
      .refine((value) => !value.includes('\u0000'), { error: 'must not contain a NUL character' }),
    description: optional(text(5000)),
    price: optional(price),
    currency: optional(currency),
    quantity: optional(quantity),
    category: optional(text(255)),
    status: optional(status).transform((value) => value ?? 'active'),
    updated_at: optional(timestamp),
  })
  .meta({
    id: 'ProductInput',
    description: 'A product as written by a CSV row or the products API.',
    example: { sku: 'TSHIRT-RED-M', name: 'T-shirt, red, M', price: '19.99', currency: 'EUR', quantity: 42 },
  });

export type ProductInput = z.input<typeof productSchema>;
export type Product = z.output<typeof productSchema>;

export type FieldProblem = { column: string | null; message: string };

/** One readable line for all of a record's problems, and the first column at fault. */
export function describeProblems(issues: readonly z.core.$ZodIssue[]): FieldProblem {
  const parts = issues.map((issue) => {
    const column = issue.path.length ? String(issue.path[0]) : null;
    if (issue.code === 'unrecognized_keys') return `unknown field(s): ${issue.keys.join(', ')}`;
    return column ? `${column} ${issue.message}` : issue.message;
  });
  const first = issues.find((issue) => issue.path.length > 0);
  return { column: first ? String(first.path[0]) : null, message: parts.join('; ') };
}
