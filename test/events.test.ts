import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { IMPORT_EVENTS_CHANNEL } from '../src/events/live-events.ts';
import { connectEvents, seqs, UpgradeRefused, type EventClient, type EventMessage } from './helpers/event-client.ts';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

let service: TestService;
let key: string;

beforeAll(async () => {
  service = await startTestService({ WS_HEARTBEAT_MS: '200' });
  ({ key } = await service.createTenant());
});
afterAll(() => service?.stop());

function productsCsv(rows: number, prefix = 'E'): string {
  let csv = 'sku,name,price\n';
  for (let i = 0; i < rows; i++) csv += `${prefix}-${i},Product ${i},${(i % 100) + 1}.50\n`;
  return csv;
}

/**
 * Holds a SHARE lock on products so every batch's upsert waits: the import is parked exactly
 * where it is (queued, or between two committed batches) until release().
 */
async function pauseImports(): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: service.connectionString });
  await client.connect();
  await client.query('begin');
  await client.query('lock table products in share mode');
  return {
    async release() {
      await client.query('commit');
      await client.end();
    },
  };
}

async function upload(csv: string, as = key): Promise<ImportBody> {
  const response = await service.uploadCsv(as, csv);
  expect(response.status).toBe(202);
  return readJson(response);
}

async function tableCount(prefix: string): Promise<number> {
  const { rows } = await service.pool.query('select count(*)::int as n from products where sku like $1', [`${prefix}-%`]);
  return rows[0].n;
}

function expectWellFormedStream(messages: EventMessage[]): void {
  expect(messages[0]!.type).toBe('snapshot');
  expect(messages.at(-1)!.type).toBe('finished');
  expect(messages.slice(1, -1).every((m) => m.type === 'progress')).toBe(true);
  const s = seqs(messages);
  for (let i = 1; i < s.length; i++) expect(s[i]).toBeGreaterThan(s[i - 1]!);
}

describe('GET /v1/imports/:id/events', () => {
  it('streams snapshot, one progress per batch and finished, then closes with 1000', async () => {
    const pause = await pauseImports();
    const queued = await upload(productsCsv(20_000, 'FULL'));
    const client = connectEvents(service.url, `/v1/imports/${queued.id}/events`, { key });
    await client.waitFor((m) => m.type === 'snapshot');
    await pause.release();
    const closed = await client.closed;

    expect(closed).toEqual({ code: 1000, reason: 'import finished' });
    expectWellFormedStream(client.messages);
    expect(client.messages[0]!.seq).toBe(0);
    const progress = client.messages.filter((m) => m.type === 'progress');
    expect(seqs(progress)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(progress.map((m) => m.import.rows_processed)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 1000));
    const finished = client.messages.at(-1)!;
    expect(finished.seq).toBe(21);
    expect(finished.import).toMatchObject({ status: 'succeeded', rows_processed: 20_000, rows_inserted: 20_000, batches_committed: 20 });
    expect(finished.import.rows_inserted).toBe(await tableCount('FULL'));
    // Same shape as GET /v1/imports/:id.
    const body = await readJson(await service.request(`/v1/imports/${queued.id}`, { key }));
    expect(finished.import).toEqual(body);
  });

  it('gives a late subscriber the snapshot and every later batch', async () => {
    const pause = await pauseImports();
    const queued = await upload(productsCsv(20_000, 'LATE'));
    const early = connectEvents(service.url, `/v1/imports/${queued.id}/events`, { key });
    await early.waitFor((m) => m.type === 'snapshot');
    await pause.release();
    await early.waitFor((m) => m.seq >= 3);
    const again = await pauseImports(); // parks the import between two batches
    const late = connectEvents(service.url, `/v1/imports/${queued.id}/events`, { key });
    const snapshot = await late.waitFor((m) => m.type === 'snapshot');
    await again.release();
    await Promise.all([early.closed, late.closed]);

    expect(snapshot.seq).toBeGreaterThanOrEqual(3);
    expect(snapshot.seq).toBeLessThan(20);
    expectWellFormedStream(late.messages);
    const lateProgress = late.messages.filter((m) => m.type === 'progress');
    expect(seqs(lateProgress)).toEqual(Array.from({ length: 20 - snapshot.seq }, (_, i) => snapshot.seq + i + 1));
    expect(late.messages.at(-1)!.import).toEqual(early.messages.at(-1)!.import);
    expect(late.messages.at(-1)!.import.rows_inserted).toBe(await tableCount('LATE'));
  });

  it('answers a finished import with snapshot, finished and close 1000', async () => {
    const queued = await upload(productsCsv(1500, 'DONE'));
    const done = await service.waitForImport(key, queued.id);
    const client = connectEvents(service.url, `/v1/imports/${queued.id}/events`, { key });
    expect(await client.closed).toEqual({ code: 1000, reason: 'import finished' });
    expect(client.messages.map((m) => [m.type, m.seq])).toEqual([
      ['snapshot', 2],
      ['finished', 3],
    ]);
    expect(client.messages[1]!.import).toEqual(done);
  });

  it('refuses the upgrade without a key (401) and for another tenant (404)', async () => {
    const queued = await upload(productsCsv(10, 'AUTH'));
    const anonymous = connectEvents(service.url, `/v1/imports/${queued.id}/events`);
    await expect(anonymous.opened).rejects.toEqual(new UpgradeRefused(401));
    const other = await service.createTenant('other');
    const foreign = connectEvents(service.url, `/v1/imports/${queued.id}/events`, { key: other.key });
    await expect(foreign.opened).rejects.toEqual(new UpgradeRefused(404));
  });

  it('answers a plain GET with 426 in the error shape', async () => {
    const queued = await upload(productsCsv(10, 'PLAIN'));
    const response = await service.request(`/v1/imports/${queued.id}/events`, { key });
    expect(response.status).toBe(426);
    expect((await readJson(response)).error).toMatchObject({ code: 'upgrade_required' });
  });
});

describe('tickets for browsers', () => {
  it('opens a stream with a single-use ticket and refuses its reuse', async () => {
    const queued = await upload(productsCsv(10, 'TICKET'));
    await service.waitForImport(key, queued.id);
    const issued = await service.request(`/v1/imports/${queued.id}/events/ticket`, { method: 'POST', key });
    expect(issued.status).toBe(201);
    const { ticket, expires_at } = await readJson(issued);
    expect(ticket).toMatch(/^ldt_/);
    expect(new Date(expires_at).getTime() - Date.now()).toBeGreaterThan(50_000);
    expect(new Date(expires_at).getTime() - Date.now()).toBeLessThanOrEqual(61_000);

    const first = connectEvents(service.url, `/v1/imports/${queued.id}/events?ticket=${ticket}`);
    expect((await first.closed).code).toBe(1000);
    expect(first.messages.map((m) => m.type)).toEqual(['snapshot', 'finished']);
    const reused = connectEvents(service.url, `/v1/imports/${queued.id}/events?ticket=${ticket}`);
    await expect(reused.opened).rejects.toEqual(new UpgradeRefused(401));
  });

  it("refuses an expired ticket and one issued for another import's stream", async () => {
    const a = await upload(productsCsv(10, 'TA'));
    const b = await upload(productsCsv(10, 'TB'));
    const forA = (await readJson(await service.request(`/v1/imports/${a.id}/events/ticket`, { method: 'POST', key }))).ticket;
    const onB = connectEvents(service.url, `/v1/imports/${b.id}/events?ticket=${forA}`);
    await expect(onB.opened).rejects.toEqual(new UpgradeRefused(401));

    const expired = (await readJson(await service.request(`/v1/imports/${a.id}/events/ticket`, { method: 'POST', key }))).ticket;
    await service.pool.query("update event_tickets set expires_at = now() - interval '1 second' where used_at is null");
    const late = connectEvents(service.url, `/v1/imports/${a.id}/events?ticket=${expired}`);
    await expect(late.opened).rejects.toEqual(new UpgradeRefused(401));
  });

  it('opens the tenant-wide stream with a tenant ticket, but not with an import ticket', async () => {
    const ticket = (await readJson(await service.request('/v1/events/ticket', { method: 'POST', key }))).ticket;
    const stream = connectEvents(service.url, `/v1/events?ticket=${ticket}`);
    await stream.opened;
    stream.socket.close();
    const queued = await upload(productsCsv(10, 'TT'));
    const importTicket = (await readJson(await service.request(`/v1/imports/${queued.id}/events/ticket`, { method: 'POST', key }))).ticket;
    await expect(connectEvents(service.url, `/v1/events?ticket=${importTicket}`).opened).rejects.toEqual(new UpgradeRefused(401));
  });

  it('does not accept a ticket on ordinary routes', async () => {
    const ticket = (await readJson(await service.request('/v1/events/ticket', { method: 'POST', key }))).ticket;
    const response = await service.request(`/v1/imports?ticket=${ticket}`);
    expect(response.status).toBe(401);
  });
});

describe('GET /v1/events (tenant-wide)', () => {
  it("carries every import of the tenant and nothing of other tenants'", async () => {
    const tenant = await service.createTenant('dashboard');
    const other = await service.createTenant('elsewhere');
    const stream = connectEvents(service.url, '/v1/events', { key: tenant.key });
    await stream.opened;
    const mine1 = await upload(productsCsv(2500, 'T1'), tenant.key);
    const mine2 = await upload(productsCsv(1200, 'T2'), tenant.key);
    const theirs = await upload(productsCsv(1000, 'T3'), other.key);
    await stream.waitFor((m) => m.type === 'finished' && m.import.id === mine1.id);
    await stream.waitFor((m) => m.type === 'finished' && m.import.id === mine2.id);
    await service.waitForImport(other.key, theirs.id);

    expect(stream.messages.some((m) => m.import.id === theirs.id)).toBe(false);
    const of1 = stream.messages.filter((m) => m.import.id === mine1.id);
    expect(of1.map((m) => [m.type, m.seq])).toEqual([['progress', 1], ['progress', 2], ['progress', 3], ['finished', 4]]);
    expect(of1.at(-1)!.import.rows_inserted).toBe(2500);
    stream.socket.close();
  });

  it('refuses the upgrade without a key', async () => {
    await expect(connectEvents(service.url, '/v1/events').opened).rejects.toEqual(new UpgradeRefused(401));
  });
});

describe('resilience', () => {
  it('keeps every subscriber right when the LISTEN connection is killed mid-import', async () => {
    const pause = await pauseImports();
    const queued = await upload(productsCsv(20_000, 'KILL'));
    const clients = Array.from({ length: 3 }, () => connectEvents(service.url, `/v1/imports/${queued.id}/events`, { key }));
    await Promise.all(clients.map((c) => c.waitFor((m) => m.type === 'snapshot')));
    const before = await listenerPids();
    expect(before).toHaveLength(1);
    await service.pool.query('select pg_terminate_backend($1)', [before[0]]);
    await pause.release(); // batches commit while the listener is away

    const finals = await Promise.all(clients.map(async (c) => {
      await c.closed;
      return c.messages.at(-1)!;
    }));
    const rows = await tableCount('KILL');
    for (const [index, final] of finals.entries()) {
      expect(final).toMatchObject({ type: 'finished', seq: 21 });
      expect(final.import).toMatchObject({ status: 'succeeded', rows_inserted: rows, batches_committed: 20 });
      expectWellFormedStream(clients[index]!.messages);
    }
    const after = await waitForListener(before[0]!);
    expect(after).not.toContain(before[0]);
  });

  it('serves 200 concurrent subscribers of one import to the end', async () => {
    const pause = await pauseImports();
    const queued = await upload(productsCsv(5000, 'MANY'));
    const clients: EventClient[] = Array.from({ length: 200 }, () =>
      connectEvents(service.url, `/v1/imports/${queued.id}/events`, { key }),
    );
    await Promise.all(clients.map((c) => c.waitFor((m) => m.type === 'snapshot')));
    await pause.release();
    const closes = await Promise.all(clients.map((c) => c.closed));
    expect(closes.every((c) => c.code === 1000)).toBe(true);
    for (const client of clients) {
      expect(client.messages.map((m) => m.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(client.messages.at(-1)!.import.rows_inserted).toBe(5000);
    }
  });

  it('drops a socket that stops answering pings', async () => {
    const queued = await upload(productsCsv(10, 'DEAD'));
    const pause = await pauseImports();
    const silent = connectEvents(service.url, '/v1/events', { key, autoPong: false });
    await silent.opened;
    const closed = await silent.closed;
    expect(closed.code).toBe(1006); // terminated by the server, no close frame
    await pause.release();
    await service.waitForImport(key, queued.id);
  });

  it('closes a subscriber that does not read with 1013 instead of buffering for it', async () => {
    const slow = await startTestService({ WS_MAX_BUFFERED_BYTES: '65536', BATCH_SIZE: '100' });
    try {
      const { key: k } = await slow.createTenant();
      // 300 unknown columns make every message ~25 KB (the warnings travel with the import).
      const extra = Array.from({ length: 300 }, (_, i) => `unknown_column_with_a_rather_long_name_${i}`);
      let csv = `sku,name,${extra.join(',')}\n`;
      for (let i = 0; i < 20_000; i++) csv += `S-${i},n${','.repeat(300)}\n`;
      const client = connectEvents(slow.url, '/v1/events', { key: k });
      await client.opened;
      client.socket.pause(); // stop reading: the server's send buffer fills
      const queued = await readJson(await slow.uploadCsv(k, csv));
      const done = await slow.waitForImport(k, queued.id);
      expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 20_000 });
      client.socket.resume();
      const closed = await client.closed;
      expect(closed).toEqual({ code: 1013, reason: 'send buffer full: subscriber too slow' });
      expect(client.messages.length).toBeLessThan(200);
    } finally {
      await slow.stop();
    }
  });
});

describe('contracts', () => {
  it('publishes the message schemas in /openapi.json, as the 101 response of both streams', async () => {
    const doc = await readJson(await service.request('/openapi.json'));
    const schemas = doc.components.schemas;
    const members = { snapshot: 'LiveEventSnapshot', progress: 'LiveEventProgress', finished: 'LiveEventFinished' };
    const all = { ...members, alert: 'LiveEventAlert' }; // alerts: tenant stream only (test/alerts.test.ts)
    const ref = (name: string) => `#/components/schemas/${name}`;
    expect(schemas.LiveEventMessage.oneOf).toEqual(Object.values(all).map((name) => ({ $ref: ref(name) })));
    expect(schemas.LiveEventMessage.discriminator).toEqual({
      propertyName: 'type',
      mapping: Object.fromEntries(Object.entries(all).map(([type, name]) => [type, ref(name)])),
    });
    for (const [type, name] of Object.entries(members)) {
      expect(schemas[name]).toMatchObject({
        type: 'object',
        required: ['type', 'seq', 'import'],
        properties: { type: { enum: [type] }, seq: { type: 'integer' }, import: { $ref: ref('Import') } },
      });
    }
    for (const path of ['/v1/imports/{id}/events', '/v1/events']) {
      const switching = doc.paths[path].get.responses['101'];
      expect(switching.content['application/json'].schema).toEqual({ $ref: ref('LiveEventMessage') });
      expect(doc.paths[path].get.description).toContain('LiveEventMessage');
    }
  });

  it('ignores a NOTIFY payload that is not JSON or not of a known shape, and keeps streaming', async () => {
    const pause = await pauseImports();
    const queued = await upload(productsCsv(3000, 'BAD'));
    const client = connectEvents(service.url, `/v1/imports/${queued.id}/events`, { key });
    await client.waitFor((m) => m.type === 'snapshot');
    const before = await listenerPids();
    const { rows } = await service.pool.query('select tenant_id from imports where id = $1', [queued.id]);
    const ids = { importId: queued.id, tenantId: rows[0].tenant_id };
    const counters = { rowsProcessed: 1, rowsInserted: 1, rowsUpdated: 0, rowsUnchanged: 0, rowsRejected: 0 };
    for (const payload of [
      'garbage',
      '',
      'null',
      JSON.stringify({ ...ids, type: 'progress', batchesCommitted: 7, ...counters, rowsInserted: 'many' }),
      JSON.stringify({ ...ids, type: 'progress', batchesCommitted: 7 }),
      JSON.stringify({ ...ids, type: 'progress', importId: 'not-a-uuid', batchesCommitted: 7, ...counters }),
      JSON.stringify({ ...ids, type: 'exploded', batchesCommitted: 7, ...counters }),
      JSON.stringify({ ...ids, type: 'finished', status: 'succeeded', batchesCommitted: -1 }),
    ]) {
      await service.pool.query('select pg_notify($1, $2)', [IMPORT_EVENTS_CHANNEL, payload]);
    }
    await pause.release();
    expect(await client.closed).toEqual({ code: 1000, reason: 'import finished' });

    // Had any been taken, seq 7 would have come, or the later batches been dropped as old.
    expect(client.messages.map((m) => [m.type, m.seq])).toEqual([
      ['snapshot', 0],
      ['progress', 1],
      ['progress', 2],
      ['progress', 3],
      ['finished', 4],
    ]);
    expect(await listenerPids()).toEqual(before); // the same LISTEN connection: nothing was lost
  });
});

async function listenerPids(): Promise<number[]> {
  const { rows } = await service.pool.query(
    "select pid from pg_stat_activity where application_name = 'lading-listener' and datname = current_database()",
  );
  return rows.map((row) => row.pid);
}

async function waitForListener(oldPid: number): Promise<number[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const pids = await listenerPids();
    if (pids.length === 1 && pids[0] !== oldPid) return pids;
    if (Date.now() > deadline) throw new Error(`listener not back: ${pids.join(',')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
