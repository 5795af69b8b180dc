import { readdir } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// /health and /ready against the real service. The database is made unreachable for real (no new
// connections allowed, every existing one terminated), never mocked.

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service?.stop());

/** The highest NNN of migrations/NNN_name.sql, read from the directory (other migrations may be added). */
async function lastMigration(): Promise<number> {
  const files = (await readdir(new URL('../migrations/', import.meta.url))).filter((file) => /^\d{3}_.+\.sql$/.test(file)).sort();
  return Number(files.at(-1)!.slice(0, 3));
}

/** A job of `task` that has been due for `seconds`, as graphile-worker's own add_job makes it. */
async function addOverdueJob(db: pg.Pool, task: string, payload: object, seconds: number): Promise<void> {
  await db.query(`select graphile_worker.add_job($1, $2::json, run_at := now() - make_interval(secs => $3))`, [task, JSON.stringify(payload), seconds]);
}

describe('GET /health', () => {
  it('says the process is alive, with its version and uptime', async () => {
    const response = await service.request('/health');
    expect(response.status).toBe(200);
    expect(await readJson(response)).toEqual({ status: 'ok', version: '0.1.0', uptime_seconds: expect.any(Number) });
  });
});

describe('GET /ready', () => {
  it('reports the database latency, the migration level, the workers and an empty queue', async () => {
    const response = await service.request('/ready');
    expect(response.status).toBe(200);
    const body = await readJson(response);
    expect(body).toEqual({
      status: 'ready',
      database: { latency_ms: expect.any(Number), migration_level: await lastMigration() },
      workers: { imports: true, webhooks: true },
      queue: { lag_seconds: 0 },
    });
    expect(body.database.latency_ms).toBeGreaterThan(0);
    expect(body.database.latency_ms).toBeLessThan(2000);
  });

  it('reports the age of the oldest job waiting to run, in a process that does not send webhooks', async () => {
    const noWebhooks = await startTestService({ WEBHOOK_CONCURRENCY: '0' });
    try {
      expect((await readJson(await noWebhooks.request('/ready'))).workers).toEqual({ imports: true, webhooks: false });
      // A delivery job no runner of this process takes: it waits, and the lag is its age.
      await addOverdueJob(noWebhooks.pool, 'deliver_webhook', { deliveryId: '00000000-0000-4000-8000-000000000000' }, 30);
      await addOverdueJob(noWebhooks.pool, 'deliver_webhook', { deliveryId: '00000000-0000-4000-8000-000000000001' }, 5);
      const { queue } = await readJson(await noWebhooks.request('/ready'));
      expect(queue.lag_seconds).toBeGreaterThanOrEqual(30);
      expect(queue.lag_seconds).toBeLessThan(90);
    } finally {
      await noWebhooks.stop();
    }
  });

  it('does not count a job that is not due yet, or one out of attempts', async () => {
    await service.pool.query(`select graphile_worker.add_job('no_such_task', '{}', run_at := now() + interval '1 hour')`);
    await service.pool.query(`select graphile_worker.add_job('no_such_task', '{}', run_at := now() - interval '1 hour', max_attempts := 1)`);
    await service.pool.query(`update graphile_worker._private_jobs set attempts = 1 where run_at < now()`);
    expect((await readJson(await service.request('/ready'))).queue).toEqual({ lag_seconds: 0 });
    await service.pool.query(`delete from graphile_worker._private_jobs where task_id in (select id from graphile_worker._private_tasks where identifier = 'no_such_task')`);
  });

  it('answers 503 service_unavailable at once while the database refuses connections, then ready again', async () => {
    const name = new URL(service.connectionString).pathname.slice(1);
    const admin = new pg.Client({ connectionString: inject('databaseServerUrl') });
    await admin.connect();
    try {
      await admin.query(`alter database ${name} with allow_connections false`);
      // Every connection of the service goes: pools, the LISTEN connection, the workers'.
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);

      const started = performance.now();
      const response = await service.request('/ready');
      const elapsed = performance.now() - started;
      expect(response.status).toBe(503);
      const body = await readJson(response);
      expect(body.error).toEqual({ code: 'service_unavailable', message: expect.stringMatching(/^The database is not reachable: \S/), requestId: expect.any(String) });
      expect(elapsed).toBeLessThan(2000); // refused, not left to the timeout
      // Liveness never touches the database.
      expect((await service.request('/health')).status).toBe(200);
    } finally {
      await admin.query(`alter database ${name} with allow_connections true`);
      await admin.end();
    }

    // The pools open new connections on their next checkout: ready again, with no restart.
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await service.request('/ready')).status;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(200);
  });

  it('works as before once the database is back: an upload is imported by the reconnected workers', async () => {
    const { key } = await service.createTenant();
    const upload = await service.uploadCsv(key, 'sku,name\nHEALTH-1,Back again\n');
    expect(upload.status).toBe(202);
    const done = await service.waitForImport(key, (await readJson(upload)).id, 30_000);
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 1 });
  });
});
