import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../src/api-keys/api-keys.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { createWebhookEndpoint } from '../src/webhooks/webhooks.ts';
import { runScript, waitForOutput } from './helpers/child-process.ts';
import { createTestDatabase } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;
let receiver: WebhookReceiver;
let dataDir: string;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.connectionString, 2);
  receiver = await startWebhookReceiver();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-crash-'));
});
afterAll(async () => {
  await pool?.end();
  await receiver?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

function startService(env: Record<string, string> = {}) {
  return runScript('bin/lading-server.js', [], {
    DATABASE_URL: database.connectionString,
    DATA_DIR: dataDir,
    PORT: '0',
    LOG_LEVEL: 'warn',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WORKER_POLL_INTERVAL_MS: '100',
    ...env,
  });
}

async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

it('delivers exactly once after the process is killed right after the import ended', async () => {
  const { key } = await createApiKey(pool, { tenant: 'crash' });
  const tenantId = (await pool.query("select id from tenants where name = 'crash'")).rows[0].id;
  const actor = { tenantId: String(tenantId), apiKeyId: null, requestId: null, via: 'cli' as const };
  const { endpoint } = await createWebhookEndpoint(pool, actor, { url: `${receiver.url}/hook` }, { allowPrivate: true });
  const importStatus = async (importId: string): Promise<string> =>
    (await pool.query('select status from imports where id = $1', [importId])).rows[0].status;

  // First process: imports, but delivers no webhooks (WEBHOOK_CONCURRENCY=0), then dies hard.
  const first = startService({ WEBHOOK_CONCURRENCY: '0' });
  const [, url] = await waitForOutput(first, /listening on (http:\/\/\S+)/);
  const upload = await fetch(`${url}/v1/imports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
    body: 'sku,name\nC-1,crash test\n',
  });
  const { id } = (await upload.json()) as { id: string };
  await pollUntil(() => importStatus(id), (status) => status === 'succeeded');
  first.process.kill('SIGKILL');
  await first.exited;

  const { rows: outbox } = await pool.query('select status, attempt_count from webhook_deliveries where endpoint_id = $1', [endpoint.id]);
  expect(outbox).toEqual([{ status: 'pending', attempt_count: 0 }]);
  expect(receiver.received).toEqual([]);

  // Second process: picks the delivery up from the outbox.
  const second = startService();
  try {
    await receiver.waitForRequests(1);
    await pollUntil(
      async () => (await pool.query('select status from webhook_deliveries where endpoint_id = $1', [endpoint.id])).rows,
      (rows) => rows.length === 1 && rows[0].status === 'succeeded',
    );
    const { rows: jobs } = await pool.query("select count(*)::int as n from graphile_worker.jobs where task_identifier = 'deliver_webhook'");
    expect(jobs[0].n).toBe(0); // nothing left that could send it again
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.headers['webhook-id']).toBe(`evt_${id}`);
  } finally {
    second.process.kill('SIGTERM');
    await second.exited;
  }
});
