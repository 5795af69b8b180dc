import { withTransaction, type Pool } from '../db/pool.ts';
import { ApiError } from '../http/errors.ts';
import { deleteProduct, insertProduct, upsertProduct, type ProductRow } from './product-queries.ts';
import type { Product } from './product-schema.ts';

export async function createProduct(pool: Pool, tenantId: string, product: Product): Promise<ProductRow> {
  const row = await withTransaction(pool, (client) => insertProduct(client, tenantId, product));
  if (!row) throw new ApiError('conflict', `A product with sku "${product.sku}" already exists; use PUT to replace it`);
  return row;
}

export async function replaceProduct(
  pool: Pool,
  tenantId: string,
  product: Product,
): Promise<ProductRow & { inserted: boolean }> {
  return withTransaction(pool, (client) => upsertProduct(client, tenantId, product));
}

export async function removeProduct(pool: Pool, tenantId: string, sku: string): Promise<void> {
  const deleted = await withTransaction(pool, (client) => deleteProduct(client, tenantId, sku));
  if (!deleted) throw new ApiError('not_found', `No product with sku "${sku}"`);
}
