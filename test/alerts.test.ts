import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEvents } from './helpers/event-client.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';
import { startWebhookReceiver } from './helpers/webhook-receiver.ts';

// GET /v1/alerts and acknowledge; the webhook_endpoint_disabled alert, raised in the transaction
// of the delivery attempt that disables an endpoint. (Schema drift alerts: schema-drift.test.ts.)

let service: TestService;

beforeAll(async () => {
  service = await startTestService({
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_RETRY_SCHEDULE: '0.05',
    WEBHOOK_DISABLE_AFTER_FAILURES: '1',
    WEBHOOK_TIMEOUT_MS: '1000',
  });
});
afterAll(() => service?.stop());

const get = async (key: string, path: string) => readJson(await service.request(path, { key }));
const send = (key: string, method: string, path: string, body?: unknown) =>
  service.request(path, {
    method,
    key,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });

async function importCsv(key: string, csv: string, query = ''): Promise<{ id: string; status: string }> {
  const response = await service.request(`/v1/imports${query}`, { method: 'POST', key, body: csv, headers: { 'content-type': 'text/csv' } });
  expect(response.status).toBe(202);
  return service.waitForImport(key, (await readJson(response)).id);
}

/** Polls until the endpoint is disabled, or fails at the deadline. */
async function disabledEndpoint(key: string, id: string): Promise<{ disabled_reason: string }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const endpoint = await get(key, `/v1/webhooks/${id}`);
    if (!endpoint.enabled) return endpoint;
    if (Date.now() > deadline) throw new Error(`endpoint still enabled: ${JSON.stringify(endpoint)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('an endpoint disabled after failing', () => {
  it('raises a webhook_endpoint_disabled alert, live on the tenant stream; disabled again while open, it counts an occurrence', async () => {
    const { key } = await service.createTenant('disabled');
    const receiver = await startWebhookReceiver();
    receiver.reply([], 500);
    const client = connectEvents(service.url, '/v1/events', { key });
    await client.opened;
    const url = `${receiver.url}/always-failing`;
    const endpoint = await readJson(await send(key, 'POST', '/v1/webhooks', { url }));
    expect((await get(key, '/v1/alerts')).items).toEqual([]);

    await importCsv(key, 'sku,name\nE-1,One\n');
    const disabled = await disabledEndpoint(key, endpoint.id);
    expect(disabled.disabled_reason).toBe('Disabled after 1 consecutive failed deliveries; last error: HTTP 500');
    const { items } = await get(key, '/v1/alerts?status=open&kind=webhook_endpoint_disabled');
    expect(items).toEqual([
      {
        id: expect.any(String),
        kind: 'webhook_endpoint_disabled',
        status: 'open',
        title: `Webhook endpoint disabled: ${url}`,
        message: `${disabled.disabled_reason}. Deliveries to it stop until it is enabled again (PATCH /v1/webhooks/${endpoint.id} {"enabled": true}).`,
        occurrences: 1,
        first_seen_at: expect.any(String),
        last_seen_at: expect.any(String),
        acknowledged_at: null,
        acknowledged_by: null,
        details: { endpoint_id: endpoint.id, url, reason: disabled.disabled_reason, last_error: 'HTTP 500' },
      },
    ]);
    const [alert] = items;
    expect(alert.first_seen_at).toBe(alert.last_seen_at);
    expect(await client.waitForAlert((m) => m.alert.id === alert.id)).toEqual({ type: 'alert', seq: 1, alert });

    // Enabled again and failing again before anyone acknowledged: the same alert, one more occurrence.
    expect((await send(key, 'PATCH', `/v1/webhooks/${endpoint.id}`, { enabled: true })).status).toBe(200);
    await importCsv(key, 'sku,name\nE-2,Two\n');
    await disabledEndpoint(key, endpoint.id);
    const repeated = await client.waitForAlert((m) => m.alert.id === alert.id && m.seq === 2);
    expect(repeated.alert).toMatchObject({ id: alert.id, status: 'open', occurrences: 2, first_seen_at: alert.first_seen_at });
    expect((await get(key, '/v1/alerts')).items).toEqual([repeated.alert]);
    // Only the endpoint's own deliveries were tried: the alert sends no webhook of its own.
    expect(receiver.received.every((r) => JSON.parse(r.body).type === 'import.succeeded')).toBe(true);

    const acknowledged = await send(key, 'POST', `/v1/alerts/${alert.id}/acknowledge`);
    expect(acknowledged.status).toBe(200);
    expect(await readJson(acknowledged)).toMatchObject({ status: 'acknowledged', occurrences: 2 });
    client.socket.close();
    await receiver.close();
  });

  it('raises it for an endpoint that answers 410 Gone', async () => {
    const { key } = await service.createTenant('gone');
    const receiver = await startWebhookReceiver();
    receiver.reply([410]);
    const endpoint = await readJson(await send(key, 'POST', '/v1/webhooks', { url: `${receiver.url}/gone` }));
    await importCsv(key, 'sku,name\nG-1,One\n');
    const disabled = await disabledEndpoint(key, endpoint.id);
    const { items } = await get(key, '/v1/alerts');
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      kind: 'webhook_endpoint_disabled',
      details: { endpoint_id: endpoint.id, reason: disabled.disabled_reason, last_error: 'HTTP 410 Gone' },
    });
    await receiver.close();
  });
});

describe('GET /v1/alerts', () => {
  it('pages newest first and filters by status, kind and source', async () => {
    const { key } = await service.createTenant('list');
    // Three schema_drift alerts, one per source, in order.
    for (const source of ['s1', 's2', 's3']) {
      await importCsv(key, 'sku,name,Notes\nL-1,One,x\n', `?source=${source}`);
      await importCsv(key, 'sku,name\nL-1,One\n', `?source=${source}`);
    }
    const all = await get(key, '/v1/alerts');
    expect(all.items.map((a: { details: { source: string } }) => a.details.source)).toEqual(['s3', 's2', 's1']);
    expect(all.next_cursor).toBeNull();

    const first = await get(key, '/v1/alerts?limit=2');
    expect(first.items.map((a: { id: string }) => a.id)).toEqual(all.items.slice(0, 2).map((a: { id: string }) => a.id));
    const second = await get(key, `/v1/alerts?limit=2&cursor=${first.next_cursor}`);
    expect(second.items.map((a: { id: string }) => a.id)).toEqual([all.items[2].id]);
    expect(second.next_cursor).toBeNull();

    expect((await send(key, 'POST', `/v1/alerts/${all.items[1].id}/acknowledge`)).status).toBe(200);
    const ids = async (query: string) => (await get(key, `/v1/alerts${query}`)).items.map((a: { id: string }) => a.id);
    expect(await ids('?status=open')).toEqual([all.items[0].id, all.items[2].id]);
    expect(await ids('?status=acknowledged')).toEqual([all.items[1].id]);
    expect(await ids('?kind=schema_drift&source=s2')).toEqual([all.items[1].id]);
    expect(await ids('?kind=webhook_endpoint_disabled')).toEqual([]);
  });

  it('refuses bad filters and cursors with 400, and answers 404 for an alert that is not there', async () => {
    const { key } = await service.createTenant('bad');
    for (const [path, code, message] of [
      ['/v1/alerts?status=closed', 'validation_failed', 'status must be one of open, acknowledged, all'],
      ['/v1/alerts?kind=fire', 'validation_failed', 'kind must be one of schema_drift, webhook_endpoint_disabled'],
      ['/v1/alerts?cursor=nope', 'bad_request', 'The cursor is not valid: pass next_cursor from a previous page unchanged'],
    ] as const) {
      const response = await service.request(path, { key });
      expect(response.status, path).toBe(400);
      expect((await readJson(response)).error, path).toMatchObject({ code, message });
    }
    for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
      for (const method of ['GET', 'POST']) {
        const response = await send(key, method, method === 'GET' ? `/v1/alerts/${id}` : `/v1/alerts/${id}/acknowledge`);
        expect(response.status).toBe(404);
        expect((await readJson(response)).error).toMatchObject({ code: 'not_found', message: `No alert with id "${id}"` });
      }
    }
  });

  it('is documented in /openapi.json: the routes, the Alert union and the LiveEventAlert message', async () => {
    const doc = await readJson(await service.request('/openapi.json'));
    expect(Object.keys(doc.paths).filter((path) => path.startsWith('/v1/alerts'))).toEqual([
      '/v1/alerts', '/v1/alerts/{id}', '/v1/alerts/{id}/acknowledge',
    ]);
    const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
    expect(doc.components.schemas.Alert.oneOf).toEqual([ref('SchemaDriftAlert'), ref('WebhookEndpointDisabledAlert')]);
    expect(doc.components.schemas.Alert.discriminator.propertyName).toBe('kind');
    expect(doc.components.schemas.LiveEventAlert.properties.alert).toEqual(ref('Alert'));
    expect(doc.components.schemas.Import.properties.schema_drift).toBeDefined();
    expect(doc.webhooks['source.schema_drift'].post.requestBody.content['application/json'].schema).toEqual(ref('SourceSchemaDriftEvent'));
  });
});
