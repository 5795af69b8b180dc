import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateProductsCsv } from '../scripts/generate-products-csv.ts';
import { NOT_UTF8_WARNING } from '../src/imports/decode-upload.ts';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

// Encodings, gzip and options as form fields: all decided while the upload streams to disk, so
// what the job reads is always UTF-8 text. Checked through HTTP and the products table.

type Import = ImportBody & { encoding: string; options: Record<string, unknown> };

let service: TestService;
let tmp: string;

beforeAll(async () => {
  service = await startTestService();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lading-decoding-'));
});
afterAll(async () => {
  await service?.stop();
  await rm(tmp, { recursive: true, force: true });
});

type Body = NonNullable<RequestInit['body']>;

async function upload(key: string, body: Body, options: { query?: string; headers?: Record<string, string> } = {}) {
  return service.request(`/v1/imports${options.query ?? ''}`, {
    method: 'POST',
    key,
    body,
    headers: body instanceof FormData ? options.headers : { 'content-type': 'text/csv', ...options.headers },
  });
}

/** Uploads, expects 202, returns the queued import and the finished one. */
async function importFile(key: string, body: Body, options: { query?: string; headers?: Record<string, string> } = {}) {
  const response = await upload(key, body, options);
  const queued = (await readJson(response)) as Import;
  expect(response.status, JSON.stringify(queued)).toBe(202);
  const done = (await service.waitForImport(key, queued.id, 120_000)) as Import;
  return { queued, done };
}

async function names(tenant: string): Promise<Record<string, string>> {
  const { rows } = await service.pool.query(
    'select p.sku, p.name from products p join tenants t on t.id = p.tenant_id where t.name = $1 order by p.sku',
    [tenant],
  );
  return Object.fromEntries(rows.map((row: { sku: string; name: string }) => [row.sku, row.name]));
}

const count = async (table: 'imports' | 'products') => Number((await service.pool.query(`select count(*) from ${table}`)).rows[0].count);

/** A refusal stores nothing: no import row, no file. */
async function expectRefused(response: Response, status: number, code: string, message: string | RegExp, importsBefore: number) {
  const body = await readJson(response);
  expect(response.status, JSON.stringify(body)).toBe(status);
  expect(body.error.code).toBe(code);
  expect(body.error.message).toMatch(message);
  expect(await count('imports')).toBe(importsBefore);
  expect(await service.uploadedFiles()).toEqual([]);
}

const EUROPEAN = 'sku,name\nE-1,Café crème\nE-2,Müller Brötchen\nE-3,Preis 5 € – „Angebot“\n';
const EUROPEAN_NAMES = { 'E-1': 'Café crème', 'E-2': 'Müller Brötchen', 'E-3': 'Preis 5 € – „Angebot“' };

describe('text encodings', () => {
  it('reads a file that is not UTF-8 as Windows-1252, saying so on the import', async () => {
    const { tenant, key } = await service.createTenant('cp1252-auto');
    const bytes = iconv.encode(EUROPEAN, 'windows1252');
    const { queued, done } = await importFile(key, bytes);
    expect(queued.encoding).toBe('windows-1252');
    expect(queued.warnings).toEqual([NOT_UTF8_WARNING]);
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 3, rows_rejected: 0, encoding: 'windows-1252', bytes: bytes.length });
    expect(done.warnings).toContain(NOT_UTF8_WARNING); // the job's header warnings come after it, not over it
    expect(done.sha256).toBe(createHash('sha256').update(bytes).digest('hex')); // the file as sent
    expect(await names(tenant)).toEqual(EUROPEAN_NAMES);
  });

  it('applies encoding=windows-1252 as given, without a warning', async () => {
    const { tenant, key } = await service.createTenant('cp1252');
    const { queued, done } = await importFile(key, iconv.encode(EUROPEAN, 'windows1252'), { query: '?encoding=windows-1252' });
    expect(queued).toMatchObject({ encoding: 'windows-1252', warnings: [] });
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 3, warnings: [] });
    expect(await names(tenant)).toEqual(EUROPEAN_NAMES);
  });

  it('applies encoding=iso-8859-1 as given', async () => {
    const { tenant, key } = await service.createTenant('latin1');
    const csv = 'sku,name\nL-1,Smørrebrød\nL-2,Ærøskøbing ½ × ¾\n';
    const { done } = await importFile(key, iconv.encode(csv, 'iso88591'), { query: '?encoding=iso-8859-1' });
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 2, encoding: 'iso-8859-1', warnings: [] });
    expect(await names(tenant)).toEqual({ 'L-1': 'Smørrebrød', 'L-2': 'Ærøskøbing ½ × ¾' });
  });

  it('reads UTF-8 with a BOM as UTF-8', async () => {
    const { tenant, key } = await service.createTenant('utf8-bom');
    const { done } = await importFile(key, Buffer.from(`\uFEFF${EUROPEAN}`, 'utf8'));
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 3, encoding: 'utf-8', warnings: [] });
    expect(await names(tenant)).toEqual(EUROPEAN_NAMES);
  });

  // ~260 KB of text: surrogate pairs and multi-byte characters fall on every kind of chunk boundary.
  const manyRows = (prefix: string) => {
    let csv = 'sku,name\r\n';
    const expected: Record<string, string> = {};
    for (let i = 0; i < 1500; i++) {
      const sku = `${prefix}-${String(i).padStart(4, '0')}`;
      expected[sku] = `Zürich € 😀 ${'ä'.repeat(i % 7)}${'x'.repeat(i % 5)} #${i}`;
      csv += `${sku},${expected[sku]}\r\n`;
    }
    return { csv, expected };
  };

  it.each([
    ['utf-16le', 'utf16le'],
    ['utf-16be', 'utf16be'],
  ] as const)('reads %s with a BOM (encoding=auto)', async (encoding, iconvName) => {
    const { tenant, key } = await service.createTenant(encoding);
    const { csv, expected } = manyRows(encoding === 'utf-16le' ? 'LE' : 'BE');
    const bytes = iconv.encode(csv, iconvName, { addBOM: true });
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from(encoding === 'utf-16le' ? [0xff, 0xfe] : [0xfe, 0xff]));
    const { done } = await importFile(key, bytes);
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 1500, rows_rejected: 0, encoding, bytes: bytes.length });
    expect(await names(tenant)).toEqual(expected);
  });

  it('still rejects just the record holding broken bytes in a UTF-8 file', async () => {
    const { tenant, key } = await service.createTenant('utf8-broken');
    const body = Buffer.concat([Buffer.from('sku,name\nB-1,Café\nB-2,Caf'), Buffer.from([0xe9]), Buffer.from('\nB-3,Größe\n')]);
    const { done } = await importFile(key, body);
    expect(done).toMatchObject({ status: 'succeeded', encoding: 'utf-8', rows_inserted: 2, rows_rejected: 1, warnings: [] });
    const errors = await readJson(await service.request(`/v1/imports/${done.id}/errors`, { key }));
    expect(errors.items.map((e: { line: number; message: string }) => [e.line, e.message])).toEqual([
      [3, expect.stringContaining('not valid UTF-8')],
    ]);
    expect(await names(tenant)).toEqual({ 'B-1': 'Café', 'B-3': 'Größe' });
  });

  it('rejects the record holding a byte Windows-1252 leaves undefined, storing no U+FFFD', async () => {
    const { tenant, key } = await service.createTenant('cp1252-undefined');
    const body = Buffer.concat([iconv.encode('sku,name\nU-1,Café\nU-2,Bad ', 'windows1252'), Buffer.from([0x81]), Buffer.from('\n')]);
    const { done } = await importFile(key, body, { query: '?encoding=windows-1252' });
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 1, rows_rejected: 1 });
    expect(await names(tenant)).toEqual({ 'U-1': 'Café' });
  });

  it('refuses UTF-16 without a BOM read as UTF-8 with 415, naming the encoding to send', async () => {
    const { key } = await service.createTenant('utf16-nobom');
    const before = await count('imports');
    const response = await upload(key, iconv.encode(EUROPEAN, 'utf16le'));
    await expectRefused(response, 415, 'unsupported_media_type', 'UTF-16 text without a byte order mark (send encoding=utf-16le)', before);
  });
});

describe('gzip', () => {
  let plain: { path: string; rows: number; bytes: number };
  let gzipped: Buffer;

  beforeAll(async () => {
    plain = await generateProductsCsv(path.join(tmp, 'products.csv'), { rows: 100_000, seed: 12 });
    await pipeline(createReadStream(plain.path), createGzip(), createWriteStream(path.join(tmp, 'products.csv.gz')));
    gzipped = await readFile(path.join(tmp, 'products.csv.gz'));
  }, 120_000);

  it.each([
    ['Content-Encoding: gzip', { 'content-encoding': 'gzip' }],
    ['the gzip magic bytes alone', {}],
  ])('imports a gzipped 100K-row file announced by %s, with exact counts', async (_how, headers) => {
    const { tenant, key } = await service.createTenant('gzip');
    const { done } = await importFile(key, gzipped, { headers });
    expect(done).toMatchObject({
      status: 'succeeded', encoding: 'utf-8', rows_processed: 100_000, rows_inserted: 100_000, rows_rejected: 0,
      bytes: gzipped.length, sha256: createHash('sha256').update(gzipped).digest('hex'),
    });
    const { rows } = await service.pool.query(
      'select count(*)::int as n from products p join tenants t on t.id = p.tenant_id where t.name = $1',
      [tenant],
    );
    expect(rows[0].n).toBe(100_000);
  }, 180_000);

  it('decompresses, then decodes: a gzipped Windows-1252 multipart file part', async () => {
    const { tenant, key } = await service.createTenant('gzip-cp1252');
    const form = new FormData();
    form.append('file', new Blob([gzipSync(iconv.encode(EUROPEAN, 'windows1252'))]), 'products.csv.gz');
    const { done } = await importFile(key, form);
    expect(done).toMatchObject({ status: 'succeeded', encoding: 'windows-1252', rows_inserted: 3, filename: 'products.csv.gz' });
    expect(await names(tenant)).toEqual(EUROPEAN_NAMES);
  });

  it('decompresses a whole multipart body sent with Content-Encoding: gzip', async () => {
    const { tenant, key } = await service.createTenant('gzip-form');
    const form = new FormData();
    form.append('max_errors', '3');
    form.append('file', new Blob([EUROPEAN]), 'products.csv');
    const encoded = new Response(form);
    const body = gzipSync(Buffer.from(await encoded.arrayBuffer()));
    const contentType = encoded.headers.get('content-type')!;
    const { queued, done } = await importFile(key, body, { headers: { 'content-type': contentType, 'content-encoding': 'gzip' } });
    expect(queued.options).toMatchObject({ max_errors: 3 });
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 3 });
    expect(await names(tenant)).toEqual(EUROPEAN_NAMES);
  });

  it.each([
    ['corrupt', Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('certainly not deflate data, just text'.repeat(40))])],
    ['cut short', gzipSync(EUROPEAN.repeat(50)).subarray(0, 60)],
  ])('refuses %s gzip data with 400, storing nothing', async (_kind, body) => {
    const { key } = await service.createTenant('gzip-corrupt');
    const before = await count('imports');
    await expectRefused(await upload(key, body), 400, 'bad_request', /^The gzip data is corrupt or cut short/, before);
  });

  it('refuses a Content-Encoding it does not know with 415', async () => {
    const { key } = await service.createTenant('brotli');
    const before = await count('imports');
    const response = await upload(key, EUROPEAN, { headers: { 'content-encoding': 'br' } });
    await expectRefused(response, 415, 'unsupported_media_type', /Content-Encoding br is not accepted/, before);
  });
});

describe('a gzip bomb', () => {
  const LIMIT = 1_000_000;
  let small: TestService;

  beforeAll(async () => {
    small = await startTestService({ MAX_UPLOAD_BYTES: String(LIMIT) });
  });
  afterAll(() => small?.stop());

  it('gets 413 once its decompressed size passes MAX_UPLOAD_BYTES, leaving nothing behind', async () => {
    const { key } = await small.createTenant('bomb');
    const bomb = gzipSync(`sku,name\n${'BOMB-1,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n'.repeat(300_000)}`); // ~11 MB of CSV
    expect(bomb.length).toBeLessThan(LIMIT / 10);
    for (const headers of [{ 'content-type': 'text/csv' }, { 'content-type': 'text/csv', 'content-encoding': 'gzip' }]) {
      const response = await small.request('/v1/imports', { method: 'POST', key, body: bomb, headers });
      const body = await readJson(response);
      expect(response.status).toBe(413);
      expect(body.error).toMatchObject({
        code: 'payload_too_large',
        message: `The upload, once decompressed, is larger than the limit of ${LIMIT} bytes (MAX_UPLOAD_BYTES)`,
      });
    }
    const form = new FormData();
    form.append('file', new Blob([bomb]), 'bomb.csv.gz');
    expect((await small.request('/v1/imports', { method: 'POST', key, body: form })).status).toBe(413);
    expect(Number((await small.pool.query('select count(*) from imports')).rows[0].count)).toBe(0);
    expect(await small.uploadedFiles()).toEqual([]);
  });
});

describe('options as multipart form fields', () => {
  it('applies fields sent before the file and echoes them on the import', async () => {
    const { tenant, key } = await service.createTenant('form-options');
    const form = new FormData();
    form.append('encoding', 'utf-16le'); // a BOM-less UTF-16 file: refused as binary unless this is applied
    form.append('max_errors', '7');
    form.append('max_error_rate', '0.5');
    form.append('note', 'fields that are not options are ignored');
    form.append('file', new Blob([iconv.encode(EUROPEAN, 'utf16le')]), 'utf16.csv');
    const { queued, done } = await importFile(key, form);
    expect(queued.encoding).toBe('utf-16le');
    expect(queued.options).toMatchObject({ max_errors: 7, max_error_rate: 0.5 });
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 3 });
    expect(await names(tenant)).toEqual(EUROPEAN_NAMES);
  });

  it('combines query options with form fields', async () => {
    const { key } = await service.createTenant('form-and-query');
    const form = new FormData();
    form.append('max_errors', '2');
    form.append('file', new Blob([EUROPEAN]), 'a.csv');
    const { queued } = await importFile(key, form, { query: '?max_error_rate=0.25' });
    expect(queued.options).toMatchObject({ max_errors: 2, max_error_rate: 0.25 });
  });

  it.each([
    ['an invalid value', [['max_errors', '-1']], '', /^form field max_errors must be a whole number ≥ 0$/],
    ['an invalid encoding', [['encoding', 'ebcdic']], '', /^form field encoding must be one of auto, utf-8/],
    ['an unknown template', [['template', 'nope']], '', /^No template named "nope"$/],
    ['an option also in the query', [['max_errors', '1']], '?max_errors=1', /^max_errors: given both in the query string and as a form field/],
  ] as const)('refuses %s with 400 naming it, storing nothing', async (_what, fields, query, message) => {
    const { key } = await service.createTenant('form-invalid');
    const form = new FormData();
    for (const [name, value] of fields) form.append(name, value);
    form.append('file', new Blob([EUROPEAN]), 'a.csv');
    const before = await count('imports');
    await expectRefused(await upload(key, form, { query }), 400, 'validation_failed', message, before);
  });

  it('refuses an option sent after the file with 400, storing nothing', async () => {
    const { key } = await service.createTenant('form-late');
    const form = new FormData();
    form.append('file', new Blob([EUROPEAN]), 'a.csv');
    form.append('dry_run', 'true');
    const before = await count('imports');
    await expectRefused(await upload(key, form), 400, 'validation_failed', /^form field dry_run came after the file/, before);
  });
});
