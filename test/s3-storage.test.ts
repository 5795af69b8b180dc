import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateProductsCsv, type GeneratedFile } from '../scripts/generate-products-csv.ts';
import { startS3Proxy } from './helpers/s3-proxy.ts';
import { s3ServerAvailable, startS3Server, type S3TestServer } from './helpers/s3-server.ts';
import { productsOfKey, readJson, startTestService, type TestService } from './helpers/test-service.ts';

// STORAGE_URL=s3://…: uploads go into a real S3-compatible server (OpenStack Swift, test/helpers/
// s3-server.ts) through a proxy that records every request and can cut a read midway.
const BUCKET = 'lading-test';
let s3: S3TestServer;
let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
let client: S3Client;
let service: TestService;
let dir: string;
let large: GeneratedFile;

describe.skipIf(!s3ServerAvailable())('uploads in S3 storage', () => {
  beforeAll(async () => {
    s3 = await startS3Server();
    proxy = await startS3Proxy(s3.endpoint);
    client = s3.client();
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    dir = await mkdtemp(path.join(os.tmpdir(), 'lading-s3-files-'));
    // ~30 MB: four parts of a multipart upload, and long enough that the job pauses midway.
    large = await generateProductsCsv(path.join(dir, 'large.csv'), { rows: 200_000, invalidShare: 0.01, seed: 5 });
    // A job pauses at the next batch after 1 s and continues in a new run, from its checkpoint.
    service = await startTestService({ ...s3.env(BUCKET, 'uploads/'), S3_ENDPOINT: proxy.url, IMPORT_JOB_TIME_BUDGET_MS: '1000' });
  }, 120_000);
  afterAll(async () => {
    await service?.stop();
    await proxy?.close();
    await s3?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const objects = async () =>
    ((await client.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((object) => object.Key);
  const importKey = (id: string) => `/${BUCKET}/uploads/${id}.csv`;
  /** An import's object is deleted just after its final status is committed: waits for that. */
  const waitUntilBucketEmpty = async () => {
    const deadline = Date.now() + 10_000;
    while ((await objects()).length > 0) {
      if (Date.now() > deadline) throw new Error(`objects left in the bucket: ${(await objects()).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  it('streams an upload into a multipart upload, reads it back from each checkpoint, and deletes it when the import ends', async () => {
    const { key } = await service.createTenant('s3');
    const first = proxy.requests.length;
    const response = await service.uploadCsv(key, await readFile(large.path));
    expect(response.status).toBe(202);
    const { id } = await readJson(response);
    const stored = await service.pool.query('select file_path, bytes::int from imports where id = $1', [id]);
    expect(stored.rows[0]).toEqual({ file_path: `s3://${BUCKET}/uploads/${id}.csv`, bytes: large.bytes });

    const done = await service.waitForImport(key, id, 120_000);
    await waitUntilBucketEmpty();
    expect(done).toMatchObject({ status: 'succeeded', rows_processed: 200_000, rows_rejected: large.invalidLines.length });
    expect(done.rows_inserted).toBe(200_000 - large.invalidLines.length);
    expect((await productsOfKey(service.pool, key)).length).toBe(200_000 - large.invalidLines.length);

    const ours = proxy.requests.slice(first).filter((request) => request.path.startsWith(importKey(id)));
    // The upload: a multipart upload of 8 MiB parts, then completed.
    expect(ours.filter((r) => r.method === 'POST' && /\?uploads=?$/.test(r.path))).toHaveLength(1);
    const parts = ours.filter((r) => r.method === 'PUT' && /[?&]partNumber=\d+/.test(r.path));
    expect(parts.length).toBe(Math.ceil(large.bytes / (8 * 1024 * 1024)));
    expect(ours.filter((r) => r.method === 'POST' && /[?&]uploadId=/.test(r.path))).toHaveLength(1);
    // The job paused at least once (1 s budget) and each run read on from its checkpoint: a ranged
    // GET from a byte just after a line end of the file.
    const file = await readFile(large.path);
    const starts = ours.filter((r) => r.method === 'GET').map((r) => Number(/^bytes=(\d+)-$/.exec(r.range ?? '')?.[1]));
    const resumed = starts.filter((start) => start > 1000);
    expect(resumed.length).toBeGreaterThan(0);
    for (const start of resumed) expect(file[start - 1]).toBe(0x0a);
    // The object is gone once the import has ended.
    expect(ours.at(-1)).toMatchObject({ method: 'DELETE', status: 204 });
    expect(await service.uploadedFiles()).toEqual([]);
  });

  it('takes up a read the server cuts midway where it stopped, with the same result', async () => {
    const { key } = await service.createTenant('s3-cut');
    const csv = ['sku,name,price,currency,quantity', ...Array.from({ length: 60_000 }, (_, i) => `CUT-${i},"Item, ${i}",${i}.25,EUR,${i}`)].join('\n');
    const first = proxy.requests.length;
    // The header is read first (from byte 0), then the records from just after it: cut that read.
    proxy.cutNextGetAfter(500_000, (range) => range !== undefined && range !== 'bytes=0-');
    const { id } = await readJson(await service.uploadCsv(key, csv));
    const done = await service.waitForImport(key, id);
    await waitUntilBucketEmpty();
    expect(done).toMatchObject({ status: 'succeeded', rows_processed: 60_000, rows_inserted: 60_000, rows_rejected: 0 });
    const products = await productsOfKey(service.pool, key);
    expect(products.length).toBe(60_000);
    expect(new Set(products.map((p: { sku: string }) => p.sku)).size).toBe(60_000);

    const gets = proxy.requests.slice(first).filter((r) => r.method === 'GET' && r.path.startsWith(importKey(id)));
    const start = (request: { range?: string }) => Number(/^bytes=(\d+)-$/.exec(request.range ?? '')?.[1]);
    const cut = gets.findIndex((r) => r.range !== 'bytes=0-');
    const headerEnd = start(gets[cut]!);
    // The next read starts where the cut one stopped: after what had arrived of the 500,000 bytes
    // sent (a reset connection loses what was still in flight), not from the start.
    const next = start(gets[cut + 1]!);
    expect(next).toBeGreaterThan(headerEnd);
    expect(next).toBeLessThanOrEqual(headerEnd + 500_000);
  });

  it('imports a workbook from the bucket (copied to the worker to be converted)', async () => {
    const { key } = await service.createTenant('s3-xlsx');
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Products');
    sheet.addRow(['sku', 'name', 'price', 'currency']);
    for (let i = 1; i <= 50; i++) sheet.addRow([`X-${i}`, `Sheet item ${i}`, i + 0.5, 'EUR']);
    const body = Buffer.from(await workbook.xlsx.writeBuffer());
    const response = await service.request('/v1/imports', {
      method: 'POST',
      key,
      body,
      headers: { 'content-type': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
    });
    expect(response.status).toBe(202);
    const done = await service.waitForImport(key, (await readJson(response)).id);
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 50 });
    await waitUntilBucketEmpty();
    // The worker's copy of the workbook and its CSV went before the object.
    expect(await readdir(path.join(service.config.dataDir, 'work'))).toEqual([]);
    expect(await service.uploadedFiles()).toEqual([]);
  });

  it('leaves nothing in the bucket when an upload is refused midway', async () => {
    const { key } = await service.createTenant('s3-refused');
    const first = proxy.requests.length;
    const before = await service.pool.query('select count(*)::int as n from imports');
    // A gzip body that breaks near the end of its 30 MB of text: parts are up when it fails.
    const { gzipSync } = await import('node:zlib');
    const text = Buffer.from(`sku,name\n${'A-1,Name\n'.repeat(3_300_000)}`);
    const gzipped = gzipSync(text);
    const broken = Buffer.concat([gzipped.subarray(0, gzipped.length - 200), Buffer.alloc(200, 7)]);
    // Parts still in flight when the upload fails (a slow store): the answer waits for them and
    // the multipart upload's abort, or the bucket keeps a pending upload (seen once in CI).
    proxy.delayPartUploads(500);
    const response = await service.uploadCsv(key, broken, { 'content-encoding': 'gzip' }).finally(() => proxy.delayPartUploads(0));
    expect(response.status).toBe(400);
    expect((await readJson(response)).error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^The gzip data is corrupt or cut short/) });
    // Parts had gone up before the failure: the multipart upload was aborted.
    expect(proxy.requests.slice(first).some((r) => r.method === 'PUT' && /[?&]partNumber=1&/.test(r.path))).toBe(true);
    expect((await service.pool.query('select count(*)::int as n from imports')).rows[0].n).toBe(before.rows[0].n);
    expect(await objects()).toEqual([]);
    const pending = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect(pending.Uploads ?? []).toEqual([]);
  });
});
