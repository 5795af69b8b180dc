import { z } from 'zod';
import { PRODUCT_STATUSES } from './product-schema.ts';
import type { ProductRow } from './product-table.ts';

// A product as the API shows it: every column of a product row (product-table.ts SHOWN_COLUMNS),
// the type checker refusing a key the row does not have or a column left out.
export const productViewSchema = z
  .object({
    sku: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    price: z.string().nullable().meta({ description: 'Decimal as a string (never a float), e.g. "19.99"' }),
    currency: z.string().nullable(),
    quantity: z.number().int().nullable(),
    category: z.string().nullable(),
    status: z.enum(PRODUCT_STATUSES),
    updated_at: z.iso.datetime(),
    created_at: z.iso.datetime(),
    last_import_id: z.uuid().nullable().meta({ description: 'The import that last wrote this product, if any' }),
  } satisfies Record<keyof ProductRow, z.ZodType>)
  .meta({ id: 'Product' });

export type ProductView = z.infer<typeof productViewSchema>;

export function toProductView(row: ProductRow): ProductView {
  return {
    sku: row.sku,
    name: row.name,
    description: row.description,
    price: row.price,
    currency: row.currency,
    quantity: row.quantity,
    category: row.category,
    status: row.status as ProductView['status'],
    updated_at: row.updated_at.toISOString(),
    created_at: row.created_at.toISOString(),
    last_import_id: row.last_import_id,
  };
}
