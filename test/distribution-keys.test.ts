import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../src/db/pool.ts';
import { createTestDatabase } from './helpers/test-service.ts';

// The path beyond one PostgreSQL server (docs/scaling.md): `products` hash-partitioned or
// distributed by tenant (Citus). That needs every unique key of a distributed table to contain
// its distribution column. This test reads the migrated schema, so a new unique key that is not
// scoped by tenant breaks it, and says which.
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.connectionString, 2);
});
afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

async function uniqueKeys(): Promise<{ table: string; index: string; columns: string[] }[]> {
  const { rows } = await pool.query(
    `select c.relname as "table", i.relname as index,
            array(select a.attname::text from unnest(ix.indkey) with ordinality k(attnum, n)
                  join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum order by k.n) as columns
     from pg_index ix join pg_class i on i.oid = ix.indexrelid join pg_class c on c.oid = ix.indrelid
     join pg_namespace s on s.oid = c.relnamespace
     where ix.indisunique and s.nspname = 'public'
     order by 1, 2`,
  );
  return rows;
}

describe('unique keys, ready for distribution by tenant', () => {
  it('products, the table that grows with the data, has only unique keys that start with tenant_id', async () => {
    const keys = (await uniqueKeys()).filter((key) => key.table === 'products');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key.columns[0], key.index).toBe('tenant_id');
  });

  // Known, with why (docs/scaling.md): a key looked up before the tenant is known (credentials)
  // stays global, on a table that would not be distributed; two keys are scoped by a parent that
  // is itself a tenant's (an import, a webhook endpoint), and would gain tenant_id in front.
  const EXCEPTIONS = [
    'api_keys.api_keys_key_hash_key (key_hash)', // authentication finds the tenant from the key
    'event_tickets.event_tickets_pkey (token_hash)', // the same, for WebSocket tickets
    'import_held_rows.import_held_rows_pkey (last_import_id, sku)', // an import's held rows
    'webhook_deliveries.webhook_deliveries_endpoint_id_event_id_key (endpoint_id, event_id)', // one event per endpoint
  ];

  it('every other table with a tenant_id scopes its unique keys by it, but for its own surrogate id and known exceptions', async () => {
    const { rows } = await pool.query(
      `select table_name from information_schema.columns where table_schema = 'public' and column_name = 'tenant_id'`,
    );
    const tenantTables = new Set(rows.map((row) => row.table_name as string));
    const unscoped = (await uniqueKeys()).filter(
      (key) => tenantTables.has(key.table) && !key.columns.includes('tenant_id') && !(key.columns.length === 1 && key.columns[0] === 'id'),
    );
    // A surrogate id (a uuid or an identity) is unique by construction; distributing such a table
    // would make its primary key (tenant_id, id), which every query already allows (docs/scaling.md).
    expect(unscoped.map((key) => `${key.table}.${key.index} (${key.columns.join(', ')})`)).toEqual(EXCEPTIONS);
  });
});
