import { withTransaction, type Pool } from '../db/pool.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import {
  deleteProduct,
  findProduct,
  insertProduct,
  listProducts,
  upsertProduct,
  type ProductRow,
  type ProductSearch,
} from './product-queries.ts';
import type { Product } from './product-schema.ts';

export async function getProduct(pool: Pool, tenantId: string, sku: string): Promise<ProductRow> {
  const row = await findProduct(pool, tenantId, sku);
  if (!row) throw new NotFoundError(`No product with sku "${sku}"`);
  return row;
}

/** A page of the tenant's products by sku (keyset: stable under concurrent writes), optionally searched. */
export function listTenantProducts(
  pool: Pool,
  tenantId: string,
  page: { limit: number; afterSku?: string } & ProductSearch,
): Promise<ProductRow[]> {
  return listProducts(pool, tenantId, page);
}

export async function createProduct(pool: Pool, tenantId: string, product: Product): Promise<ProductRow> {
  const row = await withTransaction(pool, (client) => insertProduct(client, tenantId, product));
  if (!row) throw new ConflictError(`A product with sku "${product.sku}" already exists; use PUT to replace it`);
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
  if (!deleted) throw new NotFoundError(`No product with sku "${sku}"`);
}
