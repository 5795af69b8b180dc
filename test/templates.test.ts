import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// /v1/templates: saved mappings and default upload options, per tenant, audited; ?template=NAME.

let service: TestService;
let key: string;
let otherKey: string;

beforeAll(async () => {
  service = await startTestService();
  ({ key } = await service.createTenant('templates'));
  ({ key: otherKey } = await service.createTenant('templates-other'));
});
afterAll(() => service?.stop());

const send = (method: string, path: string, body?: unknown, as = key) =>
  service.request(path, {
    method,
    key: as,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });

const supplier = {
  name: 'Supplier A',
  mapping: { Artikelnummer: 'sku', Bezeichnung: 'name', Preis: 'price', Lager: null },
  options: { header_row: 2, max_errors: 5, dry_run: false, encoding: 'utf-8' },
};

describe('templates CRUD', () => {
  it('creates, lists, reads, replaces and deletes a template, each change audited', async () => {
    const created = await send('POST', '/v1/templates', supplier);
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/v1/templates/Supplier%20A');
    const body = await readJson(created);
    expect(body).toEqual({
      id: expect.any(String),
      ...supplier,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });

    const list = await readJson(await send('GET', '/v1/templates'));
    expect(list.items.map((t: { name: string }) => t.name)).toEqual(['Supplier A']);
    expect(await readJson(await send('GET', '/v1/templates/Supplier%20A'))).toEqual(body);

    const replaced = await send('PUT', '/v1/templates/Supplier%20A', { mapping: { Code: 'sku' } });
    expect(replaced.status).toBe(200);
    expect(await readJson(replaced)).toMatchObject({ id: body.id, name: 'Supplier A', mapping: { Code: 'sku' }, options: {} });

    const deleted = await send('DELETE', '/v1/templates/Supplier%20A');
    expect(deleted.status).toBe(204);
    const gone = await send('GET', '/v1/templates/Supplier%20A');
    expect(gone.status).toBe(404);
    expect((await readJson(gone)).error).toMatchObject({ code: 'not_found', message: 'No template named "Supplier A"' });

    const audit = await readJson(await send('GET', '/v1/audit'));
    const entries = audit.items.filter((e: { action: string }) => e.action.startsWith('template.'));
    expect(entries.map((e: { action: string; target_type: string; target_id: string }) => [e.action, e.target_type, e.target_id])).toEqual([
      ['template.deleted', 'import_template', body.id],
      ['template.changed', 'import_template', body.id],
      ['template.created', 'import_template', body.id],
    ]);
    expect(entries[2].details).toEqual({ name: 'Supplier A', mapping: supplier.mapping, options: supplier.options });
    expect(entries[1].details).toEqual({ name: 'Supplier A', mapping: { Code: 'sku' }, options: {} });
  });

  it('answers 409 for a name the tenant already uses, and lets another tenant use it', async () => {
    expect((await send('POST', '/v1/templates', { name: 'dup' })).status).toBe(201);
    const again = await send('POST', '/v1/templates', { name: 'dup', mapping: { A: 'sku' } });
    expect(again.status).toBe(409);
    expect((await readJson(again)).error).toMatchObject({ code: 'conflict', message: expect.stringContaining('"dup" already exists') });
    expect((await send('POST', '/v1/templates', { name: 'dup' }, otherKey)).status).toBe(201);
  });

  it("answers 404 for another tenant's template and leaves it as it was", async () => {
    expect((await send('POST', '/v1/templates', { name: 'mine', mapping: { X: 'sku' } })).status).toBe(201);
    const before = await readJson(await send('GET', '/v1/templates/mine'));
    for (const [method, body] of [['GET'], ['PUT', { mapping: {} }], ['DELETE']] as const) {
      const response = await send(method, '/v1/templates/mine', body, otherKey);
      expect(response.status, method).toBe(404);
      expect((await readJson(response)).error.code).toBe('not_found');
    }
    expect(await readJson(await send('GET', '/v1/templates/mine'))).toEqual(before);
    expect((await send('PUT', '/v1/templates/nothing-here', {})).status).toBe(404);
  });

  it('refuses invalid names, mappings and options with 400 in the error shape, storing nothing', async () => {
    const count = async () => Number((await service.pool.query('select count(*) from import_templates')).rows[0].count);
    const before = await count();
    for (const [body, message] of [
      [{ name: '-starts-with-a-dash' }, 'name must be 1–100 letters, digits, spaces, _ . or -, starting with a letter or digit'],
      [{ name: 'a/b' }, 'name must be 1–100'],
      [{ name: 'x'.repeat(101) }, 'name must be 1–100'],
      [{ name: 'ok', mapping: { A: 'colour' } }, 'mapping.A'],
      [{ name: 'ok', mapping: { A: 'sku', ' a ': 'name' } }, 'mapping names one column twice'],
      [{ name: 'ok', options: { header_row: 0 } }, 'options.header_row must be a whole number from 1 to 1000'],
      [{ name: 'ok', options: { header_row: '2' } }, 'options.header_row must be a whole number'],
      [{ name: 'ok', options: { header_row: 1.5 } }, 'options.header_row must be a whole number'],
      [{ name: 'ok', options: { dry_run: 'yes' } }, 'options.dry_run must be true or false'],
      [{ name: 'ok', options: { max_error_rate: 2 } }, 'options.max_error_rate must be a number from 0 to 1'],
      [{ name: 'ok', options: { encoding: 'ebcdic' } }, 'options.encoding must be one of'],
      [{ name: 'ok', options: { template: 'other' } }, 'template'],
      [{ name: 'ok', options: { mapping: '{}' } }, 'mapping'],
      [{ name: 'ok', extra: 1 }, 'extra'],
    ] as const) {
      const response = await send('POST', '/v1/templates', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const error = (await readJson(response)).error;
      expect(error.code, JSON.stringify(body)).toBe('validation_failed');
      expect(error.message, JSON.stringify(body)).toContain(message);
    }
    expect((await send('PUT', '/v1/templates/dup', { options: { atomic: 1 } })).status).toBe(400);
    expect(await count()).toBe(before);
  });

  it('is documented in /openapi.json under the templates tag', async () => {
    const doc = await readJson(await service.request('/openapi.json'));
    const operations = Object.entries(doc.paths as Record<string, Record<string, { tags: string[] }>>).flatMap(([path, item]) =>
      Object.entries(item).filter(([, op]) => op.tags?.includes('templates')).map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual([
      'DELETE /v1/templates/{name}', 'GET /v1/templates', 'GET /v1/templates/{name}', 'POST /v1/templates', 'PUT /v1/templates/{name}',
    ]);
    expect(doc.components.schemas.TemplateOptions.properties.header_row).toMatchObject({ type: 'integer' });
    expect(doc.components.schemas.TemplateOptions.properties.dry_run).toMatchObject({ type: 'boolean' });
  });
});

describe('an upload with ?template=NAME', () => {
  const csv = 'Lieferant Muster GmbH, Preisliste\nArtikelnummer;Bezeichnung;Preis;Lager\nT-1;Eins;1.50;3\nT-2;Zwei;2.50;4\n';

  it("applies the template's mapping and options", async () => {
    const { tenant, key: own } = await service.createTenant('template-upload');
    expect((await send('POST', '/v1/templates', supplier, own)).status).toBe(201);
    const response = await service.request('/v1/imports?template=Supplier%20A', {
      method: 'POST',
      key: own,
      body: csv,
      headers: { 'content-type': 'text/csv' },
    });
    expect(response.status).toBe(202);
    const queued = await readJson(response);
    expect(queued.options).toMatchObject({ template: 'Supplier A', header_row: 2, max_errors: 5 });
    expect(queued.mapping).toEqual(supplier.mapping);
    const done = (await service.waitForImport(own, queued.id)) as unknown as { mapping: unknown };
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 2, warnings: ['Columns are separated by semicolon (";")'] });
    expect(done.mapping).toEqual({ Artikelnummer: 'sku', Bezeichnung: 'name', Preis: 'price', Lager: null });
    const { rows } = await service.pool.query(
      'select sku, name, price::text from products where tenant_id = (select id from tenants where name = $1) order by sku',
      [tenant],
    );
    expect(rows).toEqual([{ sku: 'T-1', name: 'Eins', price: '1.50' }, { sku: 'T-2', name: 'Zwei', price: '2.50' }]);
  });

  it("lets the upload's own options and mapping entries win over the template's", async () => {
    const { key: own } = await service.createTenant('template-override');
    expect((await send('POST', '/v1/templates', supplier, own)).status).toBe(201);
    const query = new URLSearchParams({ template: 'Supplier A', header_row: '1', mapping: JSON.stringify({ Preis: null }) });
    const response = await service.request(`/v1/imports?${query}`, {
      method: 'POST',
      key: own,
      body: csv.slice(csv.indexOf('\n') + 1), // no title line: the header is line 1
      headers: { 'content-type': 'text/csv' },
    });
    expect(response.status).toBe(202);
    const queued = await readJson(response);
    expect(queued.options).toMatchObject({ template: 'Supplier A', header_row: 1, max_errors: 5 });
    const done = (await service.waitForImport(own, queued.id)) as unknown as { status: string; mapping: unknown };
    expect(done.status).toBe('succeeded');
    expect(done.mapping).toEqual({ Artikelnummer: 'sku', Bezeichnung: 'name', Preis: null, Lager: null });
  });
});
