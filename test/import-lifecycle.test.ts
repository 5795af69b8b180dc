import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKeys } from '../src/api-keys/api-keys.ts';
import { connectEvents } from './helpers/event-client.ts';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

let service: TestService;
let receiver: WebhookReceiver;

beforeAll(async () => {
  service = await startTestService({ WEBHOOK_ALLOW_PRIVATE: 'true' });
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await service?.stop();
  await receiver?.close();
});

function csvOf(rows: number, prefix: string, price = '1.00'): string {
  let csv = 'sku,name,price\n';
  for (let i = 0; i < rows; i++) csv += `${prefix}-${i},Item ${i},${price}\n`;
  return csv;
}

const json = (body: unknown) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('Idempotency-Key', () => {
  it('turns 10 concurrent identical uploads into one import', async () => {
    const { tenant, key } = await service.createTenant('idem');
    const csv = csvOf(50, 'I');
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => service.uploadCsv(key, csv, { 'idempotency-key': 'order-2024-05-01' })),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    const ids = new Set(await Promise.all(responses.map(async (r) => (await readJson(r)).id)));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as string[];
    const { rows } = await service.pool.query(
      'select count(*)::int as n from imports i join tenants t on t.id = i.tenant_id where t.name = $1',
      [tenant],
    );
    expect(rows[0].n).toBe(1);
    expect((await service.waitForImport(key, id!)).rows_inserted).toBe(50);
    expect(await service.uploadedFiles()).toEqual([]);

    const later = await service.uploadCsv(key, csv, { 'idempotency-key': 'order-2024-05-01' });
    expect(later.status).toBe(200);
    expect((await readJson(later)).status).toBe('succeeded');
  });

  it('refuses the same key with different content (409) and keeps keys per tenant', async () => {
    const { key } = await service.createTenant('idem-conflict');
    const first = await service.uploadCsv(key, csvOf(3, 'K'), { 'idempotency-key': 'k-1' });
    expect(first.status).toBe(202);
    const firstBody = await readJson(first);
    const clash = await service.uploadCsv(key, csvOf(4, 'K'), { 'idempotency-key': 'k-1' });
    expect(clash.status).toBe(409);
    expect((await readJson(clash)).error.message).toBe(
      `Idempotency-Key "k-1" was already used in the last 24 hours for a different file (sha256 ${firstBody.sha256}); use a new key for new content`,
    );
    const other = await service.createTenant('idem-other');
    expect((await service.uploadCsv(other.key, csvOf(4, 'K'), { 'idempotency-key': 'k-1' })).status).toBe(202);
    await service.waitForImport(key, firstBody.id);
    const { rows } = await service.pool.query("select count(*)::int as n from imports where sha256 = $1", [firstBody.sha256]);
    expect(rows[0].n).toBe(1);
  });

  it('refuses a malformed key', async () => {
    const { key } = await service.createTenant('idem-bad');
    const response = await service.uploadCsv(key, csvOf(1, 'B'), { 'idempotency-key': 'has space' });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error.message).toContain('Idempotency-Key must be 1–255 visible ASCII characters');
  });
});

describe('POST /v1/imports/:id/cancel', () => {
  it('stops a running import within one batch, keeps and reports what was committed, and tells everyone', async () => {
    const { tenant, key } = await service.createTenant('cancel');
    const hook = await service.request('/v1/webhooks', {
      method: 'POST',
      key,
      ...json({ url: `${receiver.url}/cancelled`, events: ['import.cancelled'] }),
    });
    expect(hook.status).toBe(201);
    const queued = (await readJson(await service.uploadCsv(key, csvOf(100_000, 'C')))) as ImportBody;
    const watcher = connectEvents(service.url, `/v1/imports/${queued.id}/events`, { key });
    await watcher.waitFor((m) => m.type === 'progress' && m.seq >= 3);

    const response = await service.request(`/v1/imports/${queued.id}/cancel`, { method: 'POST', key });
    expect(response.status).toBe(200);
    const cancelled = (await readJson(response)) as ImportBody;
    expect(cancelled).toMatchObject({ status: 'cancelled', error: 'Cancelled on request' });
    expect(cancelled.rows_inserted).toBeGreaterThanOrEqual(3000);
    expect(cancelled.rows_inserted).toBeLessThan(100_000);

    const finished = await watcher.waitFor((m) => m.type === 'finished');
    expect(finished.import).toMatchObject({ status: 'cancelled', rows_inserted: cancelled.rows_inserted });
    expect((await watcher.closed).code).toBe(1000);

    // The job stops (its next batch is discarded) and removes the file; nothing more is written.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const { rows } = await service.pool.query("select count(*)::int as n from graphile_worker.jobs where task_identifier = 'import_products_csv'");
      if (rows[0].n === 0 && (await service.uploadedFiles()).length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await service.uploadedFiles()).toEqual([]);
    const final = (await readJson(await service.request(`/v1/imports/${queued.id}`, { key }))) as ImportBody;
    expect(final).toEqual(cancelled);
    const { rows } = await service.pool.query(
      'select count(*)::int as n from products p join tenants t on t.id = p.tenant_id where t.name = $1',
      [tenant],
    );
    expect(rows[0].n).toBe(cancelled.rows_inserted);

    await receiver.waitForRequests(1);
    const event = JSON.parse(receiver.received.find((r) => r.path === '/cancelled')!.body);
    expect(event).toMatchObject({ type: 'import.cancelled', data: { import: { id: queued.id, status: 'cancelled' } } });
  });

  it('answers 409 for a finished import and 404 for another tenant', async () => {
    const { key } = await service.createTenant('cancel-late');
    const queued = await readJson(await service.uploadCsv(key, csvOf(2, 'L')));
    await service.waitForImport(key, queued.id);
    const late = await service.request(`/v1/imports/${queued.id}/cancel`, { method: 'POST', key });
    expect(late.status).toBe(409);
    expect((await readJson(late)).error.message).toBe('The import has already succeeded; only queued or processing imports can be cancelled');
    const other = await service.createTenant('cancel-other');
    expect((await service.request(`/v1/imports/${queued.id}/cancel`, { method: 'POST', key: other.key })).status).toBe(404);
    expect((await readJson(await service.request(`/v1/imports/${queued.id}`, { key }))).status).toBe('succeeded');
  });
});

describe('GET /v1/audit', () => {
  it('records who did what, with request ids, newest first, only for the tenant, append-only', async () => {
    const { tenant, key } = await service.createTenant('audited');
    const upload = await service.uploadCsv(key, csvOf(1, 'A'));
    const imported = await readJson(upload);
    await service.waitForImport(key, imported.id);
    const created = await service.request('/v1/webhooks', { method: 'POST', key, ...json({ url: 'https://example.com/a' }) });
    const endpoint = await readJson(created);
    await service.request(`/v1/webhooks/${endpoint.id}`, { method: 'PATCH', key, ...json({ rotate_secret: true }) });
    await service.request(`/v1/webhooks/${endpoint.id}`, { method: 'DELETE', key });
    const cliKey = await createApiKey(service.pool, { tenant });
    await revokeApiKeys(service.pool, cliKey.prefix);

    const log = await readJson(await service.request('/v1/audit', { key }));
    expect(log.items.map((e: { action: string }) => e.action)).toEqual([
      'api_key.revoked',
      'api_key.created',
      'webhook.deleted',
      'webhook.changed',
      'webhook.created',
      'import.created',
      'api_key.created',
    ]);
    const importEntry = log.items.find((e: { action: string }) => e.action === 'import.created');
    expect(importEntry).toMatchObject({
      target_type: 'import',
      target_id: imported.id,
      via: 'api',
      request_id: upload.headers.get('x-request-id'),
      details: { bytes: imported.bytes, sha256: imported.sha256 },
    });
    expect(log.items[0]).toMatchObject({ via: 'cli', api_key_id: null, target_id: cliKey.id });
    expect(log.items.find((e: { action: string }) => e.action === 'webhook.changed').details).toMatchObject({ secretRotated: true });

    const other = await service.createTenant('not-audited');
    const theirs = await readJson(await service.request('/v1/audit', { key: other.key }));
    expect(theirs.items.map((e: { action: string }) => e.action)).toEqual(['api_key.created']);

    await expect(service.pool.query('update audit_log set action = $1', ['tampered'])).rejects.toThrow('audit_log is append-only');
    await expect(service.pool.query('delete from audit_log')).rejects.toThrow('audit_log is append-only');
  });
});
