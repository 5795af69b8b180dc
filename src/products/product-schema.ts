import { z } from 'zod';
import {
  INVALID,
  isBlank,
  MAX_CATEGORY,
  MAX_DESCRIPTION,
  MAX_NAME,
  MAX_QUANTITY,
  normalizeCurrency,
  normalizePrice,
  normalizeQuantity,
  normalizeSku,
  normalizeStatus,
  normalizeText,
  normalizeTimestamp,
  PRODUCT_STATUSES,
  type Invalid,
  type ProductField,
} from './product-values.ts';

export { PRODUCT_FIELDS, PRODUCT_STATUSES, REQUIRED_PRODUCT_FIELDS, type ProductField } from './product-values.ts';

// One schema for a product, whether it arrives as a CSV record (every value a string) or as
// JSON through the products API (numbers allowed for price and quantity). Blank optional values
// mean "no value" (null). Messages are written to be shown to a person next to a line number.
// The rules themselves live in product-values.ts, shared with the CSV fast path. The keys are the
// product fields of the products table's definition (product-table.ts): the type checker refuses
// a field missing here or one the table does not have.

/** A zod step applying one rule, with the message a person sees when the value is refused. */
function rule<In, Result>(normalize: (value: In) => Result, message: string) {
  return (input: In, ctx: z.core.$RefinementCtx): Exclude<Result, Invalid> => {
    const value = normalize(input);
    if (value === INVALID) {
      ctx.issues.push({ code: 'custom', input, message });
      return z.NEVER as never;
    }
    return value as Exclude<Result, Invalid>;
  };
}

const text = (max: number) =>
  z.string({ error: 'must be text' }).transform((value, ctx): string => {
    const result = normalizeText(value, max);
    if (result !== INVALID) return result;
    const message = value.trim().length > max ? `must be at most ${max} characters` : 'must not contain a NUL character';
    ctx.issues.push({ code: 'custom', input: value, message });
    return z.NEVER as never;
  });

/** Optional: absent, null or blank all mean "no value". */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (typeof value === 'string' && isBlank(value) ? null : value), schema.nullish());

const numeric = z.union([z.string(), z.number()], { error: 'must be a number' });

export const productSchema = z
  .strictObject({
    sku: z
      .string({ error: 'is required' })
      .transform(rule(normalizeSku, 'must be 1–64 characters: letters, digits, "-", "_" or "."')),
    name: z
      .string({ error: 'is required' })
      .refine((value) => !isBlank(value), { error: 'is required' })
      .pipe(text(MAX_NAME)),
    description: optional(text(MAX_DESCRIPTION)),
    price: optional(numeric.transform(rule(normalizePrice, 'must be a decimal number ≥ 0 with at most 2 decimal places (e.g. 19.99)'))),
    currency: optional(
      z.string({ error: 'must be text' }).transform(rule(normalizeCurrency, 'must be an ISO-4217 currency code such as EUR or USD')),
    ),
    quantity: optional(
      z.union([z.string(), z.number()], { error: 'must be a whole number' })
        .transform(rule(normalizeQuantity, `must be a whole number from 0 to ${MAX_QUANTITY}`)),
    ),
    category: optional(text(MAX_CATEGORY)),
    status: optional(
      z.string({ error: 'must be text' }).transform(rule(normalizeStatus, `must be one of ${PRODUCT_STATUSES.join(', ')}`)),
    ).transform((value) => value ?? 'active'),
    updated_at: optional(
      z
        .string({ error: 'must be text' })
        .transform(rule(normalizeTimestamp, 'must be an ISO-8601 date or date-time (e.g. 2024-05-01T12:00:00Z)')),
    ),
  } satisfies Record<ProductField, z.ZodType>)
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

/** A record's values through the schema: the product, or why it is refused. */
export function checkProduct(input: unknown): { product: Product } | { problem: FieldProblem } {
  const parsed = productSchema.safeParse(input);
  return parsed.success ? { product: parsed.data } : { problem: describeProblems(parsed.error.issues) };
}
