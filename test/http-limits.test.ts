import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/api-keys/api-keys.ts';
import { createPool } from '../src/db/pool.ts';
import { runScript, waitForOutput, type Child } from './helpers/child-process.ts';
import { createTestDatabase, readJson, startTestService, type TestService } from './helpers/test-service.ts';

const MiB = 1024 ** 2;
const LIMIT = MiB; // the default MAX_JSON_BODY_BYTES
const TOO_LARGE = {
  code: 'payload_too_large',
  message: `The request body is larger than the limit of ${LIMIT} bytes (MAX_JSON_BODY_BYTES)`,
  requestId: expect.any(String),
};

/** A product as JSON of exactly `total` bytes: the object, padded with spaces (valid JSON) before its `}`. */
function* paddedProduct(sku: string, total: number, chunkSize = 64 * 1024): Generator<Buffer> {
  const head = Buffer.from(JSON.stringify({ sku, name: `Product ${sku}` }).slice(0, -1));
  const spaces = Buffer.alloc(chunkSize, ' '); // the one buffer every chunk is cut from
  yield head;
  for (let left = total - head.length - 1; left > 0; left -= spaces.length) {
    yield left >= spaces.length ? spaces : spaces.subarray(0, left);
  }
  yield Buffer.from('}');
}

const wholeBody = (sku: string, total: number) => Buffer.concat([...paddedProduct(sku, total)]);

/** A body without Content-Length (fetch sends it chunked). */
function chunkedBody(sku: string, total: number): ReadableStream<Uint8Array> {
  const chunks = paddedProduct(sku, total, 16 * 1024);
  return new ReadableStream({
    pull(controller) {
      const next = chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(new Uint8Array(next.value));
    },
  });
}

type Sent = { status: number | undefined; connection: string | undefined; text: string; bytesSent: number };

/**
 * Streams `total` bytes of JSON with node:http, as fast as the server reads them, from a generator
 * (the test never holds more than one chunk), with Content-Length or chunked. Stops writing when
 * the server closes the connection; resolves with what the server answered and what was sent.
 */
async function streamJson(url: string, key: string, total: number, options: { chunked: boolean }): Promise<Sent> {
  const request = http.request(`${url}/v1/products`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      ...(options.chunked ? {} : { 'content-length': String(total) }),
    },
  });
  request.on('error', () => {}); // the server closing the socket mid-body is what is expected
  const closed = new Promise<void>((resolve) => request.once('close', () => resolve()));
  let response: http.IncomingMessage | undefined;
  const answered = new Promise<void>((resolve) =>
    request.once('response', (answer: http.IncomingMessage) => {
      response = answer;
      resolve();
    }),
  );
  let bytesSent = 0;
  for (const chunk of paddedProduct('BIG-1', total)) {
    if (request.destroyed) break;
    bytesSent += chunk.length;
    if (!request.write(chunk)) await Promise.race([new Promise((resolve) => request.once('drain', resolve)), closed]);
  }
  if (!request.destroyed) request.end();
  await Promise.race([answered, closed]);
  let text = '';
  if (response) for await (const chunk of response) text += chunk;
  await closed;
  return { status: response?.statusCode, connection: response?.headers.connection, text, bytesSent };
}

describe('JSON body limit (MAX_JSON_BODY_BYTES, default 1 MiB)', () => {
  let service: TestService;
  let key: string;

  beforeAll(async () => {
    service = await startTestService();
    ({ key } = await service.createTenant());
  });
  afterAll(() => service?.stop());

  const send = (pathname: string, method: string, body: RequestInit['body'], init: RequestInit = {}) =>
    service.request(pathname, { method, key, headers: { 'content-type': 'application/json' }, body, ...init } as RequestInit);
  const productCount = async () => (await service.pool.query('select count(*)::int as n from products')).rows[0].n as number;
  const endpoints = async () => (await service.pool.query('select id, url, description from webhook_endpoints order by id')).rows;

  it('defaults to 1 MiB', () => {
    expect(service.config.maxJsonBodyBytes).toBe(LIMIT);
  });

  it('accepts a body of exactly the limit, with Content-Length or chunked', async () => {
    const sized = await send('/v1/products', 'POST', wholeBody('EXACT-1', LIMIT));
    expect(sized.status).toBe(201);
    expect((await readJson(sized)).sku).toBe('EXACT-1');
    const chunked = await send('/v1/products', 'POST', chunkedBody('EXACT-2', LIMIT), { duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(201);
    expect((await readJson(chunked)).sku).toBe('EXACT-2');
    const replaced = await send('/v1/products/EXACT-3', 'PUT', wholeBody('EXACT-3', LIMIT - 1));
    expect(replaced.status).toBe(201);
  });

  it('answers 413 to one byte over the limit on every JSON route, from Content-Length, storing nothing', async () => {
    const registered = await send('/v1/webhooks', 'POST', JSON.stringify({ url: 'https://hooks.example.com/lading' }));
    expect(registered.status).toBe(201);
    const { id } = await readJson(registered);
    const productsBefore = await productCount();
    const endpointsBefore = await endpoints();

    const webhookHead = '{"url":"https://hooks.example.com/other","description":"changed"';
    const webhookBody = (total: number) => `${webhookHead}${' '.repeat(total - webhookHead.length - 1)}}`;
    expect(Buffer.byteLength(webhookBody(LIMIT + 1))).toBe(LIMIT + 1);
    for (const [pathname, method, body] of [
      ['/v1/products', 'POST', wholeBody('OVER-1', LIMIT + 1)],
      ['/v1/products/OVER-2', 'PUT', wholeBody('OVER-2', LIMIT + 1)],
      ['/v1/webhooks', 'POST', webhookBody(LIMIT + 1)],
      [`/v1/webhooks/${id}`, 'PATCH', webhookBody(LIMIT + 1)],
    ] as const) {
      const response = await send(pathname, method, body);
      expect(response.status, `${method} ${pathname}`).toBe(413);
      expect((await readJson(response)).error).toEqual(TOO_LARGE);
    }
    expect(await productCount()).toBe(productsBefore);
    expect(await endpoints()).toEqual(endpointsBefore);
  });

  it('answers 413 to a chunked body (no Content-Length) that passes the limit', async () => {
    const before = await productCount();
    const response = await send('/v1/products', 'POST', chunkedBody('OVER-3', 3 * LIMIT), { duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
    expect((await readJson(response)).error).toEqual(TOO_LARGE);
    expect(await productCount()).toBe(before);
  });

  it('leaves the CSV upload to MAX_UPLOAD_BYTES: a 3 MiB CSV is accepted', async () => {
    let csv = 'sku,name\n';
    for (let i = 0; csv.length < 3 * MiB; i++) csv += `CSV-${i},${'Product with a long enough name '.repeat(3)}${i}\n`;
    const response = await service.uploadCsv(key, csv);
    expect(response.status).toBe(202);
    const done = await service.waitForImport(key, (await readJson(response)).id);
    expect(done.status).toBe('succeeded');
  });

  it('documents 413 on the JSON routes, naming both limits', async () => {
    const doc = await readJson(await service.request('/openapi.json'));
    for (const [pathname, method] of [
      ['/v1/products', 'post'],
      ['/v1/products/{sku}', 'put'],
      ['/v1/webhooks', 'post'],
      ['/v1/webhooks/{id}', 'patch'],
      ['/v1/imports', 'post'],
    ]) {
      const description = doc.paths[pathname!][method!].responses['413']?.description;
      expect(description, `${method} ${pathname}`).toContain('MAX_JSON_BODY_BYTES');
      expect(description).toContain('MAX_UPLOAD_BYTES');
    }
  });
});

/**
 * The service as its own process, so that its peak resident memory (VmHWM) is its alone: neither
 * the test's client nor vitest counts. Without the limit, these two 100 MB bodies raised it by 282 MiB;
 * with it, by ~6 MiB.
 */
describe.runIf(process.platform === 'linux')('a 100 MB JSON body, in a service of its own', () => {
  const HUNDRED_MB = 100 * 1000 * 1000;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let dataDir: string;
  let child: Child;
  let url: string;
  let key: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-json-limit-'));
    const pool = createPool(database.connectionString, 2);
    ({ key } = await createApiKey(pool, { tenant: 'big-bodies' }));
    await pool.end();
    child = runScript('bin/lading-server.js', [], {
      DATABASE_URL: database.connectionString,
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'warn',
    });
    [, url] = (await waitForOutput(child, /listening on (http:\/\/\S+)/)) as [string, string];
  });
  afterAll(async () => {
    if (child && child.process.exitCode === null) {
      child.process.kill('SIGTERM');
      await child.exited;
    }
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const peakKiB = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.process.pid}/status`, 'utf8'))![1]);

  it('is refused with 413, with Content-Length and chunked, while the server reads at most part of it and its memory stays flat', async () => {
    // Warm up the paths used below, so that their first-use cost is not counted as the body's.
    expect((await streamJson(url, key, 10_000, { chunked: false })).status).toBe(201);
    expect((await streamJson(url, key, 2 * LIMIT, { chunked: true })).status).toBe(413);
    const before = peakKiB();

    for (const chunked of [false, true]) {
      const sent = await streamJson(url, key, HUNDRED_MB, { chunked });
      expect(sent.bytesSent).toBeLessThan(HUNDRED_MB); // cut off instead of read to the end
      // A declared 100 MB is refused before a byte of it is read, and the connection closed. A client
      // still writing then may get a TCP reset before it reads the 413 (the kernel discards the unread
      // answer; seen once in four CI runs): a refusal too, and what the client sees is up to its timing.
      if (!chunked && sent.status === undefined) continue;
      expect(sent.status, chunked ? 'chunked' : 'Content-Length').toBe(413);
      expect(JSON.parse(sent.text).error).toEqual(TOO_LARGE);
      expect(sent.connection).toBe('close'); // so no client sends its next request on a connection about to close
    }

    const grownMiB = (peakKiB() - before) / 1024;
    expect(grownMiB).toBeLessThan(32); // the body is 95 MiB; reading it whole costs several times that
  });
});
