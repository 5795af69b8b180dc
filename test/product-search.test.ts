import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../src/db/pool.ts';
import { listProducts, prefixSuccessor } from '../src/products/product-queries.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// GET /v1/products?sku_prefix=&name=: a sku prefix is a range on the (tenant_id, sku) primary key,
// a name is a case-insensitive "contains"; both keep keyset paging by sku.

let service: TestService;
let key: string;
let otherKey: string;

// Neighbours of the prefix on both sides ("SHIRS…" < "SHIRT-…" < "SHIRT." / "SHIRU"): a range that
// is one off lists one of them.
const CSV = [
  'sku,name,price,currency,quantity',
  'SHIRS-1,Not a shirt,1.00,EUR,1',
  ...Array.from({ length: 7 }, (_, i) => `SHIRT-${i + 1},Blue Shirt ${i + 1},19.99,EUR,${i}`),
  'SHIRT.X,Shirt with a dot,5.00,EUR,2',
  'SHIRU-1,Blue mug,3.00,EUR,3',
  'shirt-lower,lowercase sku,4.00,EUR,4',
  'MUG-1,Mug 100% cotton_free,2.50,USD,9',
  'MUG-2,Mug 100 cotton,2.50,USD,9',
].join('\n');

beforeAll(async () => {
  service = await startTestService();
  ({ key } = await service.createTenant('search'));
  ({ key: otherKey } = await service.createTenant('other'));
  for (const [k, csv] of [
    [key, CSV],
    [otherKey, 'sku,name\nSHIRT-OTHER,Blue Shirt of another tenant\n'],
  ] as const) {
    const response = await service.uploadCsv(k, csv);
    expect(response.status).toBe(202);
    const done = await service.waitForImport(k, (await readJson(response)).id);
    expect(done.status).toBe('succeeded');
  }
});
afterAll(() => service?.stop());

/** Every sku the search lists, following next_cursor, with the number of pages it took. */
async function search(query: string, as = key): Promise<{ skus: string[]; pages: number }> {
  const skus: string[] = [];
  let cursor: string | null = null;
  for (let pages = 1; ; pages++) {
    expect(pages).toBeLessThan(50);
    const response = await service.request(`/v1/products?${query}${cursor ? `&cursor=${cursor}` : ''}`, { key: as });
    expect(response.status, await response.clone().text()).toBe(200);
    const body = await readJson(response);
    skus.push(...body.items.map((item: { sku: string }) => item.sku));
    cursor = body.next_cursor;
    if (!cursor) return { skus, pages };
  }
}

describe('GET /v1/products?sku_prefix=&name=', () => {
  it('lists exactly the skus starting with the prefix, case-sensitively, paging across it', async () => {
    const all = await search('sku_prefix=SHIRT-&limit=3');
    expect(all).toEqual({ skus: ['SHIRT-1', 'SHIRT-2', 'SHIRT-3', 'SHIRT-4', 'SHIRT-5', 'SHIRT-6', 'SHIRT-7'], pages: 3 });
    expect((await search('sku_prefix=SHIRT&limit=100')).skus).toEqual([...all.skus, 'SHIRT.X']);
    expect((await search('sku_prefix=shirt')).skus).toEqual(['shirt-lower']);
    expect((await search('sku_prefix=SHIRT-7')).skus).toEqual(['SHIRT-7']);
    expect((await search('sku_prefix=NOPE')).skus).toEqual([]);
  });

  it('finds names containing the text, case-insensitively, with % and _ matching only themselves', async () => {
    expect((await search('name=blue%20SHIRT&limit=4')).skus).toEqual(['SHIRT-1', 'SHIRT-2', 'SHIRT-3', 'SHIRT-4', 'SHIRT-5', 'SHIRT-6', 'SHIRT-7']);
    expect((await search('name=mug')).skus).toEqual(['MUG-1', 'MUG-2', 'SHIRU-1']);
    expect((await search('name=100%25')).skus).toEqual(['MUG-1']);
    expect((await search('name=n_f')).skus).toEqual(['MUG-1']);
    expect((await search(`name=${encodeURIComponent('  cotton ')}`)).skus).toEqual(['MUG-1', 'MUG-2']); // trimmed
  });

  it('combines both filters', async () => {
    expect((await search('sku_prefix=SHIR&name=blue')).skus).toEqual([
      'SHIRT-1', 'SHIRT-2', 'SHIRT-3', 'SHIRT-4', 'SHIRT-5', 'SHIRT-6', 'SHIRT-7', 'SHIRU-1',
    ]);
    expect((await search('sku_prefix=MUG&name=shirt')).skus).toEqual([]);
  });

  it('never shows another tenant’s products', async () => {
    expect((await search('sku_prefix=SHIRT-O')).skus).toEqual([]);
    expect((await search('name=another')).skus).toEqual([]);
    expect((await search('sku_prefix=SHIRT', otherKey)).skus).toEqual(['SHIRT-OTHER']);
    expect((await search('name=blue', otherKey)).skus).toEqual(['SHIRT-OTHER']);
  });

  it('refuses a bad prefix or name with the error shape', async () => {
    for (const [query, message] of [
      ['sku_prefix=SHIRT%25', /sku_prefix/],
      ['sku_prefix=', /sku_prefix/],
      [`sku_prefix=${'A'.repeat(65)}`, /sku_prefix/],
      ['name=%20%20', /name must not be blank/],
      [`name=${'x'.repeat(256)}`, /name must be at most 255/],
      ['name=a%00b', /U\+0000/],
    ] as const) {
      const response = await service.request(`/v1/products?${query}`, { key });
      expect(response.status, query).toBe(400);
      const body = await readJson(response);
      expect(body.error, query).toMatchObject({ code: 'validation_failed', requestId: expect.any(String) });
      expect(body.error.message, query).toMatch(message);
    }
  });

  it('is described in /openapi.json', async () => {
    const spec = await readJson(await service.request('/openapi.json'));
    const names = spec.paths['/v1/products'].get.parameters.map((p: { name: string }) => p.name);
    expect(names).toEqual(expect.arrayContaining(['limit', 'cursor', 'sku_prefix', 'name']));
  });

  it('walks the primary key as a range: the successor of a prefix', () => {
    expect(prefixSuccessor('SHIRT-')).toBe('SHIRT.');
    expect(prefixSuccessor('A')).toBe('B');
    expect(prefixSuccessor('')).toBeUndefined();
    expect(prefixSuccessor('a\u{10ffff}')).toBe('b');
    expect(prefixSuccessor('a\u{d7ff}')).toBe('a\u{e000}');
  });

  it('uses the primary key for a prefix search: the range is an index condition, not a filter', async () => {
    // The real query (listProducts), explained. Seq scans off: on a table this small the planner
    // would rightly prefer one; this asks whether the index can bound the scan on both sides.
    const { rows: keys } = await service.pool.query(
      `select tenant_id::text from api_keys where key_hash = sha256(convert_to($1, 'UTF8'))`,
      [key],
    );
    const client = await service.pool.connect();
    try {
      await client.query('set enable_seqscan = off');
      const explaining = { query: (sql: string, params: unknown[]) => client.query(`explain (format json) ${sql}`, params) };
      const rows = (await listProducts(explaining as unknown as Queryable, keys[0].tenant_id, {
        limit: 21,
        skuPrefix: 'SHIRT-',
        name: 'blue',
      })) as unknown as { 'QUERY PLAN': unknown }[];
      const plan = JSON.stringify(rows[0]!['QUERY PLAN']);
      expect(plan).toMatch(/"Index Cond":"[^"]*\(sku >= 'SHIRT-'::text\) AND \(sku < 'SHIRT\.'::text\)/);
      expect(plan).not.toContain('"Sort"'); // already in sku order: stops at the limit
    } finally {
      client.release();
    }
  });
});
