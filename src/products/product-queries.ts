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

export type ProductSearch = {
  /** Only skus starting with this (byte-wise, as skus compare: collate "C"). */
  skuPrefix?: string;
  /** Only names containing this, case-insensitively. */
  name?: string;
};

/**
 * The smallest string after every string that starts with `prefix`, in code-point order (which is
 * UTF-8 byte order, the order of collate "C"): the prefix with its last character incremented.
 * Undefined when there is none (an empty prefix). `sku >= prefix and sku < successor` is then a
 * range scan of the (tenant_id, sku) primary key.
 */
export function prefixSuccessor(prefix: string): string | undefined {
  const chars = Array.from(prefix);
  while (chars.length > 0) {
    const last = chars.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) return chars.join('') + String.fromCodePoint(last + 1 === 0xd800 ? 0xe000 : last + 1);
  }
  return undefined;
}

/** `text` as a literal inside a LIKE pattern (its %, _ and \ escaped). */
export const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Keyset pagination by sku: stable under concurrent inserts, cheap at any depth. A sku prefix is a
 * range on the primary key; a name filter is checked on the rows that range walks in sku order,
 * stopping at the page's limit (no index on name: see test/product-search.test.ts).
 */
export async function listProducts(
  db: Queryable,
  tenantId: string,
  page: { limit: number; afterSku?: string } & ProductSearch,
): Promise<ProductRow[]> {
  const prefix = page.skuPrefix || undefined;
  const { rows } = await db.query<ProductRow>(
    `select ${COLUMNS} from products
     where tenant_id = $1 and ($2::text is null or sku > $2)
       and ($4::text is null or sku >= $4) and ($5::text is null or sku < $5)
       and ($6::text is null or name ilike $6)
     order by sku
     limit $3`,
    [
      tenantId,
      page.afterSku ?? null,
      page.limit,
      prefix ?? null,
      prefix === undefined ? null : (prefixSuccessor(prefix) ?? null),
      page.name ? `%${likeLiteral(page.name)}%` : null,
    ],
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
