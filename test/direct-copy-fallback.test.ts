import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

// A batch whose sku range holds no stored sku is COPYed straight into products. When another
// transaction inserts one of its skus meanwhile, that COPY fails on the unique index and the batch
// must go through staging instead, in the same attempt: nothing lost, nothing doubled, exact counts.
// Made deterministic here: this test's own transaction holds uncommitted rows with two of the
// batch's skus (invisible to the writer's range probe), waits until the writer's COPY is blocked
// on them, and only then commits.

let service: TestService;

beforeAll(async () => {
  service = await startTestService({ BATCH_SIZE: '3' });
});
afterAll(() => service?.stop());

/** Polls `check` until it gives a value, or fails the test at the deadline. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the direct COPY into products', () => {
  it('meeting a sku committed meanwhile by another transaction, writes its batch through staging', async () => {
    const { tenant, key } = await service.createTenant('fallback');
    const { rows: ids } = await service.pool.query<{ id: string }>('select id::text from tenants where name = $1', [tenant]);
    const tenantId = ids[0]!.id;

    const other = new pg.Client({ connectionString: service.connectionString });
    await other.connect();
    try {
      const { rows: pids } = await other.query<{ pid: number }>('select pg_backend_pid() as pid');
      const otherPid = pids[0]!.pid;
      // F-002 with other values than the file's (becomes updated), F-003 with the same (unchanged).
      await other.query('begin');
      await other.query(
        `insert into products (tenant_id, sku, name, price) values ($1, 'F-002', 'Theirs', 9.00), ($1, 'F-003', 'Three', 3.00)`,
        [tenantId],
      );

      // Two batches of 3: F-001..F-003 meets the uncommitted rows, F-004..F-006 does not.
      const csv = 'sku,name,price\nF-001,One,1.00\nF-002,Two,2.00\nF-003,Three,3.00\nF-004,Four,4.00\nF-005,Five,5.00\nF-006,Six,6.00\n';
      const response = await service.uploadCsv(key, csv);
      expect(response.status).toBe(202);
      const { id: importId } = (await readJson(response)) as ImportBody;

      // The writer probed the range, found nothing (the rows are not committed), and its COPY into
      // products now waits on this transaction for the unique index.
      const blocked = await waitFor('the import COPY to wait on the uncommitted rows', async () => {
        // (Both read in one statement, but not at one instant: a wait seen a moment before its event
        // is reported reads as no event. Seen once, under a loaded machine.)
        const { rows } = await service.pool.query<{ query: string; wait_event_type: string }>(
          `select query, wait_event_type from pg_stat_activity where $1 = any(pg_blocking_pids(pid)) and wait_event_type = 'Lock'`,
          [otherPid],
        );
        return rows[0];
      });
      expect(blocked.query).toMatch(/^copy products \(/);
      expect(blocked.wait_event_type).toBe('Lock');
      await other.query('commit');

      // Until the import ends, its job must never have failed (a failed attempt would be retried
      // later and, finding the skus then, also end well: only the job row tells the difference).
      const jobErrors = new Set<string>();
      let attempts = 0;
      await waitFor('the import to end', async () => {
        const { rows: jobs } = await service.pool.query<{ attempts: number; last_error: string | null }>(
          'select attempts, last_error from graphile_worker.jobs where key = $1',
          [`import:${importId}`],
        );
        for (const job of jobs) {
          attempts = Math.max(attempts, job.attempts);
          if (job.last_error) jobErrors.add(job.last_error.split('\n')[0]!);
        }
        const { rows } = await service.pool.query<{ status: string }>('select status from imports where id = $1', [importId]);
        return ['queued', 'processing'].includes(rows[0]!.status) ? undefined : true;
      });
      expect([...jobErrors]).toEqual([]);
      expect(attempts).toBeLessThanOrEqual(1);

      const done = await service.waitForImport(key, importId);
      expect(done).toMatchObject({
        status: 'succeeded',
        rows_processed: 6,
        rows_inserted: 4,
        rows_updated: 1,
        rows_unchanged: 1,
        rows_rejected: 0,
        batches_committed: 2,
        error: null,
      });
      const { rows: table } = await service.pool.query(
        `select sku, name, price::text, status, last_import_id::text from products where tenant_id = $1 order by sku`,
        [tenantId],
      );
      const byImport = (sku: string, name: string, price: string) => ({ sku, name, price, status: 'active', last_import_id: importId });
      expect(table).toEqual([
        byImport('F-001', 'One', '1.00'),
        byImport('F-002', 'Two', '2.00'),
        // Equal to what the file says: left as the other transaction wrote it.
        { sku: 'F-003', name: 'Three', price: '3.00', status: 'active', last_import_id: null },
        byImport('F-004', 'Four', '4.00'),
        byImport('F-005', 'Five', '5.00'),
        byImport('F-006', 'Six', '6.00'),
      ]);
    } finally {
      await other.end();
    }
  });
});
