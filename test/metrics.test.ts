import { createRequire } from 'node:module';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { connectEvents } from './helpers/event-client.ts';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

// GET /metrics: scraped over real HTTP and read with a real Prometheus text parser. Counters are
// per process and other tests' services may share it, so every assertion is on a delta between
// two scrapes of the same service.

type Sample = { labels?: Record<string, string>; value?: string };
type Family = { name: string; help: string; type: string; metrics: Sample[] };
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** One scrape, parsed. */
class Scrape {
  readonly families: Map<string, Family>;
  /** Each histogram's series, read as the counter of its _count lines (see below). */
  readonly histogramCounts: Map<string, Family>;
  constructor(text: string) {
    this.families = new Map(parsePrometheus(text).map((family) => [family.name, family]));
    // parse-prometheus-text-format 1.1.1 drops the labels of a labelled histogram's series (its
    // flattenMetrics keeps count and sum only when there are no labels), so each histogram is
    // read a second time without its _bucket and _sum lines, as a counter named <name>_count.
    const histograms = [...this.families.values()].filter((f) => f.type === 'HISTOGRAM').map((f) => f.name);
    const countsOnly = text
      .split('\n')
      .filter((line) => !histograms.some((name) => line.startsWith(`${name}_bucket`) || line.startsWith(`${name}_sum`)))
      .map((line) => line.replace(/^# TYPE (\S+) histogram$/, '# TYPE $1_count counter'))
      .join('\n');
    this.histogramCounts = new Map(
      parsePrometheus(countsOnly)
        .filter((family) => histograms.includes(family.name.replace(/_count$/, '')) && family.name.endsWith('_count'))
        .map((family) => [family.name.replace(/_count$/, ''), family]),
    );
  }
  series(name: string, labels: Record<string, string> = {}): Sample[] {
    const family = this.histogramCounts.get(name) ?? this.families.get(name);
    return (family?.metrics ?? []).filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  }
  /** Sum over the matching series: their values, or for a histogram their observation counts. */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.series(name, labels).reduce((sum, s) => sum + Number(s.value), 0);
  }
}

async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe(PROMETHEUS_TEXT);
  return new Scrape(await response.text());
}

/** Scrapes until `done` holds for the scrape, or fails at the deadline with what it last saw. */
async function scrapeUntil(url: string, done: (s: Scrape) => boolean, what: string, timeoutMs = 20_000): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await scrape(url);
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`metrics never showed ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function expectNotFound(response: Response, path: string): Promise<void> {
  expect(response.status).toBe(404);
  expect(await readJson(response)).toEqual({
    error: { code: 'not_found', message: `No route for GET ${path}`, requestId: response.headers.get('x-request-id') },
  });
}

describe('GET /metrics on the main port', () => {
  let service: TestService;
  let receiver: WebhookReceiver;
  let key: string;
  let db: pg.Client;

  beforeAll(async () => {
    // Batches of 3: several per import. One worker: a second import waits in the queue.
    service = await startTestService({ WEBHOOK_ALLOW_PRIVATE: 'true', BATCH_SIZE: '3', WORKER_CONCURRENCY: '1' });
    receiver = await startWebhookReceiver();
    ({ key } = await service.createTenant('metrics'));
    db = new pg.Client({ connectionString: service.connectionString });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await receiver?.close();
    await service?.stop();
  });

  const upload = async (csv: string): Promise<string> => {
    const response = await service.uploadCsv(key, csv);
    expect(response.status).toBe(202);
    return (await readJson(response)).id;
  };

  it('answers without an API key, in the Prometheus text format, with help for every metric', async () => {
    const response = await fetch(`${service.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_TEXT);
    const s = new Scrape(await response.text());
    for (const [name, type] of [
      ['lading_http_request_duration_seconds', 'HISTOGRAM'],
      ['lading_imports_total', 'COUNTER'],
      ['lading_imports_in_progress', 'GAUGE'],
      ['lading_import_rows_total', 'COUNTER'],
      ['lading_import_batch_duration_seconds', 'HISTOGRAM'],
      ['lading_import_stage_seconds_total', 'COUNTER'],
      ['lading_import_queue_jobs', 'GAUGE'],
      ['lading_webhook_deliveries_total', 'COUNTER'],
      ['lading_webhook_delivery_duration_seconds', 'HISTOGRAM'],
      ['lading_ws_subscribers', 'GAUGE'],
      ['lading_db_pool_connections', 'GAUGE'],
    ]) {
      expect(s.families.get(name!), name).toMatchObject({ type, help: expect.stringMatching(/^\S.{20,}/) });
    }
    // prom-client's default process metrics
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(s.families.has(name), name).toBe(true);
    }
    for (const pool of ['api', 'imports', 'webhooks']) {
      for (const state of ['idle', 'active', 'waiting']) {
        expect(s.series('lading_db_pool_connections', { pool, state }), `${pool} ${state}`).toHaveLength(1);
      }
    }
    expect(s.value('lading_db_pool_connections', { pool: 'api' })).toBeGreaterThan(0);
    // The pools are read before the scrape's own queue query takes a connection.
    expect(s.value('lading_db_pool_connections', { pool: 'api', state: 'waiting' })).toBe(0);
    // Every known label value has its series from the start.
    for (const [name, label, values] of [
      ['lading_imports_total', 'status', ['succeeded', 'failed', 'cancelled']],
      ['lading_import_rows_total', 'outcome', ['inserted', 'updated', 'unchanged', 'rejected']],
      ['lading_webhook_deliveries_total', 'outcome', ['succeeded', 'retry', 'failed']],
      ['lading_import_queue_jobs', 'state', ['queued', 'locked', 'failed']],
    ] as const) {
      expect(s.series(name).map((series) => series.labels?.[label]).sort(), name).toEqual([...values].sort());
    }
  });

  it('counts a real import and its webhook delivery: finished imports, rows by outcome, batches, deliveries', async () => {
    await service.request('/v1/webhooks', {
      method: 'POST',
      key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${receiver.url}/hook` }),
    });
    const before = await scrape(service.url);

    // The first import inserts 4 products; the second inserts 1, updates 1, leaves 3 alone and rejects 2.
    const first = await service.waitForImport(key, await upload('sku,name,price\nM-1,One,1.00\nM-2,Two,2.00\nM-3,Three,3.00\nM-4,Four,4.00\n'));
    const second = await service.waitForImport(
      key,
      await upload('sku,name,price\nM-1,One,1.00\nM-2,Two,2.50\nM-3,Three,3.00\nM-4,Four,4.00\nM-5,Five,5.00\nbad sku,Six,6.00\nM-7,,7.00\n'),
    );
    const imports: ImportBody[] = [first, second];
    expect(imports.map((i) => i.status)).toEqual(['succeeded', 'succeeded']);
    expect(second).toMatchObject({ rows_inserted: 1, rows_updated: 1, rows_unchanged: 3, rows_rejected: 2 });

    await receiver.waitForRequests(2);
    const after = await scrapeUntil(
      service.url,
      (s) => s.value('lading_webhook_deliveries_total') - before.value('lading_webhook_deliveries_total') >= 2,
      'two webhook deliveries',
    );
    const delta = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);
    const sum = (field: keyof ImportBody) => imports.reduce((total, i) => total + Number(i[field]), 0);

    expect(delta('lading_imports_total', { status: 'succeeded' })).toBe(2);
    expect(delta('lading_imports_total', { status: 'failed' })).toBe(0);
    for (const outcome of ['inserted', 'updated', 'unchanged', 'rejected'] as const) {
      expect(delta('lading_import_rows_total', { outcome }), outcome).toBe(sum(`rows_${outcome}`));
    }
    expect(sum('batches_committed')).toBeGreaterThan(2);
    expect(delta('lading_import_batch_duration_seconds')).toBe(sum('batches_committed'));
    for (const stage of ['parse', 'validate']) expect(delta('lading_import_stage_seconds_total', { stage }), stage).toBeGreaterThan(0);
    expect(after.value('lading_imports_in_progress')).toBe(0);

    expect(delta('lading_webhook_deliveries_total', { outcome: 'succeeded' })).toBe(2);
    expect(delta('lading_webhook_deliveries_total', { outcome: 'retry' })).toBe(0);
    expect(delta('lading_webhook_delivery_duration_seconds')).toBe(2);
  });

  it('counts the rows of atomic and dry-run imports at their end, as the imports count them', async () => {
    const before = await scrape(service.url);
    const held = async (option: string, csv: string) => {
      const response = await service.request(`/v1/imports?${option}=true`, { method: 'POST', key, headers: { 'content-type': 'text/csv' }, body: csv });
      expect(response.status).toBe(202);
      return service.waitForImport(key, (await readJson(response)).id);
    };
    const atomic = await held('atomic', 'sku,name,price\nA-1,One,1.00\nA-2,Two,2.00\nA-3,Three,3.00\nbad sku,x,1\n');
    const dryRun = await held('dry_run', 'sku,name,price\nA-1,One,1.50\nA-2,Two,2.00\nA-4,Four,4.00\n');
    expect(atomic).toMatchObject({ status: 'succeeded', rows_inserted: 3, rows_rejected: 1 });
    expect(dryRun).toMatchObject({ status: 'succeeded', rows_inserted: 1, rows_updated: 1, rows_unchanged: 1 });
    const after = await scrape(service.url);
    for (const outcome of ['inserted', 'updated', 'unchanged', 'rejected'] as const) {
      const counted = after.value('lading_import_rows_total', { outcome }) - before.value('lading_import_rows_total', { outcome });
      expect(counted, outcome).toBe(atomic[`rows_${outcome}`] + dryRun[`rows_${outcome}`]);
    }
  });

  it('counts the rows of an import that fails as its batches commit', async () => {
    const before = await scrape(service.url);
    // A quote that never closes ends the import failed, after the batches of the records before it.
    const failed = await service.waitForImport(key, await upload('sku,name\nF-1,One\nF-2,Two\nF-3,Three\nF-4,Four\nF-5,"never closed\n'));
    expect(failed).toMatchObject({ status: 'failed', rows_inserted: 4, batches_committed: 2 });
    const after = await scrape(service.url);
    expect(after.value('lading_imports_total', { status: 'failed' }) - before.value('lading_imports_total', { status: 'failed' })).toBe(1);
    expect(after.value('lading_import_rows_total', { outcome: 'inserted' }) - before.value('lading_import_rows_total', { outcome: 'inserted' })).toBe(4);
  });

  it('labels HTTP requests by route template, never the raw path; an unknown path gets one label', async () => {
    const id = await upload('sku,name\nH-1,One\n');
    await service.waitForImport(key, id);
    expect((await service.request(`/v1/imports/${id}`)).status).toBe(401);
    await expectNotFound(await service.request(`/no/such/${id}`), `/no/such/${id}`);
    const s = await scrape(service.url);

    const routes = new Set(s.series('lading_http_request_duration_seconds').map((series) => series.labels?.route));
    expect([...routes].filter((route) => route?.includes(id))).toEqual([]);
    expect(s.value('lading_http_request_duration_seconds', { method: 'GET', route: '/v1/imports/:id', status: '200' })).toBeGreaterThan(0);
    expect(s.value('lading_http_request_duration_seconds', { method: 'POST', route: '/v1/imports', status: '202' })).toBeGreaterThan(0);
    // A 401 from the key check, before the handler: still the route it was for.
    expect(s.value('lading_http_request_duration_seconds', { method: 'GET', route: '/v1/imports/:id', status: '401' })).toBe(1);
    expect(s.value('lading_http_request_duration_seconds', { method: 'GET', route: '(unmatched)', status: '404' })).toBe(1);
  });

  it('shows the queue, the in-progress import and the pools while an import is held up, a cancel, and a job out of attempts', async () => {
    const before = await scrape(service.url);
    // An exclusive lock on products stops the import at its first batch, after it started.
    await db.query('begin');
    await db.query('lock table products in access exclusive mode');
    let running: string | undefined;
    let waiting: string | undefined;
    try {
      running = await upload('sku,name\nQ-1,One\n');
      const during = await scrapeUntil(service.url, (s) => s.value('lading_imports_in_progress') === 1, 'an import in progress');
      waiting = await upload('sku,name\nQ-2,Two\n'); // one worker, and it is busy
      const queued = await scrapeUntil(
        service.url,
        (s) => s.value('lading_import_queue_jobs', { state: 'queued' }) === 1,
        'one queued job',
      );
      expect(queued.value('lading_import_queue_jobs', { state: 'locked' })).toBe(1);
      expect(queued.value('lading_import_queue_jobs', { state: 'failed' })).toBe(0);
      expect(during.value('lading_db_pool_connections', { pool: 'imports', state: 'active' })).toBeGreaterThan(0);
      expect(before.value('lading_import_queue_jobs', { state: 'locked' })).toBe(0);
      expect(before.value('lading_imports_in_progress')).toBe(0);

      // Cancelled while it waits: counted at once.
      expect((await service.request(`/v1/imports/${waiting}/cancel`, { method: 'POST', key })).status).toBe(200);
      const cancelled = await scrape(service.url);
      expect(cancelled.value('lading_imports_total', { status: 'cancelled' }) - before.value('lading_imports_total', { status: 'cancelled' })).toBe(1);
    } finally {
      await db.query('rollback');
    }
    expect((await service.waitForImport(key, running!)).status).toBe('succeeded');
    expect((await service.waitForImport(key, waiting!)).status).toBe('cancelled');
    const after = await scrapeUntil(service.url, (s) => s.value('lading_import_queue_jobs', { state: 'locked' }) === 0, 'no locked job');
    expect(after.value('lading_imports_in_progress')).toBe(0);
    expect(after.value('lading_import_queue_jobs', { state: 'queued' })).toBe(0);

    // A job whose payload the task refuses, with one attempt: graphile-worker keeps it, failed.
    await db.query(`select graphile_worker.add_job('import_products_csv', json_build_object('importId', 'not-a-uuid'), max_attempts := 1)`);
    await scrapeUntil(service.url, (s) => s.value('lading_import_queue_jobs', { state: 'failed' }) === 1, 'one failed job');
  });

  it('counts WebSocket subscribers while they are connected', async () => {
    const before = (await scrape(service.url)).value('lading_ws_subscribers');
    const client = connectEvents(service.url, '/v1/events', { key });
    await client.opened;
    await scrapeUntil(service.url, (s) => s.value('lading_ws_subscribers') === before + 1, 'one more subscriber');
    client.socket.close();
    await client.closed;
    await scrapeUntil(service.url, (s) => s.value('lading_ws_subscribers') === before, 'the subscriber gone');
  });

  it('is in /openapi.json as a public operation', async () => {
    const doc = await readJson(await service.request('/openapi.json'));
    expect(doc.paths['/metrics'].get).toMatchObject({ tags: ['metrics'] });
    expect(doc.paths['/metrics'].get.security).toBeUndefined();
  });
});

describe('METRICS_ENABLED=false', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ METRICS_ENABLED: 'false' });
  });
  afterAll(() => service?.stop());

  it('answers /metrics with 404 in the error shape, and leaves it out of /openapi.json', async () => {
    await expectNotFound(await service.request('/metrics'), '/metrics');
    const doc = await readJson(await service.request('/openapi.json'));
    expect(doc.paths['/metrics']).toBeUndefined();
  });
});

describe('METRICS_PORT', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ METRICS_PORT: '0' });
  });
  afterAll(() => service?.stop());

  it('serves /metrics on its own port only; other paths there are 404', async () => {
    expect(service.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(service.metricsUrl).not.toBe(service.url);
    const s = await scrape(service.metricsUrl!);
    expect(s.series('lading_db_pool_connections', { pool: 'imports', state: 'idle' })).toHaveLength(1);
    expect(s.series('lading_import_queue_jobs', { state: 'queued' })).toHaveLength(1);

    await expectNotFound(await service.request('/metrics'), '/metrics');
    await expectNotFound(await fetch(`${service.metricsUrl}/v1/imports`), '/v1/imports');
    const doc = await readJson(await service.request('/openapi.json'));
    expect(doc.paths['/metrics']).toBeUndefined();
  });

  it('closes that port when the service stops', async () => {
    const other = await startTestService({ METRICS_PORT: '0' });
    const url = other.metricsUrl!;
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
    await other.stop();
    await expect(fetch(`${url}/metrics`)).rejects.toThrow();
  });
});

describe('configuration', () => {
  it('METRICS_ENABLED is true by default and takes true or false; METRICS_PORT is optional', () => {
    expect(loadConfig({}).metrics).toEqual({ enabled: true, port: undefined });
    expect(loadConfig({ METRICS_ENABLED: 'false', METRICS_PORT: '9464' }).metrics).toEqual({ enabled: false, port: 9464 });
  });

  it.each([
    [{ METRICS_ENABLED: 'no' }, 'METRICS_ENABLED: must be true or false (got "no")'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT: must be at most 65535 (got "70000")'],
    [{ PORT: '9464', METRICS_PORT: '9464' }, 'METRICS_PORT: must differ from PORT (got "9464")'],
  ])('refuses %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
