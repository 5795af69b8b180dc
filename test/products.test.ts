import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

let service: TestService;
let key: string;

beforeAll(async () => {
  service = await startTestService();
  ({ key } = await service.createTenant());
});
afterAll(() => service?.stop());

const send = (method: string, path: string, body?: unknown) =>
  service.request(path, {
    method,
    key,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });

async function productCount(): Promise<number> {
  const { rows } = await service.pool.query('select count(*)::int as n from products');
  return rows[0].n;
}

describe('POST /v1/products', () => {
  it('creates a product, normalising values the same way as CSV rows', async () => {
    const response = await send('POST', '/v1/products', {
      sku: ' API-1 ',
      name: ' Desk lamp ',
      price: 24.5,
      currency: 'eur',
      quantity: '7',
      status: 'Inactive',
      updated_at: '2024-03-01T10:00:00+01:00',
      description: '',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe('/v1/products/API-1');
    expect(await readJson(response)).toEqual({
      sku: 'API-1',
      name: 'Desk lamp',
      description: null,
      price: '24.50',
      currency: 'EUR',
      quantity: 7,
      category: null,
      status: 'inactive',
      updated_at: '2024-03-01T09:00:00.000Z',
      created_at: expect.any(String),
      last_import_id: null,
    });
  });

  it('answers 409 for an existing sku and changes nothing', async () => {
    await send('POST', '/v1/products', { sku: 'DUP-1', name: 'Original' });
    const response = await send('POST', '/v1/products', { sku: 'DUP-1', name: 'Again' });
    expect(response.status).toBe(409);
    expect((await readJson(response)).error).toMatchObject({
      code: 'conflict',
      message: 'A product with sku "DUP-1" already exists; use PUT to replace it',
    });
    expect((await readJson(await service.request('/v1/products/DUP-1', { key }))).name).toBe('Original');
  });

  it('answers 400 with every problem in one message, writing nothing', async () => {
    const before = await productCount();
    const response = await send('POST', '/v1/products', { sku: 'no spaces allowed', price: '1.999', quantity: -2, colour: 'red' });
    expect(response.status).toBe(400);
    const { error } = await readJson(response);
    expect(error.code).toBe('validation_failed');
    for (const part of ['sku must be 1–64 characters', 'name is required', 'price must be a decimal number', 'quantity must be a whole number', 'unknown field(s): colour']) {
      expect(error.message).toContain(part);
    }
    expect(await productCount()).toBe(before);
  });

  it('answers 400 to a body that is not JSON', async () => {
    const response = await send('POST', '/v1/products', '{"sku": ');
    expect(response.status).toBe(400);
    expect((await readJson(response)).error.code).toMatch(/bad_request|validation_failed/);
  });
});

describe('PUT, GET and DELETE /v1/products/:sku', () => {
  it('creates with 201, then replaces every field with 200', async () => {
    const created = await send('PUT', '/v1/products/PUT-1', { name: 'First', price: '5', category: 'misc' });
    expect(created.status).toBe(201);
    const replaced = await send('PUT', '/v1/products/PUT-1', { sku: 'PUT-1', name: 'Second', quantity: 3 });
    expect(replaced.status).toBe(200);
    expect(await readJson(replaced)).toMatchObject({ sku: 'PUT-1', name: 'Second', price: null, category: null, quantity: 3, status: 'active' });
  });

  it('refuses a body sku that differs from the URL', async () => {
    const response = await send('PUT', '/v1/products/PUT-2', { sku: 'OTHER', name: 'x' });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error.message).toBe('The body\'s sku "OTHER" differs from the URL\'s "PUT-2"');
    expect((await service.request('/v1/products/PUT-2', { key })).status).toBe(404);
  });

  it('deletes with 204, then answers 404', async () => {
    await send('PUT', '/v1/products/DEL-1', { name: 'Doomed' });
    expect((await send('DELETE', '/v1/products/DEL-1')).status).toBe(204);
    const again = await send('DELETE', '/v1/products/DEL-1');
    expect(again.status).toBe(404);
    expect((await readJson(again)).error).toMatchObject({ code: 'not_found', message: 'No product with sku "DEL-1"' });
    expect((await service.request('/v1/products/DEL-1', { key })).status).toBe(404);
  });
});

describe('GET /v1/products', () => {
  it('pages through every product in sku order with a keyset cursor', async () => {
    const { key: own } = await service.createTenant('paging');
    const csv = `sku,name\n${Array.from({ length: 25 }, (_, i) => `K-${String(i).padStart(2, '0')},n${i}`).join('\n')}\n`;
    const upload = await readJson(await service.uploadCsv(own, csv));
    await service.waitForImport(own, upload.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await readJson(await service.request(`/v1/products?limit=10${cursor ? `&cursor=${cursor}` : ''}`, { key: own }));
      expect(page.items.length).toBeLessThanOrEqual(10);
      seen.push(...page.items.map((p: { sku: string }) => p.sku));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `K-${String(i).padStart(2, '0')}`));
  });

  it('caps limit at 1000', async () => {
    expect((await service.request('/v1/products?limit=1000', { key })).status).toBe(200);
    const response = await service.request('/v1/products?limit=1001', { key });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error).toMatchObject({ code: 'validation_failed', message: expect.stringContaining('limit') });
  });
});
