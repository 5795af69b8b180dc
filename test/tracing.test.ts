import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startServiceProcess } from './helpers/child-process.ts';
import { createTestDatabase, readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

// Tracing against a real OTLP/HTTP receiver: a node:http server that decodes what the exporter
// POSTs to /v1/traces. One upload must give one trace: the request → the import job → each batch
// → the finish → each webhook attempt, every span the child of the one before it.

type OtlpValue = { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean };
type OtlpAttribute = { key: string; value: OtlpValue };
type OtlpSpan = {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  status?: { code?: number; message?: string };
};
type ExportRequest = {
  resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
};
type ReceivedSpan = OtlpSpan & { attrs: Record<string, string | number | boolean>; resource: Record<string, string | number | boolean> };

// OTLP SpanKind and StatusCode numbers.
const SERVER = 2;
const CLIENT = 3;
const CONSUMER = 5;
const STATUS_ERROR = 2;

function toRecord(attributes: OtlpAttribute[] = []): Record<string, string | number | boolean> {
  return Object.fromEntries(
    attributes.map(({ key, value }) => [
      key,
      value.stringValue ?? value.boolValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.doubleValue!),
    ]),
  );
}

/** The collector side of OTLP/HTTP: accepts JSON exports on POST /v1/traces and keeps every span. */
async function startOtlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const problems: string[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const type = request.headers['content-type'] ?? '';
      if (request.method !== 'POST' || request.url !== '/v1/traces' || !type.startsWith('application/json')) {
        problems.push(`${request.method} ${request.url} (${type})`);
        response.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportRequest;
      for (const resourceSpans of body.resourceSpans) {
        const resource = toRecord(resourceSpans.resource.attributes);
        for (const scope of resourceSpans.scopeSpans) {
          for (const span of scope.spans) spans.push({ ...span, attrs: toRecord(span.attributes), resource });
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    problems,
    /** Polls until `done` holds for the spans received, failing the test at the deadline. */
    async waitFor(done: (spans: ReceivedSpan[]) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!done(spans)) {
        if (Date.now() > deadline) throw new Error(`${what}: not received within ${timeoutMs} ms; got ${spans.map((s) => s.name).join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `count` product rows; every 50th has a price that is not a number (rejected). */
function productsCsv(count: number): string {
  const lines = ['sku,name,price'];
  for (let i = 1; i <= count; i++) lines.push(`TR-${String(i).padStart(5, '0')},Traced product ${i},${i % 50 === 0 ? 'abc' : `${i}.50`}`);
  return `${lines.join('\n')}\n`;
}

describe('tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let webhooks: WebhookReceiver;
  let service: TestService;

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    webhooks = await startWebhookReceiver();
    service = await startTestService({
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_SERVICE_NAME: 'lading-tracing-test',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      BATCH_SIZE: '500',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_SCHEDULE: '0',
    });
  });
  afterAll(async () => {
    await service?.stop();
    await webhooks?.close();
    await otlp?.close();
  });

  it('makes one trace from the upload through its job, each batch and the finish to each webhook attempt', async () => {
    const { key } = await service.createTenant();
    const endpoint = await service.request('/v1/webhooks', {
      method: 'POST',
      key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${webhooks.url}/hook` }),
    });
    expect(endpoint.status).toBe(201);
    webhooks.reply([500], 204); // the first attempt fails: its retry must join the same trace

    const upload = await service.uploadCsv(key, productsCsv(2100));
    expect(upload.status).toBe(202);
    const imported: ImportBody = await service.waitForImport(key, (await readJson(upload)).id);
    expect(imported).toMatchObject({ status: 'succeeded', rows_processed: 2100, rows_rejected: 42, batches_committed: 5 });
    await webhooks.waitForRequests(2);
    // The job's span ends after its clean-up, which may come after the webhook attempts: wait for both.
    await otlp.waitFor(
      (spans) => spans.filter((s) => s.name === 'webhook attempt').length === 2 && spans.some((s) => s.name === 'import_products_csv'),
      'the job span and both webhook attempt spans',
    );
    expect(otlp.problems).toEqual([]);

    const [request, ...others] = otlp.spans.filter((s) => s.name === 'POST /v1/imports');
    expect(others).toEqual([]);
    expect(request).toMatchObject({ kind: SERVER, attrs: { 'http.request.method': 'POST', 'http.route': '/v1/imports', 'http.response.status_code': 202 } });
    expect(request!.resource).toMatchObject({ 'service.name': 'lading-tracing-test', 'service.version': '0.1.0' });
    const trace = otlp.spans.filter((s) => s.traceId === request!.traceId);
    const childrenOf = (parent: ReceivedSpan, name: string) => trace.filter((s) => s.parentSpanId === parent.spanId && s.name === name);

    const [job, ...otherJobs] = childrenOf(request!, 'import_products_csv');
    expect(otherJobs).toEqual([]);
    expect(job).toMatchObject({ kind: CONSUMER, attrs: { 'lading.import.id': imported.id, 'lading.job.attempt': 1 } });

    const batches = childrenOf(job!, 'import batch').sort((a, b) => Number(a.attrs['lading.batch.number']) - Number(b.attrs['lading.batch.number']));
    expect(batches.map((s) => s.attrs['lading.batch.number'])).toEqual([1, 2, 3, 4, 5]);
    expect(batches.map((s) => s.attrs['lading.batch.rows_processed'])).toEqual([500, 500, 500, 500, 100]);
    expect(batches.map((s) => s.attrs['lading.batch.rows_rejected'])).toEqual([10, 10, 10, 10, 2]);
    expect(batches.map((s) => s.attrs['lading.batch.rows_inserted'])).toEqual([490, 490, 490, 490, 98]);
    expect(batches.map((s) => s.attrs['lading.batch.path'])).toEqual(['copy', 'copy', 'copy', 'copy', 'copy']); // new skus: straight into products
    expect(batches.every((s) => s.attrs['lading.batch.rows_updated'] === 0 && s.attrs['lading.batch.rows_unchanged'] === 0)).toBe(true);

    const [finish, ...otherFinishes] = childrenOf(job!, 'import finish');
    expect(otherFinishes).toEqual([]);
    expect(finish!.attrs).toMatchObject({ 'lading.import.id': imported.id, 'lading.import.status': 'succeeded' });

    const attempts = childrenOf(finish!, 'webhook attempt').sort((a, b) => Number(a.attrs['http.response.status_code']) - Number(b.attrs['http.response.status_code']));
    expect(attempts).toHaveLength(2);
    expect(attempts.map((s) => s.kind)).toEqual([CLIENT, CLIENT]);
    expect(attempts.map((s) => s.attrs['http.response.status_code'])).toEqual([204, 500]);
    expect(attempts[0]!.attrs).toMatchObject({ 'http.request.method': 'POST', 'server.address': '127.0.0.1', 'server.port': webhooks.port });
    expect(attempts[1]!.status).toMatchObject({ code: STATUS_ERROR, message: 'HTTP 500' });
    expect(attempts.every((s) => typeof s.attrs['lading.webhook.duration_ms'] === 'number')).toBe(true);
  });

  it('names request spans by route, and makes none for health probes', async () => {
    const { key } = await service.createTenant();
    expect((await service.request('/health')).status).toBe(200);
    expect((await service.request('/ready')).status).toBe(200);
    const missing = await service.request('/v1/imports/00000000-0000-4000-8000-000000000000', { key });
    expect(missing.status).toBe(404);
    // Spans are exported in the order they end: once this one is in, the probes' would be too.
    const isIt = (s: ReceivedSpan) => s.name === 'GET /v1/imports/:id' && s.attrs['http.response.status_code'] === 404;
    await otlp.waitFor((spans) => spans.some(isIt), 'the span of the 404');
    const get = otlp.spans.find(isIt)!;
    expect(get).toMatchObject({ kind: SERVER, attrs: { 'http.route': '/v1/imports/:id', 'http.response.status_code': 404 } });
    expect(get.parentSpanId ?? '').toBe(''); // a root: the request came with no traceparent
    expect(otlp.spans.filter((s) => /\/(health|ready)$/.test(s.name))).toEqual([]);
  });
});

describe('tracing configuration', () => {
  it('is off by default; the endpoint gets /v1/traces, the traces endpoint is taken as given', () => {
    expect(loadConfig({}).tracing).toEqual({ tracesUrl: undefined, headers: {}, serviceName: 'lading', exportDelayMs: 5000 });
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing.tracesUrl).toBe('http://collector:4318/v1/traces');
    const both = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.com/otlp' });
    expect(both.tracing.tracesUrl).toBe('https://traces.example.com/otlp');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%20def, team = core' }).tracing.headers).toEqual({ 'x-api-key': 'abc def', team: 'core' });
  });

  it('refuses an endpoint that is not an http(s) URL, and headers that are not key=value pairs', () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' })).toThrow(
      new ConfigError('Invalid configuration:\n  OTEL_EXPORTER_OTLP_ENDPOINT: must be an http(s) URL (got "collector:4317")'),
    );
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'just-a-token' })).toThrow(
      new ConfigError('Invalid configuration:\n  OTEL_EXPORTER_OTLP_HEADERS: must be comma-separated key=value pairs (got "just-a-token")'),
    );
  });
});

describe('tracing off (no OTLP endpoint)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lading-modules-'));
    // Preloaded with --import: records every module the process loads, by import or require
    // (module.registerHooks runs in the loading thread, for both), static or dynamic.
    await writeFile(
      path.join(dir, 'record-modules.mjs'),
      `import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
const file = process.env.LOADED_MODULES_FILE;
registerHooks({ load(url, context, nextLoad) { appendFileSync(file, url + '\\n'); return nextLoad(url, context); } });
`,
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** The modules the service (bin/lading-server.js) loaded by the time it answered /ready. */
  async function modulesLoaded(name: string, env: Record<string, string>): Promise<string[]> {
    const database = await createTestDatabase();
    const file = path.join(dir, `${name}.txt`);
    try {
      const { child, url } = await startServiceProcess({
        DATABASE_URL: database.connectionString,
        DATA_DIR: path.join(dir, name),
        NODE_OPTIONS: `--import=${path.join(dir, 'record-modules.mjs')}`,
        LOADED_MODULES_FILE: file,
        ...env,
      });
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      child.process.kill('SIGTERM');
      expect(await child.exited).toBe(0);
    } finally {
      await database.drop();
    }
    return (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  }

  it('loads neither the OpenTelemetry SDK nor its exporter nor @hono/otel; with an endpoint it does', async () => {
    const otlp = await startOtlpReceiver();
    const [off, on] = await Promise.all([
      modulesLoaded('off', {}),
      modulesLoaded('on', { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url }),
    ]).finally(() => otlp.close());
    const sdk = (urls: string[]) =>
      urls.filter((url) => /node_modules\/@opentelemetry\/(?!api\/)|node_modules\/@hono\/otel\//.test(url)).map((url) => url.replace(/^.*node_modules\//, ''));
    // The hook sees what the service loads from node_modules: the API (a no-op) is there.
    expect(off.some((url) => url.includes('node_modules/@opentelemetry/api/'))).toBe(true);
    expect(sdk(off)).toEqual([]);
    // … and it would see the SDK: with an endpoint, the same service loads it.
    for (const name of ['@opentelemetry/sdk-trace-node/', '@opentelemetry/exporter-trace-otlp-http/', '@opentelemetry/resources/', '@hono/otel/']) {
      expect(sdk(on).some((url) => url.startsWith(name))).toBe(true);
    }
  });
});
