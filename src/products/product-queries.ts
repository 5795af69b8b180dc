import type { Queryable } from '../db/pool.ts';
import type { Product } from './product-schema.ts';
import { KEY_COLUMNS, SHOWN_COLUMNS, WRITTEN_COLUMNS, type ProductField, type ProductRow } from './product-table.ts';

export type { ProductRow } from './product-table.ts';

// Column lists from the products table's definition (product-table.ts). A row is read with every
// column but the tenant. A product is written as its tenant and its fields, a missing updated_at
// (the stamp) becoming now() as the column's default would; a replace writes every field (the API
// gives all of them) and the row no longer counts as written by an import.
const COLUMNS = SHOWN_COLUMNS.map((column) => column.name).join(', ');
const WRITTEN = WRITTEN_COLUMNS.filter((column) => column.role !== 'import');
const INSERT = `insert into products (${WRITTEN.map((column) => column.name).join(', ')})
     values (${WRITTEN.map((column, i) => (column.role === 'stamp' ? `coalesce($${i + 1}, now())` : `$${i + 1}`)).join(', ')})
     on conflict (${KEY_COLUMNS.join(', ')})`;
const REPLACE = [
  ...WRITTEN.filter((column) => !column.key).map((column) => `${column.name} = excluded.${column.name}`),
  ...WRITTEN_COLUMNS.filter((column) => column.role === 'import').map((column) => `${column.name} = null`),
].join(', ');

function values(tenantId: string, p: Product): unknown[] {
  return WRITTEN.map((column) => (column.role === 'tenant' ? tenantId : (p[column.name as ProductField] ?? null)));
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
    `${INSERT} do nothing
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
    `${INSERT} do update set ${REPLACE}
     returning ${COLUMNS}, (xmax = 0) as inserted`,
    values(tenantId, p),
  );
  return rows[0]!;
}

export async function deleteProduct(db: Queryable, tenantId: string, sku: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from products where tenant_id = $1 and sku = $2', [tenantId, sku]);
  return (rowCount ?? 0) > 0;
}
