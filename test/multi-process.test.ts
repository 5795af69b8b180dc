import { mkdtemp, rm } from 'node:fs/promises';
import { createReadStream, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/api-keys/api-keys.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { generateProductsCsv, type GeneratedFile } from '../scripts/generate-products-csv.ts';
import { startServiceProcess, type Child } from './helpers/child-process.ts';
import { s3ServerAvailable, startS3Server, type S3TestServer } from './helpers/s3-server.ts';
import { createTestDatabase, startTestService } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

// More than one machine's worth of processes on one database and one bucket: an `api` process and
// three `worker` processes (each its own DATA_DIR: they share nothing but PostgreSQL and S3), five
// imports at once, one of them a million rows cut into chunks. The worker running that import is
// killed with SIGKILL midway and a new one started. Every import must end exact, the products
// must be what one process alone makes of the same files, and every webhook endpoint must get one
// event per import.
const BUCKET = 'lading-multi';
let s3: S3TestServer;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;
let dir: string;
let receiver: WebhookReceiver;
const children: Child[] = [];
let files: GeneratedFile[];

describe.skipIf(!s3ServerAvailable())('an api process and three worker processes on S3 storage', () => {
  beforeAll(async () => {
    [s3, database, receiver] = await Promise.all([startS3Server(), createTestDatabase(), startWebhookReceiver()]);
    pool = createPool(database.connectionString, 3);
    dir = await mkdtemp(path.join(os.tmpdir(), 'lading-multi-'));
    await s3.client().send(new CreateBucketCommand({ Bucket: BUCKET }));
    files = await Promise.all([
      generateProductsCsv(path.join(dir, 'million.csv'), { rows: 1_000_000, invalidShare: 0.002, seed: 101 }),
      ...[1, 2, 3, 4].map((n) => generateProductsCsv(path.join(dir, `small-${n}.csv`), { rows: 30_000 * n, invalidShare: 0.01, seed: n, shape: n === 2 ? 'text' : 'default' })),
    ]);
  }, 180_000);
  afterAll(async () => {
    for (const child of children) child.process.kill('SIGKILL');
    await Promise.all(children.map((child) => child.exited));
    await receiver?.close();
    await pool?.end();
    await database?.drop();
    await s3?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const common = () => ({
    DATABASE_URL: database.connectionString,
    ...s3.env(BUCKET, 'uploads/'),
    WEBHOOK_ALLOW_PRIVATE: 'true',
    IMPORT_CHUNK_BYTES: String(4 * 1024 * 1024),
    WORKER_STALE_AFTER_MS: '3000',
  });
  async function start(role: 'api' | 'worker', name: string, env: Record<string, string> = {}) {
    const started = await startServiceProcess({ ...common(), LADING_ROLE: role, DATA_DIR: path.join(dir, name), ...env });
    children.push(started.child);
    return started;
  }
  const upload = async (url: string, key: string, file: GeneratedFile) => {
    const response = await fetch(`${url}/v1/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv', 'content-length': String(statSync(file.path).size) },
      body: createReadStream(file.path) as unknown as RequestInit['body'],
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  };
  const finals = async (ids: string[]) =>
    (
      await pool.query(
        `select id, status, rows_processed::int, rows_inserted::int, rows_updated::int, rows_rejected::int,
                (select count(*)::int from import_errors e where e.import_id = i.id) as error_rows
         from imports i where id = any($1::uuid[]) order by array_position($1::uuid[], id)`,
        [ids],
      )
    ).rows;
  const productsOf = async (db: Pool, tenant: string) =>
    (
      await db.query(
        `select p.sku, p.name, p.description, p.price::text, p.currency, p.quantity, p.category, p.status, p.updated_at
         from products p join tenants t on t.id = p.tenant_id where t.name = $1 order by sku`,
        [tenant],
      )
    ).rows;

  it('ends five concurrent imports exact, with one worker killed midway, as one process would', async () => {
    const tenants = ['t-million', 't-small-1', 't-small-2', 't-small-3', 't-small-4'];
    const keys = await Promise.all(tenants.map(async (tenant) => (await createApiKey(pool, { tenant })).key));
    const api = await start('api', 'api');
    // Two endpoints per tenant: each must get exactly one event per import.
    for (const [i, key] of keys.entries()) {
      for (const hook of ['a', 'b']) {
        const response = await fetch(`${api.url}/v1/webhooks`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ url: `${receiver.url}/${tenants[i]}/${hook}` }),
        });
        expect(response.status).toBe(201);
      }
    }
    const workers = await Promise.all([1, 2, 3].map((n) => start('worker', `worker-${n}`, { PUBLIC_BASE_URL: api.url })));
    const ids = await Promise.all(files.map((file, i) => upload(api.url, keys[i]!, file)));
    const chunks = await pool.query('select count(*)::int as n from import_chunks where import_id = $1', [ids[0]]);
    expect(chunks.rows[0].n).toBeGreaterThan(20); // ~150 MB in 4 MiB chunks

    // Midway through the million rows, the worker running that import's own job dies.
    const deadline = Date.now() + 120_000;
    let victim: (typeof workers)[number] | undefined;
    while (!victim) {
      const { rows } = await pool.query(
        `select i.rows_processed::int, w.pid from imports i
         join graphile_worker.jobs j on j.key = 'import:' || i.id and j.locked_by is not null
         join worker_registry w on w.worker_id = j.locked_by
         where i.id = $1`,
        [ids[0]],
      );
      if (rows[0] && rows[0].rows_processed >= 200_000) victim = workers.find((w) => w.child.process.pid === rows[0].pid);
      if (Date.now() > deadline) throw new Error('the million-row import never got 200,000 rows in');
      if (!victim) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    victim.child.process.kill('SIGKILL');
    await victim.child.exited;
    await start('worker', 'worker-4', { PUBLIC_BASE_URL: api.url });

    for (;;) {
      const rows = await finals(ids);
      if (rows.every((row) => row.status !== 'queued' && row.status !== 'processing')) break;
      if (Date.now() > deadline + 120_000) throw new Error(`imports not finished: ${JSON.stringify(rows)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await finals(ids)).toEqual(
      files.map((file, i) => ({
        id: ids[i],
        status: 'succeeded',
        rows_processed: file.rows,
        rows_inserted: file.rows - file.invalidLines.length,
        rows_updated: 0,
        rows_rejected: file.invalidLines.length,
        error_rows: file.invalidLines.length,
      })),
    );

    // One event per import at every endpoint, and nothing left in the bucket or in the chunk tables.
    await receiver.waitForRequests(10, 60_000);
    const paths = receiver.received.map((request) => request.path).sort();
    expect(paths).toEqual(tenants.flatMap((tenant) => [`/${tenant}/a`, `/${tenant}/b`]).sort());
    // Each import's chunk rows and object go just after its final status is committed: wait for that.
    const s3Client = s3.client();
    const leftovers = async () => ({
      ...(await pool.query('select (select count(*)::int from import_chunks) as chunks, (select count(*)::int from import_chunk_batches) as batches')).rows[0],
      objects: ((await s3Client.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).length,
    });
    const cleanDeadline = Date.now() + 30_000;
    while (JSON.stringify(await leftovers()) !== JSON.stringify({ chunks: 0, batches: 0, objects: 0 })) {
      if (Date.now() > cleanDeadline) throw new Error(`left behind: ${JSON.stringify(await leftovers())}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // The same files through one process (LADING_ROLE=all, local files, no chunks): the same products.
    const alone = await startTestService({ WORKER_CONCURRENCY: '2' });
    try {
      for (const [i, file] of files.entries()) {
        const { key } = await createApiKey(alone.pool, { tenant: tenants[i]! });
        await alone.waitForImport(key, await upload(alone.url, key, file), 240_000);
      }
      for (const tenant of tenants) expect(await productsOf(pool, tenant)).toEqual(await productsOf(alone.pool, tenant));
    } finally {
      await alone.stop();
    }
  }, 600_000);
});
