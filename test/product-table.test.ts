import { finished } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareWriterSession } from '../src/imports/batch-writer.ts';
import { COPY_COLUMNS, copyColumns, encodeProduct, encodeValidRecord, planRow, type RowFrame } from '../src/imports/row-encoder.ts';
import { findProduct, insertProduct, listProducts, upsertProduct } from '../src/products/product-queries.ts';
import { productSchema } from '../src/products/product-schema.ts';
import {
  KEY_COLUMNS,
  PRODUCT_FIELDS,
  PRODUCT_TABLE,
  REQUIRED_PRODUCT_FIELDS,
  SHOWN_COLUMNS,
  WRITTEN_COLUMNS,
  type ProductField,
} from '../src/products/product-table.ts';
import { productViewSchema, toProductView } from '../src/products/product-view.ts';
import { createTestDatabase } from './helpers/test-service.ts';

// product-table.ts is the one definition of the products table's columns; these checks hold it to
// the table the migrations create, and everything derived from it (or written by hand against it)
// to the definition: a column added, dropped or retyped in one place only fails here.

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = new pg.Pool({ connectionString: database.connectionString, max: 3 });
});
afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

type CatalogColumn = { name: string; type: string; nullable: boolean; has_default: boolean };

async function columnsOf(db: pg.Pool | pg.PoolClient, table: string): Promise<CatalogColumn[]> {
  const { rows } = await db.query<CatalogColumn>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, not a.attnotnull as nullable,
            a.atthasdef as has_default
     from pg_attribute a
     where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped
     order by a.attnum`,
    [table],
  );
  return rows;
}

const names = (columns: readonly { name: string }[]) => columns.map((column) => column.name);
const isField = (name: string): name is ProductField => (PRODUCT_FIELDS as readonly string[]).includes(name);

describe('the products table definition (product-table.ts)', () => {
  it('is the migrated table: every column in order, with its type and nullability', async () => {
    const table = await columnsOf(pool, 'public.products');
    expect(table.map(({ name, type, nullable }) => ({ name, type, nullable }))).toEqual(
      PRODUCT_TABLE.map(({ name, type, nullable }) => ({ name, type, nullable })),
    );
    // information_schema says the same (the catalog query above is what gives numeric(14,2) whole).
    const { rows } = await pool.query(
      `select column_name as name, is_nullable = 'YES' as nullable from information_schema.columns
       where table_schema = 'public' and table_name = 'products' order by ordinal_position`,
    );
    expect(rows).toEqual(PRODUCT_TABLE.map(({ name, nullable }) => ({ name, nullable })));
  });

  it('has the primary key, and a default for every column that writes may leave out', async () => {
    const { rows } = await pool.query<{ name: string }>(
      `select a.attname as name
       from pg_index i cross join unnest(i.indkey::int2[]) with ordinality as k(attnum, position)
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
       where i.indrelid = 'public.products'::regclass and i.indisprimary
       order by k.position`,
    );
    expect(names(rows)).toEqual(KEY_COLUMNS);
    const table = await columnsOf(pool, 'public.products');
    // created_at is never written; updated_at is left out of a file without it.
    const defaulted = table.filter((column) => column.has_default).map((column) => column.name);
    for (const column of PRODUCT_TABLE.filter((c) => c.role === 'created' || c.role === 'stamp')) {
      expect(defaulted).toContain(column.name);
    }
  });

  it('names the product fields of the zod schema, requiring exactly the required ones', () => {
    expect(Object.keys(productSchema.shape)).toEqual(PRODUCT_FIELDS);
    const parsed = productSchema.safeParse({});
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((issue) => issue.path[0])).toEqual(REQUIRED_PRODUCT_FIELDS);
  });

  it('gives the COPY columns: every column the application writes, in table order', () => {
    expect(COPY_COLUMNS).toEqual(names(PRODUCT_TABLE.filter((column) => column.role !== 'created')));
    expect(COPY_COLUMNS).toEqual(names(WRITTEN_COLUMNS));
    expect(copyColumns(true).split(', ')).toEqual(COPY_COLUMNS);
    expect(copyColumns(false).split(', ')).toEqual(COPY_COLUMNS.filter((column) => column !== 'updated_at'));
  });
});

describe('the import staging table (prepareWriterSession)', () => {
  it('has the COPY columns, each product field typed as in products, the ids as text', async () => {
    const client = await pool.connect();
    try {
      await prepareWriterSession(client);
      const staging = await columnsOf(client, 'pg_temp.import_staging');
      const table = await columnsOf(pool, 'public.products');
      const typeIn = (name: string) => table.find((column) => column.name === name)?.type;
      expect(staging.map(({ name, type }) => ({ name, type }))).toEqual(
        COPY_COLUMNS.map((name) => ({ name, type: isField(name) ? typeIn(name) : 'text' })),
      );
    } finally {
      await client.query('reset synchronous_commit');
      client.release();
    }
  });
});

describe('COPY lines', () => {
  const importId = '00000000-0000-4000-8000-0000000000c0';
  const record: Record<ProductField, string> = {
    sku: 'COPY-1',
    name: 'Tab\there',
    description: 'Back\\slash\nnewline',
    price: '1.5',
    currency: 'eur',
    quantity: '7',
    category: 'cat',
    status: 'Inactive',
    updated_at: '2024-05-01T12:00:00Z',
  };
  // What each column holds afterwards, as PostgreSQL's text (TimeZone UTC).
  const stored: Record<string, string | null> = {
    tenant_id: '7',
    sku: 'COPY-1',
    name: 'Tab\there',
    description: 'Back\\slash\nnewline',
    price: '1.50',
    currency: 'EUR',
    quantity: '7',
    category: 'cat',
    status: 'inactive',
    updated_at: '2024-05-01 12:00:00+00',
    last_import_id: importId,
  };

  async function copyInto(client: pg.PoolClient, table: string, columns: string, line: string): Promise<void> {
    const copy = client.query(copyFrom(`copy ${table} (${columns}) from stdin`));
    copy.end(line);
    await finished(copy);
  }

  async function readBack(client: pg.PoolClient, table: string): Promise<Record<string, string | null>> {
    const { rows } = await client.query(`select ${COPY_COLUMNS.map((c) => `${c}::text`).join(', ')} from ${table} where sku = 'COPY-1'`);
    expect(rows).toHaveLength(1);
    return rows[0];
  }

  for (const withUpdatedAt of [true, false]) {
    it(`put each value in its column, into products and into staging (${withUpdatedAt ? 'with' : 'without'} updated_at)`, async () => {
      const fields = PRODUCT_FIELDS.filter((field) => withUpdatedAt || field !== 'updated_at');
      const frame: RowFrame = { tenantId: '7', importId, blankUpdatedAt: withUpdatedAt ? '2026-01-01T00:00:00.000Z' : null };
      const fast = encodeValidRecord(
        fields.map((field) => record[field]),
        planRow(new Map(fields.map((field, index) => [field, index]))),
        frame,
      );
      const parsed = productSchema.parse(Object.fromEntries(fields.map((field) => [field, record[field]])));
      expect(fast?.copy).toBe(encodeProduct(parsed, frame));
      const columns = copyColumns(withUpdatedAt);
      expect(fast!.copy.slice(0, -1).split('\t')).toHaveLength(columns.split(', ').length);

      const expected = withUpdatedAt ? stored : { ...stored, updated_at: expect.any(String) };
      const client = await pool.connect();
      try {
        await prepareWriterSession(client);
        await client.query("begin; set local timezone = 'UTC'");
        await copyInto(client, 'products', columns, fast!.copy);
        expect(await readBack(client, 'products')).toEqual(expected);
        await copyInto(client, 'import_staging', columns, fast!.copy);
        expect(await readBack(client, 'import_staging')).toEqual(withUpdatedAt ? stored : { ...stored, updated_at: null });
      } finally {
        await client.query('rollback');
        await client.query('reset synchronous_commit');
        client.release();
      }
    });
  }
});

describe('the products queries and the API view', () => {
  it('read every shown column, and the view has exactly those keys', async () => {
    const shown = names(SHOWN_COLUMNS);
    expect(Object.keys(productViewSchema.shape)).toEqual(shown);
    const product = productSchema.parse({ sku: 'VIEW-1', name: 'View', price: '2', quantity: 3, updated_at: '2024-01-02' });
    const inserted = await insertProduct(pool, '8', product);
    expect(Object.keys(inserted!)).toEqual(shown);
    const replaced = await upsertProduct(pool, '8', { ...product, name: 'Replaced', price: null });
    expect(Object.keys(replaced)).toEqual([...shown, 'inserted']);
    expect(replaced).toMatchObject({ inserted: false, name: 'Replaced', price: null, quantity: 3, last_import_id: null });
    const found = await findProduct(pool, '8', 'VIEW-1');
    expect(Object.keys(found!)).toEqual(shown);
    expect((await listProducts(pool, '8', { limit: 10 })).map((row) => Object.keys(row))).toEqual([shown]);
    const view = toProductView(found!);
    expect(productViewSchema.parse(view)).toEqual(view);
    expect(view).toMatchObject({ sku: 'VIEW-1', name: 'Replaced', quantity: 3, updated_at: '2024-01-02T00:00:00.000Z' });
  });
});
