import { DEFAULT_IMPORT_OPTIONS } from '../src/imports/import-options.ts';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';
import { buildEventBody, enqueueImportFinishedEvent, webhookEventSchema, WEBHOOK_EVENT_VERSION } from '../src/webhooks/webhook-events.ts';
import type { ImportRow } from '../src/imports/import-queries.ts';
import { startWebhookReceiver, webhookBodyProblem, type ReceivedWebhook, type WebhookReceiver } from './helpers/webhook-receiver.ts';

const SCHEDULE = [0.05, 0.05, 0.05];
let service: TestService;

beforeAll(async () => {
  service = await startTestService({
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_RETRY_SCHEDULE: SCHEDULE.join(','),
    WEBHOOK_DISABLE_AFTER_FAILURES: '2',
    WEBHOOK_TIMEOUT_MS: '500',
    PUBLIC_BASE_URL: 'https://lading.example.com',
  });
});
afterAll(() => service?.stop());

type Endpoint = { id: string; secret: string };

async function register(key: string, body: Record<string, unknown>): Promise<Endpoint> {
  const response = await service.request('/v1/webhooks', {
    method: 'POST',
    key,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(201);
  return readJson(response);
}

async function runImport(key: string, csv: string): Promise<ImportBody> {
  const response = await service.uploadCsv(key, csv);
  return service.waitForImport(key, (await readJson(response)).id);
}

type Delivery = { id: string; event_id: string; status: string; attempts: { status_code: number | null; error: string | null; attempted_at: string }[] };

/** Polls the delivery log until every delivery is finished (not pending), at least `count` of them. */
async function finishedDeliveries(key: string, endpointId: string, count = 1, timeoutMs = 20_000): Promise<Delivery[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = await readJson(await service.request(`/v1/webhooks/${endpointId}/deliveries`, { key }));
    const items = page.items as Delivery[];
    if (items.length >= count && items.every((d) => d.status !== 'pending')) return items;
    if (Date.now() > deadline) throw new Error(`deliveries still pending: ${JSON.stringify(items)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function verify(secret: string, request: ReceivedWebhook): unknown {
  return new Webhook(secret).verify(request.body, request.headers as Record<string, string>);
}

describe('delivery of import events', () => {
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
  });
  afterAll(() => receiver.close());

  it('sends exactly one signed event per subscribed endpoint, and nothing to the others', async () => {
    const { key } = await service.createTenant('events');
    const all = await register(key, { url: `${receiver.url}/all` });
    const onlySucceeded = await register(key, { url: `${receiver.url}/succeeded`, events: ['import.succeeded'] });
    const onlyFailed = await register(key, { url: `${receiver.url}/failed`, events: ['import.failed'] });
    expect(all.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const before = receiver.received.length;
    const done = await runImport(key, 'sku,name,price\nW-1,One,1.00\nbad sku,Two,2.00\n');
    await finishedDeliveries(key, all.id);
    await finishedDeliveries(key, onlySucceeded.id);
    const mine = receiver.received.slice(before);

    expect(mine.map((r) => r.path).sort()).toEqual(['/all', '/succeeded']);
    for (const [endpoint, path] of [[all, '/all'], [onlySucceeded, '/succeeded']] as const) {
      const request = mine.find((r) => r.path === path)!;
      expect(verify(endpoint.secret, request)).toEqual(JSON.parse(request.body));
      expect(() => verify(onlyFailed.secret, request)).toThrow();
      expect(request.headers['webhook-id']).toBe(`evt_${done.id}`);
      expect(request.headers['content-type']).toBe('application/json');
    }
    const body = JSON.parse(mine[0]!.body);
    expect(body).toEqual({
      id: `evt_${done.id}`,
      type: 'import.succeeded',
      version: 1,
      created_at: done.finished_at,
      data: { import: { ...done, errors_url: `https://lading.example.com/v1/imports/${done.id}/errors` } },
    });
    expect(body.data.import).toMatchObject({ rows_inserted: 1, rows_rejected: 1 });

    const failedLog = await readJson(await service.request(`/v1/webhooks/${onlyFailed.id}/deliveries`, { key }));
    expect(failedLog.items).toEqual([]);
  });

  it('sends import.failed to endpoints that asked for it', async () => {
    const { key } = await service.createTenant('failed-events');
    const endpoint = await register(key, { url: `${receiver.url}/only-failed`, events: ['import.failed'] });
    const done = await runImport(key, 'sku,label\nA,b\n');
    expect(done.status).toBe('failed');
    const [delivery] = await finishedDeliveries(key, endpoint.id);
    expect(delivery).toMatchObject({ status: 'succeeded', event_id: `evt_${done.id}` });
    const request = receiver.received.find((r) => r.path === '/only-failed')!;
    expect((verify(endpoint.secret, request) as { type: string; data: { import: ImportBody } })).toMatchObject({
      type: 'import.failed',
      data: { import: { status: 'failed', error: done.error } },
    });
  });

  it('retries after 500, 500 and succeeds on 204, logging three attempts under one webhook-id', async () => {
    const { key } = await service.createTenant('retries');
    const endpoint = await register(key, { url: `${receiver.url}/retry` });
    receiver.reply([500, 500], 204);
    const before = receiver.received.length;
    await runImport(key, 'sku,name\nR-1,x\n');
    const [delivery] = await finishedDeliveries(key, endpoint.id);
    receiver.reply([], 204);

    expect(delivery!.status).toBe('succeeded');
    expect(delivery!.attempts.map((a) => a.status_code)).toEqual([500, 500, 204]);
    const requests = receiver.received.slice(before).filter((r) => r.path === '/retry');
    expect(requests).toHaveLength(3);
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    for (const request of requests) expect(verify(endpoint.secret, request)).toBeTruthy();
  });

  it('freezes the body when the delivery is queued: a redelivery after the import changed sends the same bytes', async () => {
    const { key } = await service.createTenant('frozen');
    const endpoint = await register(key, { url: `${receiver.url}/frozen` });
    const done = await runImport(key, 'sku,name\nF-1,x\n');
    const [delivery] = await finishedDeliveries(key, endpoint.id);
    const first = receiver.received.filter((r) => r.path === '/frozen');
    expect(first).toHaveLength(1);

    await service.pool.query("update imports set filename = 'renamed.csv', warnings = array['changed later'] where id = $1", [done.id]);
    const redeliver = await service.request(`/v1/webhooks/${endpoint.id}/deliveries/${delivery!.id}/redeliver`, { method: 'POST', key });
    expect(redeliver.status).toBe(202);
    await receiver.waitForRequests(receiver.received.length + 1);
    const all = receiver.received.filter((r) => r.path === '/frozen');
    expect(all).toHaveLength(2);
    expect(all[1]!.body).toBe(first[0]!.body);
    expect(all[1]!.headers['webhook-id']).toBe(`evt_${done.id}`);
  });

  it('honours Retry-After on 429 instead of the schedule', async () => {
    const { key } = await service.createTenant('retry-after');
    const endpoint = await register(key, { url: `${receiver.url}/busy` });
    receiver.reply([{ status: 429, headers: { 'retry-after': '1' } }], 204);
    await runImport(key, 'sku,name\nB-1,x\n');
    const [delivery] = await finishedDeliveries(key, endpoint.id);
    receiver.reply([], 204);
    expect(delivery!.attempts.map((a) => a.status_code)).toEqual([429, 204]);
    const gap = Date.parse(delivery!.attempts[1]!.attempted_at) - Date.parse(delivery!.attempts[0]!.attempted_at);
    expect(gap).toBeGreaterThanOrEqual(950);
  });

  it('does not follow redirects and gives up on a receiver that never answers', async () => {
    const { key } = await service.createTenant('redirect');
    const endpoint = await register(key, { url: `${receiver.url}/moved` });
    receiver.reply([{ status: 302, headers: { location: `${receiver.url}/elsewhere` } }, { status: 200, hang: true }], 503);
    await runImport(key, 'sku,name\nM-1,x\n');
    const [delivery] = await finishedDeliveries(key, endpoint.id);
    receiver.reply([], 204);
    expect(delivery!.status).toBe('failed');
    expect(delivery!.attempts).toHaveLength(1 + SCHEDULE.length);
    expect(delivery!.attempts[0]).toMatchObject({ status_code: 302, error: null });
    expect(delivery!.attempts[1]).toMatchObject({ status_code: null, error: 'timed out after 500 ms' });
    expect(receiver.received.some((r) => r.path === '/elsewhere')).toBe(false);
  });
});

describe('a receiver that is down', () => {
  it('fails the delivery after the whole schedule; redelivery once it is back succeeds with the same id', async () => {
    const { key } = await service.createTenant('down');
    const receiver = await startWebhookReceiver();
    const port = receiver.port;
    await receiver.close(); // nothing listens there now
    const endpoint = await register(key, { url: `http://127.0.0.1:${port}/hook` });
    const done = await runImport(key, 'sku,name\nD-1,x\n');

    const [failed] = await finishedDeliveries(key, endpoint.id);
    expect(failed!.status).toBe('failed');
    expect(failed!.attempts).toHaveLength(1 + SCHEDULE.length);
    expect(failed!.attempts.every((a) => a.status_code === null && /ECONNREFUSED/.test(a.error ?? ''))).toBe(true);
    const afterFailure = await readJson(await service.request(`/v1/webhooks/${endpoint.id}`, { key }));
    expect(afterFailure).toMatchObject({ enabled: true, consecutive_failures: 1 });

    const back = await startWebhookReceiver(port);
    try {
      const redeliver = await service.request(`/v1/webhooks/${endpoint.id}/deliveries/${failed!.id}/redeliver`, { method: 'POST', key });
      expect(redeliver.status).toBe(202);
      await back.waitForRequests(1);
      const [delivered] = await finishedDeliveries(key, endpoint.id);
      expect(delivered).toMatchObject({ id: failed!.id, status: 'succeeded', event_id: `evt_${done.id}` });
      expect(delivered!.attempts).toHaveLength(2 + SCHEDULE.length);
      expect(back.received).toHaveLength(1);
      expect(back.received[0]!.headers['webhook-id']).toBe(`evt_${done.id}`);
      expect(verify(endpoint.secret, back.received[0]!)).toBeTruthy();
      const healed = await readJson(await service.request(`/v1/webhooks/${endpoint.id}`, { key }));
      expect(healed.consecutive_failures).toBe(0);
    } finally {
      await back.close();
    }
  });

  it('disables an endpoint after consecutive failed deliveries and says why', async () => {
    const { key } = await service.createTenant('disable');
    const receiver = await startWebhookReceiver();
    receiver.reply([], 500);
    const endpoint = await register(key, { url: `${receiver.url}/broken` });
    await runImport(key, 'sku,name\nX-1,x\n');
    await finishedDeliveries(key, endpoint.id, 1);
    await runImport(key, 'sku,name\nX-2,x\n');
    await finishedDeliveries(key, endpoint.id, 2);
    const view = await readJson(await service.request(`/v1/webhooks/${endpoint.id}`, { key }));
    expect(view).toMatchObject({ enabled: false, consecutive_failures: 2 });
    expect(view.disabled_reason).toBe('Disabled after 2 consecutive failed deliveries; last error: HTTP 500');

    const failedOnly = await readJson(await service.request(`/v1/webhooks/${endpoint.id}/deliveries?status=failed&limit=1`, { key }));
    expect(failedOnly.items).toHaveLength(1);
    expect(failedOnly.next_cursor).toEqual(expect.any(String));
    const rest = await readJson(
      await service.request(`/v1/webhooks/${endpoint.id}/deliveries?status=failed&limit=1&cursor=${failedOnly.next_cursor}`, { key }),
    );
    expect(rest.items).toHaveLength(1);
    expect(rest.items[0].id).not.toBe(failedOnly.items[0].id);
    const succeeded = await readJson(await service.request(`/v1/webhooks/${endpoint.id}/deliveries?status=succeeded`, { key }));
    expect(succeeded.items).toEqual([]);

    const count = receiver.received.length;
    await runImport(key, 'sku,name\nX-3,x\n');
    expect((await readJson(await service.request(`/v1/webhooks/${endpoint.id}/deliveries`, { key }))).items).toHaveLength(2);
    expect(receiver.received).toHaveLength(count);
    await receiver.close();
  });

  it('disables an endpoint that answers 410 Gone', async () => {
    const { key } = await service.createTenant('gone');
    const receiver = await startWebhookReceiver();
    receiver.reply([410]);
    const endpoint = await register(key, { url: `${receiver.url}/gone` });
    await runImport(key, 'sku,name\nG-1,x\n');
    const [delivery] = await finishedDeliveries(key, endpoint.id);
    expect(delivery).toMatchObject({ status: 'failed' });
    expect(delivery!.attempts).toHaveLength(1);
    const view = await readJson(await service.request(`/v1/webhooks/${endpoint.id}`, { key }));
    expect(view.enabled).toBe(false);
    expect(view.disabled_reason).toMatch(/^The endpoint answered 410 Gone on /);
    await receiver.close();
  });
});

describe('managing endpoints', () => {
  it('rotates the secret: both old and new sign for 24 hours', async () => {
    const { key } = await service.createTenant('rotate');
    const receiver = await startWebhookReceiver();
    const endpoint = await register(key, { url: `${receiver.url}/rotate` });
    const rotated = await readJson(
      await service.request(`/v1/webhooks/${endpoint.id}`, {
        method: 'PATCH',
        key,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rotate_secret: true }),
      }),
    );
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(endpoint.secret);
    const test = await service.request(`/v1/webhooks/${endpoint.id}/test`, { method: 'POST', key });
    expect(test.status).toBe(202);
    await receiver.waitForRequests(1);
    const request = receiver.received[0]!;
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verify(rotated.secret, request)).toMatchObject({ type: 'webhook.test' });
    expect(verify(endpoint.secret, request)).toMatchObject({ type: 'webhook.test' });
    await receiver.close();
  });

  it('never shows the secret again, scopes endpoints to the tenant and validates input', async () => {
    const { key } = await service.createTenant('crud');
    const other = await service.createTenant('crud-other');
    const endpoint = await register(key, { url: 'https://example.com/hook', description: 'ERP' });
    const list = await readJson(await service.request('/v1/webhooks', { key }));
    expect(list.items).toEqual([expect.objectContaining({ id: endpoint.id, description: 'ERP', events: ['import.succeeded', 'import.failed', 'import.cancelled'] })]);
    expect(JSON.stringify(list)).not.toContain('whsec_');
    expect(JSON.stringify(await readJson(await service.request(`/v1/webhooks/${endpoint.id}`, { key })))).not.toContain('whsec_');

    for (const [method, path] of [['GET', ''], ['PATCH', ''], ['DELETE', ''], ['GET', '/deliveries'], ['POST', '/test']]) {
      const response = await service.request(`/v1/webhooks/${endpoint.id}${path}`, {
        method,
        key: other.key,
        headers: { 'content-type': 'application/json' },
        body: method === 'PATCH' ? '{}' : undefined,
      });
      expect(response.status).toBe(404);
    }
    expect((await service.request('/v1/webhooks')).status).toBe(401);

    const bad = await service.request('/v1/webhooks', {
      method: 'POST',
      key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'ftp://example.com/x', events: ['import.exploded'] }),
    });
    expect(bad.status).toBe(400);
    expect((await readJson(bad)).error.message).toContain('events must be among import.succeeded, import.failed, import.cancelled');

    const disabled = await readJson(
      await service.request(`/v1/webhooks/${endpoint.id}`, {
        method: 'PATCH',
        key,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ enabled: false }),
      }),
    );
    expect(disabled).toMatchObject({ enabled: false, disabled_reason: 'disabled through the API' });
    expect(disabled.secret).toBeUndefined();
    expect((await service.request(`/v1/webhooks/${endpoint.id}`, { method: 'DELETE', key })).status).toBe(204);
    expect((await service.request(`/v1/webhooks/${endpoint.id}`, { key })).status).toBe(404);
  });
});

describe('the webhook body contract', () => {
  const EVENTS = {
    'import.succeeded': 'ImportSucceededEvent',
    'import.failed': 'ImportFailedEvent',
    'import.cancelled': 'ImportCancelledEvent',
    'webhook.test': 'WebhookTestEvent',
    'source.schema_drift': 'SourceSchemaDriftEvent',
  };

  it('publishes every event type under the OpenAPI 3.1 webhooks of /openapi.json, its body the named schema', async () => {
    const doc = await readJson(await service.request('/openapi.json'));
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(webhookEventSchema.options.map((member) => member.shape.type.value).sort()).toEqual(Object.keys(EVENTS).sort());
    expect(Object.keys(doc.webhooks).sort()).toEqual(Object.keys(EVENTS).sort());
    for (const [type, component] of Object.entries(EVENTS)) {
      const operation = doc.webhooks[type].post;
      expect(operation.requestBody.content['application/json'].schema).toEqual({ $ref: `#/components/schemas/${component}` });
      const schema = doc.components.schemas[component];
      expect(schema.properties.type.enum).toEqual([type]);
      expect(schema.properties.version.enum).toEqual([WEBHOOK_EVENT_VERSION]);
      expect(schema.required).toEqual(['id', 'type', 'version', 'created_at', 'data']);
      const headers = operation.parameters.filter((p: { in: string }) => p.in === 'header').map((p: { name: string }) => p.name);
      expect(headers).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
      expect(Object.keys(operation.responses)).toContain('2XX');
    }
    // data.import is the Import schema itself (by reference), plus errors_url.
    const importData = doc.components.schemas.ImportSucceededEvent.properties.data.properties.import;
    expect(importData.allOf[0]).toEqual({ $ref: '#/components/schemas/Import' });
    expect(importData.allOf[1].required).toEqual(['errors_url']);
    expect(doc.components.schemas.WebhookEvent.discriminator.propertyName).toBe('type');
  });

  const view = {
    id: '0b7e5f4c-3f0e-4d8a-9a57-2f1c6f0c1d2e',
    status: 'succeeded' as const,
    filename: 'p.csv',
    bytes: 10,
    sha256: 'ab',
    rows_processed: 1,
    rows_inserted: 1,
    rows_updated: 0,
    rows_unchanged: 0,
    rows_rejected: 0,
    batches_committed: 1,
    warnings: [],
    error: null,
    created_at: '2025-01-01T00:00:00.000Z',
    started_at: '2025-01-01T00:00:01.000Z',
    finished_at: '2025-01-01T00:00:02.000Z',
    options: { ...DEFAULT_IMPORT_OPTIONS },
    mapping: null,
    encoding: 'utf-8',
    delimiter: ',',
    source: null,
    schema_drift: null,
  };
  const errorsUrl = `https://lading.example.com/v1/imports/${view.id}/errors`;

  it('builds bodies only through the schema: a wrong shape is refused before it is stored', () => {
    const good = buildEventBody({ id: 'evt_1', type: 'import.succeeded', createdAt: new Date(view.finished_at), data: { import: { ...view, errors_url: errorsUrl } } });
    expect(Object.keys(JSON.parse(good))).toEqual(['id', 'type', 'version', 'created_at', 'data']);
    expect(webhookBodyProblem(good)).toBeNull();

    const wrong = [
      { id: 'evt_1', type: 'import.succeeded', createdAt: new Date(), data: { endpoint_id: view.id } }, // a test event's data
      { id: 'evt_1', type: 'import.succeeded', createdAt: new Date(), data: { import: view } }, // no errors_url
      { id: 'evt_1', type: 'import.failed', createdAt: new Date(), data: { import: { ...view, rows_inserted: -1, errors_url: errorsUrl } } },
      { id: 'evt_1', type: 'import.processing', createdAt: new Date(), data: { import: { ...view, errors_url: errorsUrl } } }, // no such event
      { id: 'evt_1', type: 'webhook.test', createdAt: new Date(), data: { endpoint_id: 'not-a-uuid' } },
    ];
    for (const event of wrong) expect(() => buildEventBody(event as never)).toThrow(/webhook body does not match its schema/);
  });

  it('writes no delivery for an import that has not ended', async () => {
    const row: ImportRow = {
      ...{ id: view.id, tenant_id: view.id, status: 'processing', filename: null, file_path: '/x', bytes: '1', sha256: 'ab', header: null },
      ...{ rows_processed: '0', rows_inserted: '0', rows_updated: '0', rows_unchanged: '0', rows_rejected: '0', rows_held: '0', batches_committed: 0 },
      ...{ warnings: [], error: null, checkpoint_byte: '0', checkpoint_line: '0', created_at: new Date(), started_at: null, finished_at: null },
      ...{ options: { ...DEFAULT_IMPORT_OPTIONS }, mapping: null, encoding: 'auto', delimiter: null, file_format: 'csv' },
      ...{ source: null, requested_mapping: null, schema_drift: null },
    };
    const db = { query: () => Promise.reject(new Error('nothing may be written')) } as never;
    await expect(enqueueImportFinishedEvent(db, row, 'https://x')).rejects.toThrow(/is processing, not ended/);
  });

  it('the receiver fails a test on a body that is not a WebhookEvent, exactly', async () => {
    const good = buildEventBody({ id: 'evt_t', type: 'webhook.test', createdAt: new Date(), data: { endpoint_id: view.id } });
    const unversioned = JSON.stringify({ ...JSON.parse(good), version: undefined });
    const extraField = JSON.stringify({ ...JSON.parse(good), data: { endpoint_id: view.id, secret: 'whsec_x' } });
    expect(webhookBodyProblem(good)).toBeNull();
    expect(webhookBodyProblem(unversioned)).toMatch(/version/);
    expect(webhookBodyProblem(extraField)).toMatch(/fields the schema does not describe/);
    expect(webhookBodyProblem('{"id":')).toMatch(/not JSON/);

    const receiver = await startWebhookReceiver();
    await fetch(`${receiver.url}/hook`, { method: 'POST', body: good });
    expect(receiver.received).toHaveLength(1);
    await fetch(`${receiver.url}/hook`, { method: 'POST', body: unversioned });
    expect(() => receiver.received).toThrow(/do not match webhookEventSchema/);
    await expect(receiver.waitForRequests(2)).rejects.toThrow(/do not match webhookEventSchema/);
    await expect(receiver.close()).rejects.toThrow(/POST \/hook: .*version/s);
  });
});
