// npm run bench:stats [-- --imports 100000 --runs 15]
// GET /v1/stats on a tenant with N imports (and one webhook delivery per import, ~1.2 attempts
// each) spread over the last 92 days, next to a second tenant with as many: the median and p95
// time of the statistics queries (getStats, as the route calls it) and of the whole HTTP request
// through the real service, for a month of days, two days of hours and three months of weeks.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { getStats, type StatsQuery } from '../src/stats/get-stats.ts';
import { timeZoneLookup } from '../src/stats/time-zones.ts';
import { createBenchKey, openBenchDatabase, percentile, startServiceProcess } from './bench-support.ts';
import type { Pool } from '../src/db/pool.ts';

const { values } = parseArgs({
  options: { imports: { type: 'string', default: '100000' }, runs: { type: 'string', default: '15' } },
});
const importCount = Number(values.imports);
const runs = Number(values.runs);
const DAY_MS = 86_400_000;

const database = await openBenchDatabase('lading_bench_stats');
const workDir = await mkdtemp(path.join(os.tmpdir(), 'lading-bench-stats-'));
try {
  const key = await createBenchKey(database.pool);
  const tenantId = await tenantOf(database.pool, key);
  const otherTenantId = await tenantOf(database.pool, await createBenchKey(database.pool));
  const filled = performance.now();
  for (const tenant of [tenantId, otherTenantId]) await fillTenant(database.pool, tenant, importCount);
  // What autovacuum would have done by the time anyone asks: statistics for the planner.
  await database.pool.query('vacuum analyze imports, webhook_deliveries, webhook_attempts');
  const server = (await database.pool.query<{ version: string }>("select current_setting('server_version') as version")).rows[0]!.version;
  console.log(
    `${importCount} imports and deliveries for each of 2 tenants over 92 days in ${((performance.now() - filled) / 1000).toFixed(1)} s ` +
      `(PostgreSQL ${server}, ${os.cpus().length} CPUs); medians of ${runs} runs`,
  );

  const now = new Date();
  const cases: { label: string; query: StatsQuery; http: string }[] = [
    { label: 'a month of days', query: { period: 'day', from: new Date(now.getTime() - 30 * DAY_MS), to: now }, http: 'period=day' },
    { label: 'a month of days, tz=Europe/Paris', query: { period: 'day', tz: 'Europe/Paris' }, http: 'period=day&tz=Europe/Paris' },
    { label: 'two days of hours', query: { period: 'hour', from: new Date(now.getTime() - 2 * DAY_MS), to: now }, http: 'period=hour' },
    { label: '3 months of weeks', query: { period: 'week', from: new Date(now.getTime() - 92 * DAY_MS), to: now }, http: `period=week&from=${new Date(now.getTime() - 92 * DAY_MS).toISOString()}` },
  ];

  const deps = { pool: database.pool, timeZones: timeZoneLookup(database.pool) };
  const service = await startServiceProcess({ DATABASE_URL: database.connectionString, DATA_DIR: workDir, RATE_LIMIT_REQUESTS: '0' });
  try {
    for (const { label, query, http } of cases) {
      const sample = await getStats(deps, tenantId, query, now);
      const imports = sample.buckets.reduce((sum, bucket) => sum + bucket.imports.total, 0);
      const sql = await timeRuns(() => getStats(deps, tenantId, query, now));
      const overHttp = await timeRuns(async () => {
        const response = await fetch(`${service.url}/v1/stats?${http}`, { headers: { authorization: `Bearer ${key}` } });
        if (response.status !== 200) throw new Error(`GET /v1/stats?${http}: ${response.status} ${await response.text()}`);
        await response.json();
      });
      console.log(
        `${label.padEnd(34)} ${String(sample.buckets.length).padStart(3)} buckets, ${String(imports).padStart(6)} imports: ` +
          `queries median ${sql.median.toFixed(1)} ms (p95 ${sql.p95.toFixed(1)}), HTTP median ${overHttp.median.toFixed(1)} ms (p95 ${overHttp.p95.toFixed(1)})`,
      );
    }
  } finally {
    await service.stop();
  }
} finally {
  await database.stop();
}

async function tenantOf(pool: Pool, apiKey: string): Promise<string> {
  const { rows } = await pool.query('select tenant_id from api_keys where key_hash = sha256(convert_to($1, $2))', [apiKey, 'UTF8']);
  return rows[0].tenant_id;
}

/** Two warm-up runs, then `runs` timed ones. */
async function timeRuns(fn: () => Promise<unknown>): Promise<{ median: number; p95: number }> {
  for (let i = 0; i < 2; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), p95: percentile(times, 95) };
}

/**
 * Imports created evenly over the last 92 days, as a busy tenant's would be: mostly succeeded,
 * some failed (with line numbers in their errors), a few cancelled, the newest still queued or
 * running; one webhook delivery per import to one endpoint, most succeeded at the first attempt.
 */
async function fillTenant(pool: Pool, tenantId: string, count: number): Promise<void> {
  await pool.query(
    `insert into imports (tenant_id, status, file_path, bytes, sha256, rows_processed, rows_inserted, rows_updated,
                          rows_unchanged, rows_rejected, error, created_at, started_at, finished_at, options)
     select $1, status, '/bench/' || g, 1000, 'bench', processed, inserted, updated, processed - inserted - updated - rejected,
            rejected, error, created_at, created_at + interval '2 seconds',
            case when status in ('queued', 'processing') then null
                 else created_at + interval '2 seconds' + (processed / 20000.0 + random() * 3) * interval '1 second' end,
            case when g % 50 = 0 then '{"dry_run": true}'::jsonb else '{}'::jsonb end
     from generate_series(1, $2::int) as g,
          lateral (select now() - (g::float8 / $2) * interval '92 days' as created_at,
                          (random() * 100000)::int as processed) as base,
          lateral (select case when g <= 3 then 'processing' when g <= 6 then 'queued'
                               when g % 20 = 7 then 'failed' when g % 33 = 5 then 'cancelled' else 'succeeded' end as status,
                          (processed * 0.6)::int as inserted, (processed * 0.3)::int as updated, (processed * 0.01)::int as rejected) as outcome,
          lateral (select case when status = 'failed' then (array[
                     'Unterminated quoted field in the record starting on line ' || (random() * 90000)::int || ': a closing " is missing',
                     'Missing required column(s): name. The header line (line 1) has: sku, title',
                     'The file has more than 50000000 records (MAX_RECORDS); the first ones were loaded'])[1 + g % 3]
                   when status = 'cancelled' then 'Cancelled on request' end as error) as failure`,
    [tenantId, count],
  );
  const { rows } = await pool.query(
    `insert into webhook_endpoints (tenant_id, url, events, secret) values ($1, 'https://hooks.example.com/lading', '{*}', 'whsec_bench')
     returning id`,
    [tenantId],
  );
  await pool.query(
    `insert into webhook_deliveries (endpoint_id, tenant_id, event_id, event_type, body, status, attempt_count, last_error, created_at, completed_at)
     select $1, $2, 'evt_' || i.id, 'import.' || i.status, '{}',
            case when n % 25 = 0 then 'failed' else 'succeeded' end,
            case when n % 5 = 0 then 2 else 1 end,
            case when n % 25 = 0 then (array['HTTP 500', 'HTTP 503', 'timed out after 10000 ms'])[1 + n % 3] end,
            i.finished_at, i.finished_at + interval '1 second'
     from (select id, status, finished_at, row_number() over () as n from imports where tenant_id = $2 and finished_at is not null) i`,
    [rows[0].id, tenantId],
  );
  // One attempt per delivery, two for every fifth: 1.2 attempts each.
  await pool.query(
    `insert into webhook_attempts (delivery_id, attempted_at, status_code, duration_ms)
     select d.id, d.created_at + a * interval '5 seconds', 200, (20 + random() * 400)::int
     from webhook_deliveries d, generate_series(1, d.attempt_count) as a
     where d.tenant_id = $1`,
    [tenantId],
  );
}
