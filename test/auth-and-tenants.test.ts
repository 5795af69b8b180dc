import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKeys } from '../src/api-keys/api-keys.ts';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

let service: TestService;
let alice: { tenant: string; key: string };
let bob: { tenant: string; key: string };
let aliceImport: ImportBody;

beforeAll(async () => {
  service = await startTestService();
  alice = await service.createTenant('alice');
  bob = await service.createTenant('bob');
  const response = await service.uploadCsv(alice.key, 'sku,name,price\nALICE-1,Secret,1.00\nbad sku,x,1\n');
  aliceImport = await service.waitForImport(alice.key, ((await readJson(response)) as ImportBody).id);
  expect(aliceImport).toMatchObject({ status: 'succeeded', rows_inserted: 1, rows_rejected: 1 });
});
afterAll(() => service?.stop());

const V1_ROUTES: [string, string][] = [
  ['GET', '/v1/imports'],
  ['POST', '/v1/imports'],
  ['GET', '/v1/imports/00000000-0000-4000-8000-000000000000'],
  ['GET', '/v1/imports/00000000-0000-4000-8000-000000000000/errors'],
  ['GET', '/v1/imports/00000000-0000-4000-8000-000000000000/errors.csv'],
  ['GET', '/v1/products'],
  ['POST', '/v1/products'],
  ['GET', '/v1/products/X'],
  ['PUT', '/v1/products/X'],
  ['DELETE', '/v1/products/X'],
];

describe('authentication', () => {
  it.each(V1_ROUTES)('%s %s answers 401 without a key', async (method, path) => {
    const response = await service.request(path, { method });
    expect(response.status).toBe(401);
    expect(await readJson(response)).toEqual({
      error: {
        code: 'unauthorized',
        message: 'Missing API key: send the header "Authorization: Bearer <key>"',
        requestId: response.headers.get('x-request-id'),
      },
    });
  });

  it('answers 401 to a wrong key, a malformed header and a revoked key', async () => {
    for (const authorization of ['Bearer ldg_not-a-real-key', 'Basic abc', `Bearer ${alice.key}x`]) {
      const response = await service.request('/v1/imports', { headers: { authorization } });
      expect(response.status).toBe(401);
      expect((await readJson(response)).error.code).toBe('unauthorized');
    }
    const temporary = await service.createTenant('revoked');
    expect((await service.request('/v1/imports', { key: temporary.key })).status).toBe(200);
    const prefix = temporary.key.slice(0, 12);
    expect(await revokeApiKeys(service.pool, prefix)).toBe(1);
    const after = await service.request('/v1/imports', { key: temporary.key });
    expect(after.status).toBe(401);
    expect((await readJson(after)).error.message).toBe('The API key is not valid or has been revoked');
  });

  it('does not count an upload refused for auth: no import, no file', async () => {
    const response = await service.request('/v1/imports', { method: 'POST', body: 'sku,name\nA,b\n', headers: { 'content-type': 'text/csv' } });
    expect(response.status).toBe(401);
    const { rows } = await service.pool.query('select count(*)::int as n from imports');
    expect(rows[0].n).toBe(1);
    expect(await service.uploadedFiles()).toEqual([]);
  });
});

describe('tenant isolation', () => {
  it("answers 404 for another tenant's import, its errors and its errors.csv", async () => {
    for (const suffix of ['', '/errors', '/errors.csv']) {
      const response = await service.request(`/v1/imports/${aliceImport.id}${suffix}`, { key: bob.key });
      expect(response.status).toBe(404);
      expect((await readJson(response)).error).toMatchObject({ code: 'not_found', message: `No import with id "${aliceImport.id}"` });
    }
    expect((await service.request(`/v1/imports/${aliceImport.id}`, { key: alice.key })).status).toBe(200);
  });

  it("never lists or returns another tenant's imports or products", async () => {
    const imports = await readJson(await service.request('/v1/imports', { key: bob.key }));
    expect(imports.items).toEqual([]);
    const products = await readJson(await service.request('/v1/products', { key: bob.key }));
    expect(products.items).toEqual([]);
    const product = await service.request('/v1/products/ALICE-1', { key: bob.key });
    expect(product.status).toBe(404);
    expect((await readJson(await service.request('/v1/products/ALICE-1', { key: alice.key }))).name).toBe('Secret');
  });

  it("cannot change or delete another tenant's product; the same sku is a separate product per tenant", async () => {
    const del = await service.request('/v1/products/ALICE-1', { method: 'DELETE', key: bob.key });
    expect(del.status).toBe(404);
    const put = await service.request('/v1/products/ALICE-1', {
      method: 'PUT',
      key: bob.key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bob’s own' }),
    });
    expect(put.status).toBe(201);
    const { rows } = await service.pool.query(
      "select t.name as tenant, p.name from products p join tenants t on t.id = p.tenant_id where sku = 'ALICE-1' order by t.name",
    );
    expect(rows).toEqual([
      { tenant: alice.tenant, name: 'Secret' },
      { tenant: bob.tenant, name: 'Bob’s own' },
    ]);
  });

  it('answers 404, not 500, for an import id that is not a uuid', async () => {
    const response = await service.request('/v1/imports/not-a-uuid', { key: alice.key });
    expect(response.status).toBe(404);
    expect((await readJson(response)).error.code).toBe('not_found');
  });
});
