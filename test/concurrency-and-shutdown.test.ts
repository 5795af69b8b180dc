import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

describe('concurrent uploads', () => {
  let service: TestService;
  beforeAll(async () => {
    service = await startTestService({ WORKER_CONCURRENCY: '4', BATCH_SIZE: '200' });
  });
  afterAll(() => service?.stop());

  it('finishes 20 simultaneous uploads from 4 tenants with exact counts and no deadlock', async () => {
    const tenants = await Promise.all(Array.from({ length: 4 }, (_, i) => service.createTenant(`load-${i}`)));
    // Within a tenant the five files hold the same skus in different orders, to provoke lock conflicts.
    const files = tenants.flatMap((tenant, t) =>
      Array.from({ length: 5 }, (_, f) => {
        const skus = Array.from({ length: 1500 }, (_, i) => (i * (2 * f + 7)) % 1500);
        const csv = `sku,name,price\n${skus.map((sku) => `T${t}-${sku},n${f},${f + 1}.00`).join('\n')}\n`;
        return { tenant, csv };
      }),
    );
    const uploads = await Promise.all(files.map(({ tenant, csv }) => service.uploadCsv(tenant.key, csv)));
    expect(uploads.map((r) => r.status)).toEqual(Array(20).fill(202));
    const queued = await Promise.all(uploads.map(async (r) => (await readJson(r)) as ImportBody));
    const done = await Promise.all(queued.map((q, i) => service.waitForImport(files[i]!.tenant.key, q.id, 120_000)));

    // A deadlock would only show as a retried batch (the job resumes from its checkpoint), so the
    // server's own deadlock counter is what tells.
    await service.pool.query('select pg_stat_force_next_flush()');
    const { rows: stats } = await service.pool.query('select deadlocks::int from pg_stat_database where datname = current_database()');
    expect(stats[0].deadlocks).toBe(0);
    for (const result of done) {
      expect(result.status).toBe('succeeded');
      expect(result.rows_processed).toBe(1500);
      expect(result.rows_inserted + result.rows_updated + result.rows_unchanged).toBe(1500);
      expect(result.rows_rejected).toBe(0);
    }
    for (const tenant of tenants) {
      const mine = done.filter((_, i) => files[i]!.tenant === tenant);
      const { rows } = await service.pool.query(
        'select count(*)::int as n from products p join tenants x on x.id = p.tenant_id where x.name = $1',
        [tenant.tenant],
      );
      const distinct = new Set(files.filter((f) => f.tenant === tenant).flatMap((f) => f.csv.split('\n').slice(1, -1).map((l) => l.split(',')[0])));
      expect(rows[0].n).toBe(distinct.size);
      expect(mine.reduce((sum, r) => sum + r.rows_inserted, 0)).toBe(distinct.size);
    }
  });
});

describe('shutdown', () => {
  it('answers an upload in progress with 503 and keeps nothing of it', async () => {
    const service = await startTestService();
    const { key } = await service.createTenant();
    let sent = 0;
    let pulled!: () => void;
    const firstChunkSent = new Promise<void>((resolve) => (pulled = resolve));
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent++ === 0) {
          controller.enqueue(new TextEncoder().encode(`sku,name\n${'S-1,x\n'.repeat(2000)}`));
          pulled();
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50)); // a slow client, still sending
        controller.enqueue(new TextEncoder().encode('S-2,y\n'));
      },
    });
    const upload = service.request('/v1/imports', {
      method: 'POST',
      key,
      headers: { 'content-type': 'text/csv' },
      body,
      duplex: 'half',
    } as RequestInit);
    await firstChunkSent;
    const deadline = Date.now() + 10_000;
    while ((await service.uploadedFiles()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));

    const observer = new pg.Client({ connectionString: service.connectionString });
    await observer.connect();
    const stopping = service.stop();
    const response = await upload;
    expect(response.status).toBe(503);
    expect((await readJson(response)).error).toMatchObject({
      code: 'service_unavailable',
      message: 'The server is shutting down: retry the upload shortly',
    });
    expect(await service.uploadedFiles()).toEqual([]);
    const { rows } = await observer.query('select count(*)::int as n from imports');
    expect(rows[0].n).toBe(0);
    await observer.end();
    await stopping;
  });
});
