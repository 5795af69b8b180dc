import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

let service: TestService;
let key: string;

beforeAll(async () => {
  service = await startTestService({ MAX_COLUMNS: '12', MAX_RECORDS: '1000' });
  ({ key } = await service.createTenant());
});
afterAll(() => service?.stop());

async function importCsv(body: string | Buffer | Uint8Array, as = key): Promise<ImportBody> {
  const response = await service.uploadCsv(as, body as NonNullable<RequestInit['body']>);
  expect(response.status).toBe(202);
  return service.waitForImport(as, (await readJson(response)).id);
}

async function tenantProducts(tenant: string) {
  const { rows } = await service.pool.query(
    'select p.sku, p.name from products p join tenants t on t.id = p.tenant_id where t.name = $1 order by p.sku',
    [tenant],
  );
  return rows as { sku: string; name: string }[];
}

async function importCount(): Promise<number> {
  return (await service.pool.query('select count(*)::int as n from imports')).rows[0].n;
}

describe('binary files sent as CSV', () => {
  it.each([
    ['a PDF document', Buffer.from('%PDF-1.7\nsku,name\nA,b\n')],
    ['binary data (it contains NUL bytes)', Buffer.from('sku,name\nA,b\u0000\n')],
  ])('refuses %s with 415, storing nothing', async (kind, body) => {
    const before = await importCount();
    const response = await service.uploadCsv(key, body as unknown as NonNullable<RequestInit['body']>);
    expect(response.status).toBe(415);
    expect((await readJson(response)).error).toMatchObject({
      code: 'unsupported_media_type',
      message: `The file is not a CSV text file: it looks like ${kind}`,
    });
    expect(await importCount()).toBe(before);
    expect(await service.uploadedFiles()).toEqual([]);
  });
});

describe('text that is not UTF-8', () => {
  it('rejects exactly the records holding invalid bytes, with their line, and stores no U+FFFD', async () => {
    const { tenant, key: own } = await service.createTenant('latin1');
    const body = Buffer.concat([
      Buffer.from('sku,name\nU-1,Plain\nU-2,Caf'),
      Buffer.from([0xe9]), // "é" in Windows-1252, invalid in UTF-8
      Buffer.from('\nU-3,Caf\u00e9 au lait\nU-4,'),
      Buffer.from([0xc3, 0x28]), // a broken two-byte sequence
      Buffer.from('\n'),
    ]);
    const done = await importCsv(body, own);
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 2, rows_rejected: 2 });
    const errors = await readJson(await service.request(`/v1/imports/${done.id}/errors`, { key: own }));
    expect(errors.items.map((e: { line: number; message: string }) => [e.line, e.message])).toEqual([
      [3, expect.stringContaining('contains bytes that are not valid UTF-8')],
      [5, expect.stringContaining('contains bytes that are not valid UTF-8')],
    ]);
    expect(await tenantProducts(tenant)).toEqual([
      { sku: 'U-1', name: 'Plain' },
      { sku: 'U-3', name: 'Café au lait' },
    ]);
    const { rows } = await service.pool.query("select count(*)::int as n from products where name like '%' || chr(65533) || '%'");
    expect(rows[0].n).toBe(0);
  });

  it('keeps multi-byte characters cut by read-chunk boundaries intact', async () => {
    const { tenant, key: own } = await service.createTenant('multibyte');
    let csv = 'sku,name\n';
    for (let i = 0; i < 900; i++) csv += `M-${String(i).padStart(3, '0')},${'Zürich €😀 '.repeat(20)}\n`; // ~250 KB
    const done = await importCsv(csv, own);
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 900, rows_rejected: 0 });
    const products = await tenantProducts(tenant);
    expect(products.every((p) => p.name === 'Zürich €😀 '.repeat(20).trim())).toBe(true);
  });
});

describe('oversized and malformed structure', () => {
  it('fails on a 10 MB field with a message naming the line and the limit, and stays healthy', async () => {
    const { tenant, key: own } = await service.createTenant('huge-field');
    const csv = `sku,name,description\nH-1,ok,short\nH-2,big,"${'x'.repeat(10 * 1024 * 1024)}"\nH-3,after,x\n`;
    const done = await importCsv(csv, own);
    expect(done.status).toBe('failed');
    expect(done.error).toBe(
      'The record starting on line 3 is longer than 1048576 characters (MAX_RECORD_SIZE); is a quote left open?',
    );
    expect(await tenantProducts(tenant)).toEqual([{ sku: 'H-1', name: 'ok' }]);
    expect((await service.request('/health')).status).toBe(200);
  });

  it.each([
    ['semicolon', ';', 'semicolon (";")'],
    ['tab', '\t', 'tab ("\\t")'],
    ['pipe', '|', 'pipe ("|")'],
  ])('detects a %s-separated file from its header', async (_label, delimiter, described) => {
    const { tenant, key: own } = await service.createTenant(`delim-${_label}`);
    const csv = `${['sku', 'name', 'price'].join(delimiter)}\n${['D-1', 'Comma, inside', '1.50'].join(delimiter)}\n`;
    const done = await importCsv(csv, own);
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 1, warnings: [`Columns are separated by ${described}`] });
    expect(await tenantProducts(tenant)).toEqual([{ sku: 'D-1', name: 'Comma, inside' }]);
  });

  it('fails a file whose separator it cannot recognise, saying which it accepts', async () => {
    const done = await importCsv('sku^name\nA^b\n');
    expect(done.status).toBe('failed');
    expect(done.error).toBe(
      'Missing required columns "sku" and "name" in the header line (line 1); found: sku^name. Columns must be separated by commas, semicolons, tabs or pipes',
    );
  });

  it('enforces MAX_COLUMNS and MAX_RECORDS with clear messages', async () => {
    const wide = await importCsv(`sku,name,${Array.from({ length: 11 }, (_, i) => `c${i}`).join(',')}\n`);
    expect(wide.error).toBe('The header has 13 columns; at most 12 are accepted (MAX_COLUMNS)');
    const { tenant, key: own } = await service.createTenant('many-records');
    let csv = 'sku,name\n';
    for (let i = 0; i < 1005; i++) csv += `R-${String(i).padStart(4, '0')},n\n`;
    const long = await importCsv(csv, own);
    expect(long).toMatchObject({ status: 'failed', rows_processed: 1000, rows_inserted: 1000 });
    expect(long.error).toBe('The file has more than 1000 records (MAX_RECORDS); the first ones were loaded');
    expect(await tenantProducts(tenant)).toHaveLength(1000);
  });
});

describe('cells and names that try to be something else', () => {
  it('stores formula-like cells exactly and neutralises them only in errors.csv', async () => {
    const { tenant, key: own } = await service.createTenant('formula');
    const done = await importCsv('sku,name,price\nF-1,=SUM(A1:A9),1\nF-2,@cmd,-1\n', own);
    expect(await tenantProducts(tenant)).toEqual([{ sku: 'F-1', name: '=SUM(A1:A9)' }]);
    const csv = await (await service.request(`/v1/imports/${done.id}/errors.csv`, { key: own })).text();
    expect(csv.split('\n')[1]).toBe(`F-2,'@cmd,'-1,line 3: price must be a decimal number ≥ 0 with at most 2 decimal places (e.g. 19.99)`);
  });

  it('keeps only a safe display name from a multipart filename', async () => {
    const form = new FormData();
    form.append('file', new Blob(['sku,name\nN-1,x\n']), '..\\..\\windows/../etc/pass\r\nwd.csv');
    const response = await service.uploadCsv(key, form);
    expect(response.status).toBe(202);
    const queued = await readJson(response);
    expect(queued.filename).toBe('passwd.csv');
    await service.waitForImport(key, queued.id);
  });

  it('refuses a multipart part header holding control characters, storing nothing', async () => {
    const before = await importCount();
    const form = new FormData();
    form.append('file', new Blob(['sku,name\nN-2,x\n']), 'bell\u0007.csv');
    const response = await service.uploadCsv(key, form);
    expect(response.status).toBe(400);
    expect((await readJson(response)).error.message).toBe('Malformed multipart body: Malformed part header');
    expect(await importCount()).toBe(before);
    expect(await service.uploadedFiles()).toEqual([]);
  });
});

describe('a client that disconnects mid-upload', () => {
  it('leaves no import and no file behind', async () => {
    const before = await importCount();
    const { port } = new URL(service.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /v1/imports HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${key}\r\nContent-Type: text/csv\r\nContent-Length: 1000000\r\n\r\n`,
    );
    socket.write(`sku,name\n${'P-1,x\n'.repeat(5000)}`);
    const deadline = Date.now() + 10_000;
    while ((await service.uploadedFiles()).length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await service.uploadedFiles()).toHaveLength(1); // the partial upload was being written
    socket.destroy();
    while ((await service.uploadedFiles()).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await service.uploadedFiles()).toEqual([]);
    expect(await importCount()).toBe(before);
  });
});
