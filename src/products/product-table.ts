// The products table, column by column, as migrations/ leave it: the one definition the rest of
// the code takes product columns from. Validation (product fields, which are required), the COPY
// column order, the import's staging table, the products queries and the API view derive from it;
// test/product-table.test.ts fails when it and the migrated table (or any of those) disagree.
// A new column is a migration plus a line here; the type checker then points at every place that
// must say what to do with it (the zod schema, the view, the CSV fast path).
//
// No imports: the CSV parser thread loads this (through product-values.ts) without zod.

/**
 * What a column is to the application:
 *  - tenant: the owning tenant, from the API key; written by every insert, never shown;
 *  - required / optional: a product field (CSV column, JSON property); an optional one may be
 *    blank or absent, and an import whose file lacks the column leaves the stored value alone;
 *  - stamp: an optional product field that is now() when not given, on an import without the
 *    column too (updated_at);
 *  - import: the import that last wrote the row (null when written through the API);
 *  - created: set by the database on insert, never written by the application.
 */
export type ProductColumnRole = 'tenant' | 'required' | 'optional' | 'stamp' | 'import' | 'created';

export type ProductColumn = {
  name: string;
  /** As PostgreSQL's format_type spells it (what the migrations created). */
  type: string;
  nullable: boolean;
  role: ProductColumnRole;
  /** Part of the primary key (tenant_id, sku). */
  key?: true;
};

export const PRODUCT_TABLE = [
  { name: 'tenant_id', type: 'bigint', nullable: false, role: 'tenant', key: true },
  { name: 'sku', type: 'text', nullable: false, role: 'required', key: true },
  { name: 'name', type: 'text', nullable: false, role: 'required' },
  { name: 'description', type: 'text', nullable: true, role: 'optional' },
  { name: 'price', type: 'numeric(14,2)', nullable: true, role: 'optional' },
  { name: 'currency', type: 'text', nullable: true, role: 'optional' },
  { name: 'quantity', type: 'integer', nullable: true, role: 'optional' },
  { name: 'category', type: 'text', nullable: true, role: 'optional' },
  { name: 'status', type: 'text', nullable: false, role: 'optional' },
  { name: 'updated_at', type: 'timestamp with time zone', nullable: false, role: 'stamp' },
  { name: 'created_at', type: 'timestamp with time zone', nullable: false, role: 'created' },
  { name: 'last_import_id', type: 'uuid', nullable: true, role: 'import' },
] as const satisfies readonly ProductColumn[];

type Column = (typeof PRODUCT_TABLE)[number];
type FieldColumn = Extract<Column, { role: 'required' | 'optional' | 'stamp' }>;

/** A product's own values: what a CSV row or an API request gives. */
export type ProductField = FieldColumn['name'];

const isField = (column: Column): column is FieldColumn =>
  column.role === 'required' || column.role === 'optional' || column.role === 'stamp';

/** The product fields in table order (the CSV header's known names, the zod schema's keys). */
export const PRODUCT_FIELDS: readonly ProductField[] = PRODUCT_TABLE.filter(isField).map((column) => column.name);
export const REQUIRED_PRODUCT_FIELDS: readonly ProductField[] = PRODUCT_TABLE.filter(isField)
  .filter((column) => column.role === 'required')
  .map((column) => column.name);
/** Every column the application writes, in table order: the COPY columns of an import. */
export const WRITTEN_COLUMNS: readonly ProductColumn[] = PRODUCT_TABLE.filter((column) => column.role !== 'created');
/** Every column a product row is read with (the API's view of a product), in table order. */
export const SHOWN_COLUMNS: readonly ProductColumn[] = PRODUCT_TABLE.filter((column) => column.role !== 'tenant');
/** The primary key's columns, in order. */
export const KEY_COLUMNS: readonly string[] = PRODUCT_TABLE.filter((column) => 'key' in column).map((column) => column.name);

/** How node-postgres gives back each type (numeric and bigint as exact strings). */
type ValueOf<Type extends string> = Type extends 'integer'
  ? number
  : Type extends 'timestamp with time zone'
    ? Date
    : string;
type RowOf<C extends Column> = {
  [K in C as K['name']]: ValueOf<K['type']> | (K['nullable'] extends true ? null : never);
};

/** A product as read from the table (SHOWN_COLUMNS). */
export type ProductRow = RowOf<Exclude<Column, { role: 'tenant' }>>;
