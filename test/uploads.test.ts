import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

const LIMIT = 2000;
let service: TestService;
let key: string;

beforeAll(async () => {
  service = await startTestService({ MAX_UPLOAD_BYTES: String(LIMIT) });
  ({ key } = await service.createTenant());
});
afterAll(() => service?.stop());

async function importRows(): Promise<number> {
  const { rows } = await service.pool.query('select count(*)::int as n from imports');
  return rows[0].n;
}

function bigCsv(bytes: number): string {
  let csv = 'sku,name\n';
  for (let i = 0; csv.length < bytes; i++) csv += `SKU-${i},Product number ${i}\n`;
  return csv;
}

function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + 500));
      offset += 500;
    },
  });
}

async function expectTooLarge(response: Response): Promise<void> {
  expect(response.status).toBe(413);
  expect((await readJson(response)).error).toEqual({
    code: 'payload_too_large',
    message: `The upload is larger than the limit of ${LIMIT} bytes (MAX_UPLOAD_BYTES)`,
    requestId: expect.any(String),
  });
  expect(await importRows()).toBe(0);
  expect(await service.uploadedFiles()).toEqual([]);
}

describe('upload limits', () => {
  it('answers 413 from Content-Length alone, recording nothing', async () => {
    await expectTooLarge(await service.uploadCsv(key, bigCsv(LIMIT + 1)));
  });

  it('answers 413 for a chunked body that passes the limit, removing the partial file', async () => {
    const response = await service.request('/v1/imports', {
      method: 'POST',
      key,
      headers: { 'content-type': 'text/csv' },
      body: chunked(bigCsv(LIMIT * 3)),
      duplex: 'half',
    } as RequestInit);
    await expectTooLarge(response);
  });

  it('answers 413 to a client that keeps sending, then cuts it off instead of reading forever', async () => {
    const request = http.request(`${service.url}/v1/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' }, // chunked, no length
    });
    request.on('error', () => {}); // the server closing the socket mid-body is what is expected
    const closed = new Promise<number>((resolve) => request.once('close', () => resolve(Date.now())));
    const response = new Promise<http.IncomingMessage>((resolve) => request.once('response', resolve));
    const line = 'SKU-1,Product\n'.repeat(100);
    request.write(`sku,name\n${line}`);
    let stop = false;
    void (async () => {
      while (!stop && !request.destroyed) {
        request.write(line); // never ends its body
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const answered = await response;
    const answeredAt = Date.now();
    let text = '';
    for await (const chunk of answered) text += chunk;
    expect(answered.statusCode).toBe(413);
    expect(JSON.parse(text).error.code).toBe('payload_too_large');
    const closedAt = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 10_000))]);
    stop = true;
    expect(closedAt).toBeGreaterThan(0); // closed by the server while the client was still sending
    expect(closedAt - answeredAt).toBeLessThan(5_000);
    expect(await importRows()).toBe(0);
    expect(await service.uploadedFiles()).toEqual([]);
  });

  it('answers 413 for a multipart file over the limit', async () => {
    const form = new FormData();
    form.append('file', new Blob([bigCsv(LIMIT * 2)]), 'big.csv');
    await expectTooLarge(await service.uploadCsv(key, form));
  });

  it('accepts a file of exactly the limit', async () => {
    const csv = bigCsv(LIMIT - 40);
    const exact = `${csv}${'X'.repeat(LIMIT - Buffer.byteLength(csv) - 1)}\n`;
    expect(Buffer.byteLength(exact)).toBe(LIMIT);
    const response = await service.uploadCsv(key, exact);
    expect(response.status).toBe(202);
    const done = await service.waitForImport(key, ((await readJson(response)) as ImportBody).id);
    expect(done.bytes).toBe(LIMIT);
    await service.pool.query('delete from import_errors; delete from imports');
  });
});

describe('content types and forms', () => {
  it('answers 415 to a JSON body, recording nothing', async () => {
    const response = await service.request('/v1/imports', {
      method: 'POST',
      key,
      headers: { 'content-type': 'application/json' },
      body: '{"sku":"A"}',
    });
    expect(response.status).toBe(415);
    expect((await readJson(response)).error.message).toContain('Content-Type application/json is not accepted');
    expect(await importRows()).toBe(0);
  });

  it('answers 400 to a form without a "file" field', async () => {
    const form = new FormData();
    form.append('upload', new Blob(['sku,name\nA,b\n']), 'a.csv');
    const response = await service.uploadCsv(key, form);
    expect(response.status).toBe(400);
    expect((await readJson(response)).error).toMatchObject({ code: 'bad_request', message: 'The multipart form has no "file" field holding the CSV' });
    expect(await importRows()).toBe(0);
    expect(await service.uploadedFiles()).toEqual([]);
  });

  it('keeps only a safe display name from X-Filename', async () => {
    const response = await service.uploadCsv(key, 'sku,name\nF-1,x\n', { 'x-filename': '..%2F..%2Fetc%2Fpasswd%0D%0Aevil.csv' });
    const body = (await readJson(response)) as ImportBody;
    expect(body.filename).toBe('passwdevil.csv');
    await service.waitForImport(key, body.id);
    await service.pool.query('delete from imports');
  });
});
