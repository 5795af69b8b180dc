import type { Queryable } from '../db/pool.ts';
import type { Product } from './product-schema.ts';

export type ProductRow = {
  sku: string;
  name: string;
  description: string | null;
  price: string | null;
  currency: string | null;
  quantity: number | null;
  category: string | null;
  status: string;
  updated_at: Date;
  created_at: Date;
  last_import_id: string | null;
};

const COLUMNS = 'sku, name, description, price, currency, quantity, category, status, updated_at, created_at, last_import_id';

function values(tenantId: string, p: Product): unknown[] {
  return [tenantId, p.sku, p.name, p.description ?? null, p.price ?? null, p.currency ?? null, p.quantity ?? null,
    p.category ?? null, p.status, p.updated_at ?? null];
}

export async function findProduct(db: Queryable, tenantId: string, sku: string): Promise<ProductRow | undefined> {
  const { rows } = await db.query<ProductRow>(`select ${COLUMNS} from products where tenant_id = $1 and sku = $2`, [
    tenantId,
    sku,
  ]);
  return rows[0];
}

/** Keyset pagination by sku: stable under concurrent inserts, cheap at any depth. */
export async function listProducts(
  db: Queryable,
  tenantId: string,
  page: { limit: number; afterSku?: string },
): Promise<ProductRow[]> {
  const { rows } = await db.query<ProductRow>(
    `select ${COLUMNS} from products
     where tenant_id = $1 and ($2::text is null or sku > $2)
     order by sku
     limit $3`,
    [tenantId, page.afterSku ?? null, page.limit],
  );
  return rows;
}

/** Returns undefined when the sku already exists. */
export async function insertProduct(db: Queryable, tenantId: string, p: Product): Promise<ProductRow | undefined> {
  const { rows } = await db.query<ProductRow>(
    `insert into products (tenant_id, sku, name, description, price, currency, quantity, category, status, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()))
     on conflict (tenant_id, sku) do nothing
     returning ${COLUMNS}`,
    values(tenantId, p),
  );
  return rows[0];
}

/** Inserts or replaces every field; `inserted` tells which happened. */
export async function upsertProduct(
  db: Queryable,
  tenantId: string,
  p: Product,
): Promise<ProductRow & { inserted: boolean }> {
  const { rows } = await db.query<ProductRow & { inserted: boolean }>(
    `insert into products (tenant_id, sku, name, description, price, currency, quantity, category, status, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()))
     on conflict (tenant_id, sku) do update set
       name = excluded.name, description = excluded.description, price = excluded.price,
       currency = excluded.currency, quantity = excluded.quantity, category = excluded.category,
       status = excluded.status, updated_at = excluded.updated_at, last_import_id = null
     returning ${COLUMNS}, (xmax = 0) as inserted`,
    values(tenantId, p),
  );
  return rows[0]!;
}

export async function deleteProduct(db: Queryable, tenantId: string, sku: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from products where tenant_id = $1 and sku = $2', [tenantId, sku]);
  return (rowCount ?? 0) > 0;
}
