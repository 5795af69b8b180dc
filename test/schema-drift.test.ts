import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareColumns } from '../src/alerts/compare-columns.ts';
import { connectEvents } from './helpers/event-client.ts';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

// Schema drift: an upload's source=NAME, compared with that source's previous successful import
// when it ends; the warning, `schema_drift` on the import, the alert (one open per signature), the
// source.schema_drift webhook and the live `alert` message. Through HTTP against the real service.

let service: TestService;
let receiver: WebhookReceiver;

beforeAll(async () => {
  service = await startTestService({ WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '0.05', WEBHOOK_TIMEOUT_MS: '1000' });
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  await service?.stop();
  await receiver?.close();
});

type Drift = { compared: string; baseline_import_id: string; added: string[]; removed: string[]; renamed: { from: string; to: string }[]; alert_id: string };
type Imported = ImportBody & { source: string | null; schema_drift: Drift | null };

async function importCsv(key: string, csv: string, query = ''): Promise<Imported> {
  const response = await service.request(`/v1/imports${query}`, { method: 'POST', key, body: csv, headers: { 'content-type': 'text/csv' } });
  expect(response.status, await response.clone().text()).toBe(202);
  return (await service.waitForImport(key, (await readJson(response)).id)) as Imported;
}

const get = async (key: string, path: string) => readJson(await service.request(path, { key }));
const post = async (key: string, path: string, body?: unknown) =>
  service.request(path, {
    method: 'POST',
    key,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });

/** Polls the endpoint's delivery log until `count` deliveries are there and none is pending. */
async function finishedDeliveries(key: string, endpointId: string, count: number): Promise<{ event_id: string; status: string }[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { items } = await get(key, `/v1/webhooks/${endpointId}/deliveries`);
    if (items.length >= count && items.every((d: { status: string }) => d.status !== 'pending')) return items;
    if (Date.now() > deadline) throw new Error(`deliveries: ${JSON.stringify(items)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const driftWarnings = (imp: ImportBody) => imp.warnings.filter((w) => /olumns changed since/.test(w));

describe('a source whose columns change', () => {
  it('warns on the import, raises one alert, sends source.schema_drift and a live alert; the new columns become the baseline', async () => {
    const { key } = await service.createTenant('drift');
    const endpoint = await readJson(await post(key, '/v1/webhooks', { url: `${receiver.url}/drift`, events: ['source.schema_drift'] }));
    const client = connectEvents(service.url, '/v1/events', { key });
    await client.opened;

    const before = 'sku,name,price,Qty\nD-1,One,1.00,5\n';
    const first = await importCsv(key, before, '?source=acme');
    const second = await importCsv(key, before, '?source=%20acme%20'); // trimmed: the same source
    for (const imp of [first, second]) {
      expect(imp).toMatchObject({ status: 'succeeded', source: 'acme', schema_drift: null, warnings: [] });
    }
    expect((await get(key, '/v1/alerts')).items).toEqual([]);

    const after = 'sku,name,price_eur,Quantity,colour\nD-1,One,1.00,5,red\n';
    const third = await importCsv(key, after, '?source=acme');
    const warning =
      `Columns changed since the last successful import of source "acme" (${second.id}): ` +
      'renamed "price" → "price_eur", "Qty" → "Quantity"; added "colour"';
    expect(third).toMatchObject({ status: 'succeeded', rows_unchanged: 1 });
    expect(driftWarnings(third)).toEqual([warning]);
    const alerts = await get(key, '/v1/alerts?status=open');
    expect(alerts.items).toHaveLength(1);
    const alert = alerts.items[0];
    expect(third.schema_drift).toEqual({
      compared: 'header',
      baseline_import_id: second.id,
      added: ['colour'],
      removed: [],
      renamed: [{ from: 'price', to: 'price_eur' }, { from: 'Qty', to: 'Quantity' }],
      alert_id: alert.id,
    });
    expect(alert).toEqual({
      id: expect.any(String),
      kind: 'schema_drift',
      status: 'open',
      title: 'Schema drift in source "acme"',
      message: warning,
      occurrences: 1,
      first_seen_at: third.finished_at,
      last_seen_at: third.finished_at,
      acknowledged_at: null,
      acknowledged_by: null,
      details: {
        source: 'acme',
        compared: 'header',
        baseline_import_id: second.id,
        added: ['colour'],
        removed: [],
        renamed: [{ from: 'price', to: 'price_eur' }, { from: 'Qty', to: 'Quantity' }],
        first_import_id: third.id,
        latest_import_id: third.id,
      },
    });
    expect(await get(key, `/v1/alerts/${alert.id}`)).toEqual(alert);

    // The webhook, typed (the receiver checks every body against WebhookEvent) and signed.
    await receiver.waitForRequests(1);
    const sent = receiver.received.filter((r) => r.path === '/drift');
    expect(sent).toHaveLength(1);
    const body = new Webhook(endpoint.secret).verify(sent[0]!.body, sent[0]!.headers as Record<string, string>);
    expect(body).toEqual({
      id: `evt_alert_${alert.id}`,
      type: 'source.schema_drift',
      version: 1,
      created_at: third.finished_at,
      data: { alert, import: { ...third, errors_url: `${service.url}/v1/imports/${third.id}/errors` } },
    });

    // The live message on the tenant stream (checked against the published LiveEventMessage).
    const live = await client.waitForAlert((m) => m.alert.id === alert.id);
    expect(live).toEqual({ type: 'alert', seq: 1, alert });

    // The drifted import succeeded: it is the baseline now, so the same columns again are no drift.
    const fourth = await importCsv(key, after, '?source=acme');
    expect(fourth).toMatchObject({ status: 'succeeded', schema_drift: null });
    expect(driftWarnings(fourth)).toEqual([]);
    expect((await get(key, '/v1/alerts')).items).toEqual([{ ...alert }]);
    client.socket.close();
  });

  it('repeats the open alert for the same drift, and opens a new one once it is acknowledged (audited)', async () => {
    const { key } = await service.createTenant('repeat');
    const endpoint = await readJson(await post(key, '/v1/webhooks', { url: `${receiver.url}/repeat`, events: ['source.schema_drift'] }));
    const client = connectEvents(service.url, '/v1/events', { key });
    await client.opened;
    const baseline = await importCsv(key, 'sku,name,EAN\nR-1,One,400\n', '?source=feed');

    // The supplier renamed its sku column: the import fails, and that is drift worth an alert.
    const renamed = 'Artikel,name,EAN,Farbe\nR-1,One,400,rot\n';
    const failed = await importCsv(key, renamed, '?source=feed');
    const warning = `Columns changed since the last successful import of source "feed" (${baseline.id}): added "Artikel", "Farbe"; removed "sku"`;
    expect(failed).toMatchObject({ status: 'failed', warnings: [warning] });
    expect(failed.error).toMatch(/^Missing required column "sku"/);
    const [opened] = (await get(key, '/v1/alerts')).items;
    expect(opened).toMatchObject({ status: 'open', occurrences: 1, details: { first_import_id: failed.id, latest_import_id: failed.id } });
    expect(failed.schema_drift).toMatchObject({ alert_id: opened.id, added: ['Artikel', 'Farbe'], removed: ['sku'], renamed: [] });

    // A failed import is no baseline: the same file again is the same drift, counted on the open alert.
    const again = await importCsv(key, renamed, '?source=feed');
    expect(driftWarnings(again)).toEqual([warning]);
    const open = await get(key, '/v1/alerts?status=open');
    expect(open.items).toHaveLength(1);
    expect(open.items[0]).toMatchObject({
      id: opened.id,
      occurrences: 2,
      first_seen_at: opened.first_seen_at,
      last_seen_at: again.finished_at,
      details: { first_import_id: failed.id, latest_import_id: again.id },
    });
    expect(again.schema_drift?.alert_id).toBe(opened.id);
    expect((await client.waitForAlert((m) => m.alert.id === opened.id && m.seq === 2)).alert).toMatchObject({ occurrences: 2 });
    // One webhook per alert raised, none for a repeat.
    const deliveries = await get(key, `/v1/webhooks/${endpoint.id}/deliveries`);
    expect(deliveries.items.map((d: { event_id: string }) => d.event_id)).toEqual([`evt_alert_${opened.id}`]);

    const acknowledged = await post(key, `/v1/alerts/${opened.id}/acknowledge`);
    expect(acknowledged.status).toBe(200);
    const ack = await readJson(acknowledged);
    expect(ack).toMatchObject({ id: opened.id, status: 'acknowledged', occurrences: 2, acknowledged_at: expect.any(String) });
    const audit = await get(key, '/v1/audit?action=alert.acknowledged');
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ target_type: 'alert', target_id: opened.id, via: 'api', api_key_id: ack.acknowledged_by });
    expect(ack.acknowledged_by).toMatch(/^\d+$/);
    expect((await client.waitForAlert((m) => m.alert.id === opened.id && m.seq === 3)).alert).toEqual(ack);
    // Acknowledging again answers the alert as it is, and records nothing new.
    const twice = await post(key, `/v1/alerts/${opened.id}/acknowledge`);
    expect(twice.status).toBe(200);
    expect(await readJson(twice)).toEqual(ack);
    expect((await get(key, '/v1/audit?action=alert.acknowledged')).items).toHaveLength(1);

    // The same drift after the acknowledgement is news again: a new alert, and a new webhook.
    const later = await importCsv(key, renamed, '?source=feed');
    const reopened = await get(key, '/v1/alerts?status=open');
    expect(reopened.items).toHaveLength(1);
    expect(reopened.items[0].id).not.toBe(opened.id);
    expect(reopened.items[0]).toMatchObject({ occurrences: 1, details: { first_import_id: later.id } });
    expect((await get(key, '/v1/alerts?status=acknowledged')).items.map((a: { id: string }) => a.id)).toEqual([opened.id]);
    expect((await get(key, '/v1/alerts?status=all')).items.map((a: { id: string }) => a.id)).toEqual([reopened.items[0].id, opened.id]);
    await finishedDeliveries(key, endpoint.id, 2);
    expect(receiver.received.filter((r) => r.path === '/repeat').map((r) => r.headers['webhook-id'])).toEqual([
      `evt_alert_${opened.id}`,
      `evt_alert_${reopened.items[0].id}`,
    ]);
    client.socket.close();
  });

  it('keeps sources and tenants apart; dry runs are checked but are never the baseline', async () => {
    const { key } = await service.createTenant('sources');
    const other = await service.createTenant('sources-other');
    const h1 = 'sku,name,Notes\nS-1,One,x\n';
    const h2 = 'sku,name\nS-1,One\n';
    const one = await importCsv(key, h1, '?source=one');
    expect(await importCsv(key, h2, '?source=two')).toMatchObject({ schema_drift: null }); // another source: no baseline
    expect(await importCsv(key, h2)).toMatchObject({ source: null, schema_drift: null, warnings: [] }); // no source: not checked

    const dryRun = await importCsv(key, h2, '?source=one&dry_run=true');
    expect(driftWarnings(dryRun)).toEqual([
      `Columns changed since the last successful import of source "one" (${one.id}): removed "Notes"`,
    ]);
    // The dry run changed no product, so the baseline is still `one`: its columns again are no drift.
    expect(driftWarnings(await importCsv(key, h1, '?source=one'))).toEqual([]);
    expect((await importCsv(key, h2, '?source=one')).schema_drift).toMatchObject({ removed: ['Notes'] });

    const alerts = (await get(key, '/v1/alerts')).items;
    expect(alerts).toHaveLength(1); // the dry run's and the import's drift are one signature
    expect(alerts[0]).toMatchObject({ occurrences: 2, details: { source: 'one', removed: ['Notes'] } });
    expect((await get(key, '/v1/alerts?source=one')).items).toHaveLength(1);
    expect((await get(key, '/v1/alerts?source=two')).items).toEqual([]);

    // Another tenant: its own baselines, and never another tenant's alerts.
    expect(await importCsv(other.key, h2, '?source=one')).toMatchObject({ schema_drift: null, warnings: [] });
    expect((await get(other.key, '/v1/alerts')).items).toEqual([]);
    for (const [method, path] of [['GET', `/v1/alerts/${alerts[0].id}`], ['POST', `/v1/alerts/${alerts[0].id}/acknowledge`]] as const) {
      const response = await service.request(path, { method, key: other.key });
      expect(response.status).toBe(404);
      expect((await readJson(response)).error).toMatchObject({ code: 'not_found', message: `No alert with id "${alerts[0].id}"` });
    }
    expect(await get(key, `/v1/alerts/${alerts[0].id}`)).toMatchObject({ status: 'open' });
  });

  it('with a mapping, compares only the columns that fill a field', async () => {
    const { key } = await service.createTenant('mapped');
    const mapping = encodeURIComponent(JSON.stringify({ Art: 'sku', Bez: 'name' }));
    const first = await importCsv(key, 'Art,Bez,Notiz,Lieferant\nM-1,One,x,y\n', `?source=mapped&mapping=${mapping}`);
    expect(first.status).toBe('succeeded');
    // Columns that fill no field come and go freely.
    const second = await importCsv(key, 'Art,Bez,Farbe\nM-1,One,rot\n', `?source=mapped&mapping=${mapping}`);
    expect(second).toMatchObject({ status: 'succeeded', schema_drift: null });
    expect(driftWarnings(second)).toEqual([]);
    // A column that fills a field (Qty is an alias of quantity) is a change of the mapped columns.
    const third = await importCsv(key, 'Art,Bez,Qty\nM-1,One,4\n', `?source=mapped&mapping=${mapping}`);
    expect(driftWarnings(third)).toEqual([
      `Mapped columns changed since the last successful import of source "mapped" (${second.id}): added "Qty"`,
    ]);
    expect(third.schema_drift).toMatchObject({ compared: 'mapped_columns', added: ['Qty'], removed: [], renamed: [] });
    // The mapping names "Art", the file has "Art.-Nr.": the import fails, and its columns are read
    // with the same rules (Art.-Nr. is an alias of sku), so the drift shows the rename.
    const fourth = await importCsv(key, 'Art.-Nr.,Bez\nM-1,One\n', `?source=mapped&mapping=${mapping}`);
    expect(fourth.status).toBe('failed');
    expect(fourth.schema_drift).toMatchObject({
      compared: 'mapped_columns', baseline_import_id: third.id, added: [], removed: ['Qty'], renamed: [{ from: 'Art', to: 'Art.-Nr.' }],
    });

    // A template may carry the source; without a mapping of its own the whole header is compared.
    expect((await post(key, '/v1/templates', { name: 'Plain', options: { source: ' from-template ' } })).status).toBe(201);
    const templated = await importCsv(key, 'sku,name,Notes\nM-2,Two,x\n', '?template=Plain');
    expect(templated.source).toBe('from-template');
    const dropped = await importCsv(key, 'sku,name\nM-2,Two\n', '?template=Plain');
    expect(dropped.schema_drift).toMatchObject({ compared: 'header', removed: ['Notes'] });
  });
});

describe('the rename rules', () => {
  const col = (name: string, field: string | null = null) => ({ name, field }) as Parameters<typeof compareColumns>[0][number];

  it('pairs by field, by the same words, by contained words and by a small edit, never across fields', () => {
    expect(compareColumns([col('sku', 'sku'), col('Qty', 'quantity')], [col('SKU ', 'sku'), col('Quantity', 'quantity')])).toEqual({
      added: [], removed: [], renamed: [{ from: 'Qty', to: 'Quantity' }],
    });
    expect(compareColumns([col('Unit Price', 'price'), col('EAN')], [col('Unit Price', 'price'), col('ean')])).toBeNull();
    expect(compareColumns([col('Art.-Nr.')], [col('art nr')])).toEqual({ added: [], removed: [], renamed: [{ from: 'Art.-Nr.', to: 'art nr' }] });
    expect(compareColumns([col('Notes')], [col('Internal notes')])?.renamed).toEqual([{ from: 'Notes', to: 'Internal notes' }]);
    expect(compareColumns([col('Colour')], [col('Color')])?.renamed).toEqual([{ from: 'Colour', to: 'Color' }]);
    // Unrelated names, and similar names that fill different fields, are added and removed.
    expect(compareColumns([col('EAN')], [col('UPC')])).toEqual({ added: ['UPC'], removed: ['EAN'], renamed: [] });
    expect(compareColumns([col('price', 'price')], [col('Price Currency', 'currency')])).toEqual({
      added: ['Price Currency'], removed: ['price'], renamed: [],
    });
    // The strongest pair wins: "Stock" (quantity) pairs with "Stock Level" (quantity), not with "Stock Note".
    expect(compareColumns([col('Stock', 'quantity')], [col('Stock Note'), col('Stock Level', 'quantity')])).toEqual({
      added: ['Stock Note'], removed: [], renamed: [{ from: 'Stock', to: 'Stock Level' }],
    });
  });
});

describe('bad input', () => {
  const RULE = 'must be 1–100 characters without control characters (a supplier or feed name)';

  it('refuses a bad source on upload (query or form field), in a template and in the list filter, with 400', async () => {
    const { key } = await service.createTenant('bad-source');
    const cases: [string, RequestInit, string][] = [
      [`/v1/imports?source=${'x'.repeat(101)}`, { method: 'POST', body: 'sku,name\nA,b\n', headers: { 'content-type': 'text/csv' } }, `source ${RULE}`],
      ['/v1/imports?source=%20%20', { method: 'POST', body: 'sku,name\nA,b\n', headers: { 'content-type': 'text/csv' } }, `source ${RULE}`],
      ['/v1/imports?source=a%07b', { method: 'POST', body: 'sku,name\nA,b\n', headers: { 'content-type': 'text/csv' } }, `source ${RULE}`],
      [`/v1/imports?source=${'y'.repeat(101)}`, { method: 'GET' }, `source ${RULE}`],
      ['/v1/imports?status=done', { method: 'GET' }, 'status must be one of queued, processing, succeeded, failed, cancelled'],
      ['/v1/templates', { method: 'POST', body: JSON.stringify({ name: 'T', options: { source: '' } }), headers: { 'content-type': 'application/json' } }, `options.source ${RULE}`],
    ];
    const form = new FormData();
    form.append('source', 'z'.repeat(101));
    form.append('file', new Blob(['sku,name\nA,b\n']), 'p.csv');
    cases.push(['/v1/imports', { method: 'POST', body: form }, `form field source ${RULE}`]);
    for (const [path, init, message] of cases) {
      const response = await service.request(path, { ...init, key });
      expect(response.status, path).toBe(400);
      expect((await readJson(response)).error, path).toMatchObject({ code: 'validation_failed', message });
    }
    expect((await get(key, '/v1/imports')).items).toEqual([]);
    expect(await service.uploadedFiles()).toEqual([]);
  });

  it('lets endpoints subscribe to source.schema_drift by name only, and refuses unknown events', async () => {
    const { key } = await service.createTenant('subscribe');
    const byDefault = await readJson(await post(key, '/v1/webhooks', { url: `${receiver.url}/default` }));
    expect(byDefault.events).toEqual(['import.succeeded', 'import.failed', 'import.cancelled']);
    const bad = await post(key, '/v1/webhooks', { url: `${receiver.url}/x`, events: ['source.drift'] });
    expect(bad.status).toBe(400);
    expect((await readJson(bad)).error).toMatchObject({
      code: 'validation_failed',
      message: 'events events must be among import.succeeded, import.failed, import.cancelled, source.schema_drift',
    });
  });
});

describe('GET /v1/imports filters', () => {
  it('lists the imports of one source and of one status, newest first, page by page', async () => {
    const { key } = await service.createTenant('filters');
    const a1 = await importCsv(key, 'sku,name\nF-1,One\n', '?source=a');
    const b1 = await importCsv(key, 'sku,name\nF-2,Two\n', '?source=b');
    const a2 = await importCsv(key, 'sku,label\nF-3,x\n', '?source=a'); // fails: no name column
    const form = new FormData(); // the option as a form field before the file
    form.append('source', 'a');
    form.append('file', new Blob(['sku,name\nF-4,Four\n']), 'a3.csv');
    const sent = await service.request('/v1/imports', { method: 'POST', key, body: form });
    expect(sent.status).toBe(202);
    const a3 = await service.waitForImport(key, (await readJson(sent)).id);
    expect(a2.status).toBe('failed');
    expect(a3).toMatchObject({ status: 'succeeded', source: 'a' });

    const ids = (page: { items: { id: string }[] }) => page.items.map((item) => item.id);
    expect(ids(await get(key, '/v1/imports?source=a'))).toEqual([a3.id, a2.id, a1.id]);
    expect(ids(await get(key, '/v1/imports?source=b'))).toEqual([b1.id]);
    expect(ids(await get(key, '/v1/imports?status=failed'))).toEqual([a2.id]);
    expect(ids(await get(key, '/v1/imports?source=a&status=succeeded'))).toEqual([a3.id, a1.id]);
    const first = await get(key, '/v1/imports?source=a&limit=2');
    expect(ids(first)).toEqual([a3.id, a2.id]);
    const rest = await get(key, `/v1/imports?source=a&limit=2&cursor=${first.next_cursor}`);
    expect(ids(rest)).toEqual([a1.id]);
    expect(rest.next_cursor).toBeNull();
  });
});
