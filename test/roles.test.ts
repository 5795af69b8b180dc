import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/api-keys/api-keys.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { runScript, startServiceProcess, type Child } from './helpers/child-process.ts';
import { connectEvents } from './helpers/event-client.ts';
import { createTestDatabase, readJson as json } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

// LADING_ROLE: an `api` process and a `worker` process, each a real child process (npm start's
// command) with its own DATA_DIR, on one database.
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;
let dataDir: string;
let receiver: WebhookReceiver;
const children: Child[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.connectionString, 3);
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-roles-'));
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  for (const child of children) child.process.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
  await receiver?.close();
  await pool?.end();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

async function start(role: 'api' | 'worker', env: Record<string, string> = {}) {
  // The api process's DATA_DIR holds the uploads: with file storage the worker must see it.
  const started = await startServiceProcess({
    LADING_ROLE: role,
    DATABASE_URL: database.connectionString,
    DATA_DIR: path.join(dataDir, 'shared'),
    WEBHOOK_ALLOW_PRIVATE: 'true',
    ...env,
  });
  children.push(started.child);
  return started;
}

describe('LADING_ROLE', () => {
  it('refuses a split role without DATABASE_URL, and a worker without PUBLIC_BASE_URL, naming the variable', async () => {
    const noDatabase = runScript('bin/lading-server.js', [], { LADING_ROLE: 'api', DATA_DIR: path.join(dataDir, 'refused') });
    expect(await noDatabase.exited).toBe(2);
    expect(noDatabase.stderr()).toContain('DATABASE_URL: must be set with LADING_ROLE=api');

    const noBase = runScript('bin/lading-server.js', [], { LADING_ROLE: 'worker', DATABASE_URL: database.connectionString });
    expect(await noBase.exited).toBe(2);
    expect(noBase.stderr()).toContain('PUBLIC_BASE_URL: must be set with LADING_ROLE=worker');

    const unknown = runScript('bin/lading-server.js', [], { LADING_ROLE: 'both', DATABASE_URL: database.connectionString });
    expect(await unknown.exited).toBe(2);
    expect(unknown.stderr()).toContain('LADING_ROLE: must be all, api or worker (got "both")');
    // Nothing was started on the database by the refused processes.
    expect((await pool.query('select count(*)::int as n from worker_registry')).rows[0].n).toBe(0);
  });

  it('runs imports and webhooks in the worker process only, with live progress and links through the api process', async () => {
    const { key } = await createApiKey(pool, { tenant: 'roles' });
    const auth = { authorization: `Bearer ${key}` };
    const api = await start('api');
    const endpoint = await json(
      await fetch(`${api.url}/v1/webhooks`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ url: `${receiver.url}/hook`, events: ['import.succeeded'] }),
      }),
    );
    expect(endpoint.id).toBeDefined();
    const apiReady = await json(await fetch(`${api.url}/ready`));
    expect(apiReady.workers).toEqual({ imports: false, webhooks: false });

    // Uploaded while no worker runs: the api process records and enqueues it, and runs nothing.
    const csv = ['sku,name,price,currency,quantity', ...Array.from({ length: 2500 }, (_, i) => `R-${i},Name ${i},${i}.50,EUR,${i}`)].join('\n');
    const upload = await fetch(`${api.url}/v1/imports`, { method: 'POST', headers: { ...auth, 'content-type': 'text/csv' }, body: csv });
    expect(upload.status).toBe(202);
    const { id } = await json(upload);
    const events = connectEvents(api.url, `/v1/imports/${id}/events`, { key });
    await events.opened;
    expect((await json(await fetch(`${api.url}/v1/imports/${id}`, { headers: auth }))).status).toBe('queued');

    const worker = await start('worker', { PUBLIC_BASE_URL: api.url, BATCH_SIZE: '500', DATA_DIR: path.join(dataDir, 'shared') });
    const finished = await events.waitFor((message) => message.type === 'finished', 60_000);
    expect(finished).toMatchObject({ type: 'finished', import: { status: 'succeeded', rows_inserted: 2500 } });
    // The worker's NOTIFYs reached the api process's subscribers: every batch, in order.
    expect(events.messages.filter((message) => message.type === 'progress').map((message) => message.seq)).toEqual([1, 2, 3, 4, 5]);

    // Only the worker process took jobs.
    const registered = (await pool.query('select distinct pid from worker_registry')).rows.map((row) => row.pid);
    expect(registered).toEqual([worker.child.process.pid]);

    // The webhook came from the worker, its links pointing at the API.
    await receiver.waitForRequests(1);
    const event = JSON.parse(receiver.received[0]!.body);
    expect(event).toMatchObject({ type: 'import.succeeded', data: { import: { id, rows_inserted: 2500 } } });
    expect(event.data.import.errors_url).toBe(`${api.url}/v1/imports/${id}/errors`);

    // The worker serves /health, /ready and /metrics, and nothing of the API.
    expect((await json(await fetch(`${worker.url}/health`))).status).toBe('ok');
    expect((await json(await fetch(`${worker.url}/ready`))).workers).toEqual({ imports: true, webhooks: true });
    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(metrics).toMatch(/^lading_imports_total\{status="succeeded"\} 1$/m);
    const notApi = await fetch(`${worker.url}/v1/imports`, { headers: auth });
    expect(notApi.status).toBe(404);
    expect((await json(notApi)).error.code).toBe('not_found');
    // …and the api process counted no import of its own.
    expect(await (await fetch(`${api.url}/metrics`)).text()).not.toMatch(/^lading_imports_total\{status="succeeded"\} [1-9]/m);
  });
});
