import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statsSchema } from '../src/http/routes/stats.ts';
import { readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

// GET /v1/stats through HTTP against the real database. Real imports and deliveries check that the
// facts the service writes are counted; rows inserted through SQL with chosen timestamps check the
// bucketing, the percentiles and the time zones against values computed by hand.

let service: TestService;

beforeAll(async () => {
  service = await startTestService({
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_RETRY_SCHEDULE: '0.05', // one retry: a failing endpoint fails a delivery after two attempts
    WEBHOOK_DISABLE_AFTER_FAILURES: '100',
  });
});
afterAll(() => service?.stop());

type Stats = z.infer<typeof statsSchema>;
type Bucket = Stats['buckets'][number];

/** GET /v1/stats as `key`: 200, and a body that is exactly the published schema (no field it does not describe). */
async function getStats(key: string, query: Record<string, string>): Promise<Stats> {
  const response = await service.request(`/v1/stats?${new URLSearchParams(query)}`, { key });
  const body = await readJson(response);
  expect(response.status, JSON.stringify(body)).toBe(200);
  const parsed = statsSchema.parse(body);
  expect(isDeepStrictEqual(parsed, body), 'fields the published schema does not describe').toBe(true);
  return parsed;
}

const emptyBucket = (start: string, end: string): Bucket => ({
  start,
  end,
  imports: {
    total: 0,
    queued: 0,
    processing: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    success_rate: null,
    p50_duration_ms: null,
    p95_duration_ms: null,
    rows_per_second: null,
  },
  rows: { inserted: 0, updated: 0, unchanged: 0, rejected: 0 },
  webhooks: { deliveries: 0, succeeded: 0, failed: 0, pending: 0, success_rate: null, attempts: 0, p95_latency_ms: null },
});

/** percentile_cont: linear interpolation between the two nearest ranks. */
function interpolatedPercentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = fraction * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower]! + (position - lower) * (sorted[upper]! - sorted[lower]!);
}

describe('real imports and webhook deliveries', () => {
  let ok: WebhookReceiver;
  let failing: WebhookReceiver;
  beforeAll(async () => {
    ok = await startWebhookReceiver();
    failing = await startWebhookReceiver();
    failing.reply([], 500);
  });
  afterAll(async () => {
    await ok.close();
    await failing.close();
  });

  it('counts them in the bucket of the day: statuses, rates, rows by outcome, deliveries, and the failure reasons', async () => {
    const { key } = await service.createTenant('stats-real');
    const { key: otherKey } = await service.createTenant('stats-real-other');
    // A zone where midnight is more than an hour away, so that everything lands in one day bucket.
    const tz = ['UTC', 'Asia/Tokyo', 'America/Los_Angeles'].find((zone) => {
      const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' }).format(new Date()));
      return hour >= 1 && hour <= 22;
    })!;
    const endpoints: string[] = [];
    for (const url of [`${ok.url}/ok`, `${failing.url}/failing`]) {
      const response = await service.request('/v1/webhooks', {
        method: 'POST',
        key,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url }),
      });
      expect(response.status).toBe(201);
      endpoints.push((await readJson(response)).id);
    }

    const runImport = async (csv: string, as = key): Promise<ImportBody> =>
      service.waitForImport(as, (await readJson(await service.uploadCsv(as, csv))).id);
    const first = await runImport('sku,name,price\nS-1,One,1.00\nbad sku,Two,2.00\nS-2,Two,2.00\n');
    const second = await runImport('sku,name,price\nS-1,One,1.00\nS-2,Two,9.99\nS-3,Three,3.00\n');
    const failed = await runImport('sku,label\nA,b\n');
    await runImport('sku,name\nO-1,Other tenant\n', otherKey); // never counted for `key`
    expect([first.status, second.status, failed.status]).toEqual(['succeeded', 'succeeded', 'failed']);
    expect([first.rows_inserted, first.rows_rejected]).toEqual([2, 1]);
    expect([second.rows_inserted, second.rows_updated, second.rows_unchanged]).toEqual([1, 1, 1]);

    // Every delivery finished: 3 events to each endpoint, the failing one's after its retry.
    const deliveries: { status: string; last_error: string | null; attempts: { duration_ms: number }[] }[] = [];
    for (const id of endpoints) {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const page = await readJson(await service.request(`/v1/webhooks/${id}/deliveries`, { key }));
        if (page.items.length === 3 && page.items.every((d: { status: string }) => d.status !== 'pending')) {
          deliveries.push(...page.items);
          break;
        }
        if (Date.now() > deadline) throw new Error(`deliveries of ${id} not finished: ${JSON.stringify(page.items)}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }

    const stats = await getStats(key, { period: 'day', tz });
    expect(stats.buckets).toHaveLength(31);
    const busy = stats.buckets.filter((bucket) => bucket.imports.total > 0 || bucket.webhooks.deliveries > 0);
    expect(busy).toHaveLength(1);
    const today = busy[0]!;
    expect(today).toBe(stats.buckets.at(-1));

    // The timings as the database holds them (to the microsecond; the API shows milliseconds).
    const { rows: timings } = await service.pool.query<{ seconds: number; rows_processed: string }>(
      'select date_part($2, finished_at - started_at) as seconds, rows_processed from imports where id = any ($1) order by created_at',
      [[first.id, second.id, failed.id], 'epoch'],
    );
    const durations = timings.map((t) => t.seconds);
    const processed = timings.reduce((sum, t) => sum + Number(t.rows_processed), 0);
    const seconds = durations.reduce((sum, s) => sum + s, 0);
    const attempts = deliveries.flatMap((d) => d.attempts.map((a) => a.duration_ms));
    expect(attempts).toHaveLength(9);
    expect(today.imports).toEqual({
      total: 3,
      queued: 0,
      processing: 0,
      succeeded: 2,
      failed: 1,
      cancelled: 0,
      success_rate: 2 / 3,
      p50_duration_ms: Math.round(interpolatedPercentile(durations, 0.5) * 1000),
      p95_duration_ms: Math.round(interpolatedPercentile(durations, 0.95) * 1000),
      rows_per_second: Math.round((processed / seconds) * 10) / 10,
    });
    expect(today.rows).toEqual({ inserted: 3, updated: 1, unchanged: 1, rejected: 1 });
    expect(today.webhooks).toEqual({
      deliveries: 6,
      succeeded: 3,
      failed: 3,
      pending: 0,
      success_rate: 0.5,
      attempts: 9,
      p95_latency_ms: Math.round(interpolatedPercentile(attempts, 0.95)),
    });
    expect(Date.parse(today.start)).toBeLessThanOrEqual(Date.parse(first.created_at));
    expect(Date.parse(today.end)).toBeGreaterThan(Date.now());

    expect(failed.error).toBe('Missing required column "name" in the header line (line 1); found: sku, label. No column looks like name');
    expect(stats.top_failure_reasons).toEqual([
      { kind: 'webhook', reason: 'HTTP 500', count: 3, example: 'HTTP 500', last_at: expect.any(String) },
      {
        kind: 'import',
        reason: 'Missing required column "name" in the header line (line N); found: sku, label. No column looks like name',
        count: 1,
        example: failed.error,
        last_at: failed.created_at,
      },
    ]);

    const other = await getStats(otherKey, { period: 'day', tz });
    expect(other.buckets.at(-1)!.imports).toMatchObject({ total: 1, succeeded: 1 });
    expect(other.buckets.at(-1)!.rows).toEqual({ inserted: 1, updated: 0, unchanged: 0, rejected: 0 });
    expect(other.buckets.at(-1)!.webhooks.deliveries).toBe(0);
    expect(other.top_failure_reasons).toEqual([]);
  });
});

describe('buckets, percentiles and time zones, on rows with chosen timestamps', () => {
  let key: string;
  let tenantId: string;
  let otherTenantId: string;

  const tenantIdOf = async (name: string) => (await service.pool.query('select id from tenants where name = $1', [name])).rows[0].id as string;

  type Fact = {
    created: string;
    status: string;
    seconds?: number;
    processed?: number;
    inserted?: number;
    updated?: number;
    unchanged?: number;
    rejected?: number;
    error?: string;
    dryRun?: boolean;
  };
  /** An import row as the service would have left it: started 1 s after creation, finished `seconds` later. */
  async function insertImport(tenant: string, fact: Fact) {
    await service.pool.query(
      `insert into imports (tenant_id, status, file_path, bytes, sha256, rows_processed, rows_inserted, rows_updated,
                            rows_unchanged, rows_rejected, error, options, created_at, started_at, finished_at)
       values ($1, $2, '/nowhere.csv', 1, 'x', $3, $4, $5, $6, $7, $8, $9, $10::timestamptz,
               case when $2 <> 'queued' then $10::timestamptz + interval '1 second' end,
               case when $11::float8 is not null then $10::timestamptz + interval '1 second' + $11::float8 * interval '1 second' end)`,
      [
        tenant,
        fact.status,
        fact.processed ?? 0,
        fact.inserted ?? 0,
        fact.updated ?? 0,
        fact.unchanged ?? 0,
        fact.rejected ?? 0,
        fact.error ?? null,
        { dry_run: fact.dryRun ?? false },
        fact.created,
        fact.seconds ?? null,
      ],
    );
  }

  /** One endpoint's deliveries with their attempts; the attempts' tenant comes from the delivery (the trigger). */
  async function insertDeliveries(tenant: string, deliveries: { created: string; status: string; error?: string; attemptMs: number[] }[]) {
    const { rows } = await service.pool.query(
      `insert into webhook_endpoints (tenant_id, url, events, secret) values ($1, 'https://example.com/hook', '{*}', 'whsec_x') returning id`,
      [tenant],
    );
    for (const [index, delivery] of deliveries.entries()) {
      const inserted = await service.pool.query(
        `insert into webhook_deliveries (endpoint_id, tenant_id, event_id, event_type, body, status, last_error, created_at)
         values ($1, $2, $3, 'import.succeeded', '{}', $4, $5, $6) returning id`,
        [rows[0].id, tenant, `evt_${index}`, delivery.status, delivery.error ?? null, delivery.created],
      );
      for (const [attempt, ms] of delivery.attemptMs.entries()) {
        await service.pool.query(
          `insert into webhook_attempts (delivery_id, attempted_at, status_code, duration_ms)
           values ($1, $2::timestamptz + $3 * interval '1 minute', 200, $4)`,
          [inserted.rows[0].id, delivery.created, attempt, ms],
        );
      }
    }
  }

  beforeAll(async () => {
    const created = await service.createTenant('stats-sql');
    key = created.key;
    tenantId = await tenantIdOf(created.tenant);
    otherTenantId = await tenantIdOf((await service.createTenant('stats-sql-other')).tenant);

    // 2024-03-10 (a Sunday), hour 00: four imports the worker ended, one cancelled; hour 02: one queued.
    const hour0: Fact[] = [
      { created: '2024-03-10T00:10:00Z', status: 'succeeded', seconds: 10, processed: 100, inserted: 60, updated: 20, unchanged: 10, rejected: 10 },
      { created: '2024-03-10T00:20:00Z', status: 'succeeded', seconds: 20, processed: 200, inserted: 200 },
      { created: '2024-03-10T00:30:00Z', status: 'succeeded', seconds: 30, processed: 300, inserted: 1000, dryRun: true },
      { created: '2024-03-10T00:40:00Z', status: 'failed', seconds: 40, processed: 400, inserted: 395, rejected: 5, error: 'Unterminated quoted field in the record starting on line 12: a closing " is missing' },
      { created: '2024-03-10T00:50:00Z', status: 'cancelled', seconds: 5, processed: 7, inserted: 7, error: 'Cancelled on request' },
    ];
    for (const fact of hour0) await insertImport(tenantId, fact);
    await insertImport(tenantId, { created: '2024-03-10T02:05:00Z', status: 'queued' });
    await insertImport(tenantId, { created: '2024-03-10T23:30:00Z', status: 'failed', seconds: 1, error: 'Unterminated quoted field in the record starting on line 40: a closing " is missing' });
    await insertImport(tenantId, { created: '2024-03-11T00:30:00Z', status: 'succeeded', seconds: 2, processed: 1, inserted: 1 });
    await insertDeliveries(tenantId, [
      { created: '2024-03-10T00:05:00Z', status: 'succeeded', attemptMs: [100] },
      { created: '2024-03-10T00:06:00Z', status: 'succeeded', attemptMs: [200] },
      { created: '2024-03-10T00:07:00Z', status: 'succeeded', attemptMs: [300] },
      { created: '2024-03-10T00:08:00Z', status: 'failed', error: 'HTTP 503', attemptMs: [400, 500] },
      { created: '2024-03-10T00:09:00Z', status: 'pending', error: 'HTTP 503', attemptMs: [] },
      { created: '2024-03-10T02:10:00Z', status: 'failed', error: 'HTTP 503', attemptMs: [] },
      { created: '2024-03-10T02:20:00Z', status: 'failed', error: 'HTTP 500', attemptMs: [] },
    ]);
    // The same hours for another tenant: never counted for the first.
    for (const fact of hour0) await insertImport(otherTenantId, { ...fact, status: 'failed', error: 'Other tenant 1' });
    await insertDeliveries(otherTenantId, [{ created: '2024-03-10T00:05:00Z', status: 'failed', error: 'HTTP 404', attemptMs: [9999] }]);
  });

  it('hour buckets: every bucket of the range, empty ones with zeros; percentiles and rates computed by hand', async () => {
    const stats = await getStats(key, { period: 'hour', from: '2024-03-10T00:00:00Z', to: '2024-03-10T03:00:00Z' });
    expect(stats).toMatchObject({ period: 'hour', tz: 'UTC', from: '2024-03-10T00:00:00.000Z', to: '2024-03-10T03:00:00.000Z' });
    expect(stats.buckets).toEqual([
      {
        start: '2024-03-10T00:00:00.000Z',
        end: '2024-03-10T01:00:00.000Z',
        imports: {
          total: 5,
          queued: 0,
          processing: 0,
          succeeded: 3,
          failed: 1,
          cancelled: 1,
          success_rate: 0.75, // 3 / (3 + 1): the cancelled one is left out
          p50_duration_ms: 25_000, // 10, 20, 30, 40 s: halfway between 20 and 30
          p95_duration_ms: 38_500, // rank 0.95 × 3 = 2.85: 30 + 0.85 × (40 − 30)
          rows_per_second: 10, // (100 + 200 + 300 + 400) rows / (10 + 20 + 30 + 40) s
        },
        // Every import but the dry run (which wrote nothing): 60 + 200 + 395 + 7 inserted.
        rows: { inserted: 662, updated: 20, unchanged: 10, rejected: 15 },
        webhooks: {
          deliveries: 5,
          succeeded: 3,
          failed: 1,
          pending: 1,
          success_rate: 0.75,
          attempts: 5,
          p95_latency_ms: 480, // 100 … 500 ms: rank 0.95 × 4 = 3.8: 400 + 0.8 × 100
        },
      },
      emptyBucket('2024-03-10T01:00:00.000Z', '2024-03-10T02:00:00.000Z'),
      {
        ...emptyBucket('2024-03-10T02:00:00.000Z', '2024-03-10T03:00:00.000Z'),
        imports: { ...emptyBucket('', '').imports, total: 1, queued: 1 },
        webhooks: { ...emptyBucket('', '').webhooks, deliveries: 2, failed: 2, success_rate: 0 },
      },
    ]);
    // Over these three hours only: "line 12" alone; the 23:30 import is outside.
    expect(stats.top_failure_reasons).toEqual([
      { kind: 'webhook', reason: 'HTTP 503', count: 2, example: 'HTTP 503', last_at: '2024-03-10T02:10:00.000Z' },
      {
        kind: 'import',
        reason: 'Unterminated quoted field in the record starting on line N: a closing " is missing',
        count: 1,
        example: 'Unterminated quoted field in the record starting on line 12: a closing " is missing',
        last_at: '2024-03-10T00:40:00.000Z',
      },
      { kind: 'webhook', reason: 'HTTP 500', count: 1, example: 'HTTP 500', last_at: '2024-03-10T02:20:00.000Z' },
    ]);
  });

  it('groups failure messages that differ only in numbers, and widens a range to whole buckets', async () => {
    const stats = await getStats(key, { period: 'day', from: '2024-03-10T12:00:00Z', to: '2024-03-11T00:00:00Z' });
    expect(stats.from).toBe('2024-03-10T00:00:00.000Z');
    expect(stats.to).toBe('2024-03-11T00:00:00.000Z');
    expect(stats.buckets.map((b) => [b.start, b.imports.total, b.imports.failed])).toEqual([['2024-03-10T00:00:00.000Z', 7, 2]]);
    // Two of each: the import reason first (ties go by kind, then reason).
    expect(stats.top_failure_reasons.slice(0, 2)).toEqual([
      {
        kind: 'import',
        reason: 'Unterminated quoted field in the record starting on line N: a closing " is missing',
        count: 2,
        example: 'Unterminated quoted field in the record starting on line 40: a closing " is missing', // the latest
        last_at: '2024-03-10T23:30:00.000Z',
      },
      { kind: 'webhook', reason: 'HTTP 503', count: 2, example: 'HTTP 503', last_at: '2024-03-10T02:10:00.000Z' },
    ]);
  });

  it('tz moves the day boundary: 23:30 UTC is the next day in Paris', async () => {
    const utc = await getStats(key, { period: 'day', from: '2024-03-10T00:00:00Z', to: '2024-03-12T00:00:00Z' });
    expect(utc.buckets.map((b) => [b.start, b.imports.total])).toEqual([
      ['2024-03-10T00:00:00.000Z', 7],
      ['2024-03-11T00:00:00.000Z', 1],
    ]);
    const paris = await getStats(key, { period: 'day', tz: 'Europe/Paris', from: '2024-03-10T00:00:00+01:00', to: '2024-03-12T00:00:00+01:00' });
    expect(paris).toMatchObject({ tz: 'Europe/Paris', from: '2024-03-09T23:00:00.000Z', to: '2024-03-11T23:00:00.000Z' });
    // Paris 2024-03-10 runs 2024-03-09T23:00Z → 2024-03-10T23:00Z: the 23:30 import moves to the 11th.
    expect(paris.buckets.map((b) => [b.start, b.end, b.imports.total])).toEqual([
      ['2024-03-09T23:00:00.000Z', '2024-03-10T23:00:00.000Z', 6],
      ['2024-03-10T23:00:00.000Z', '2024-03-11T23:00:00.000Z', 2],
    ]);
    // Any case: the zone comes back as the server spells it.
    expect((await getStats(key, { period: 'day', tz: 'europe/PARIS', from: '2024-03-10T00:00:00Z', to: '2024-03-10T12:00:00Z' })).tz).toBe('Europe/Paris');
  });

  it('a day across a DST change is 23 hours long; weeks start on Monday', async () => {
    const dst = await getStats(key, { period: 'day', tz: 'Europe/Paris', from: '2024-03-30T00:00:00+01:00', to: '2024-04-01T00:00:00+02:00' });
    expect(dst.buckets.map((b) => [b.start, b.end])).toEqual([
      ['2024-03-29T23:00:00.000Z', '2024-03-30T23:00:00.000Z'],
      ['2024-03-30T23:00:00.000Z', '2024-03-31T22:00:00.000Z'],
    ]);

    // From a Wednesday to a Wednesday: the weeks of Monday 4, 11 and 18 March.
    const weeks = await getStats(key, { period: 'week', from: '2024-03-06T00:00:00Z', to: '2024-03-20T00:00:00Z' });
    expect(weeks).toMatchObject({ from: '2024-03-04T00:00:00.000Z', to: '2024-03-25T00:00:00.000Z' });
    expect(weeks.buckets.map((b) => [b.start, b.imports.total, b.imports.succeeded])).toEqual([
      ['2024-03-04T00:00:00.000Z', 7, 3], // everything of Sunday the 10th
      ['2024-03-11T00:00:00.000Z', 1, 1], // Monday the 11th, 00:30
      ['2024-03-18T00:00:00.000Z', 0, 0],
    ]);
  });

  it("defaults: period=day, to=now, from=to minus 30 days; another tenant's rows are never counted", async () => {
    const stats = await getStats(key, { to: '2024-03-10T12:00:00Z' });
    expect(stats).toMatchObject({ period: 'day', tz: 'UTC', from: '2024-02-09T00:00:00.000Z', to: '2024-03-11T00:00:00.000Z' });
    expect(stats.buckets).toHaveLength(31);
    expect(stats.buckets.at(-1)!.imports.total).toBe(7);
    expect(stats.buckets.at(-1)!.webhooks.attempts).toBe(5);
    expect(stats.top_failure_reasons.map((r) => r.reason)).not.toContain('Other tenant N');
    expect(stats.top_failure_reasons.map((r) => r.reason)).not.toContain('HTTP 404');
  });
});

describe('bad input', () => {
  let key: string;
  beforeAll(async () => {
    ({ key } = await service.createTenant('stats-bad'));
  });

  const hours = (n: number) => new Date(Date.parse('2024-01-01T00:00:00Z') + n * 3_600_000).toISOString();

  it.each([
    [{ period: 'month' }, 'period must be hour, day or week'],
    [{ from: '2024-03-10' }, 'from must be an ISO 8601 date-time such as 2024-05-01T00:00:00Z'],
    [{ to: 'yesterday' }, 'to must be an ISO 8601 date-time such as 2024-05-01T00:00:00Z'],
    [{ tz: 'Mars/Olympus_Mons' }, 'tz "Mars/Olympus_Mons" is not a time zone the server knows: use an IANA name such as Europe/Paris or America/New_York'],
    // A POSIX zone string: PostgreSQL would read its sign the other way round.
    [{ tz: 'UTC+3' }, 'tz "UTC+3" is not a time zone the server knows: use an IANA name such as Europe/Paris or America/New_York'],
    [{ from: '2024-03-11T00:00:00Z', to: '2024-03-10T00:00:00Z' }, 'from (2024-03-11T00:00:00.000Z) must be before to (2024-03-10T00:00:00.000Z)'],
    [{ from: '2024-03-10T00:00:00Z', to: '2024-03-10T00:00:00Z' }, 'from (2024-03-10T00:00:00.000Z) must be before to (2024-03-10T00:00:00.000Z)'],
    [{ period: 'hour', from: '2024-01-01T00:00:00Z', to: '2024-03-01T00:00:00Z' }, 'from–to needs more than 1000 hour buckets: narrow the range or use a longer period (hour, day, week)'],
    // 1001 hours: within the first, rough check; refused on the exact count of buckets.
    [{ period: 'hour', from: hours(0), to: hours(1001) }, 'from–to needs more than 1000 hour buckets: narrow the range or use a longer period (hour, day, week)'],
    [{ period: 'day', from: '2020-01-01T00:00:00Z', to: '2024-01-01T00:00:00Z' }, 'from–to needs more than 1000 day buckets: narrow the range or use a longer period (hour, day, week)'],
  ])('%o → 400 validation_failed', async (query, message) => {
    const response = await service.request(`/v1/stats?${new URLSearchParams(query)}`, { key });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error).toEqual({ code: 'validation_failed', message, requestId: expect.any(String) });
  });

  it('accepts exactly 1000 buckets', async () => {
    const stats = await getStats(key, { period: 'hour', from: hours(0), to: hours(1000) });
    expect(stats.buckets).toHaveLength(1000);
  });
});

describe('the document', () => {
  it('/openapi.json describes GET /v1/stats: its parameters and the Stats response', async () => {
    const doc = await readJson(await service.request('/openapi.json'));
    const operation = doc.paths['/v1/stats'].get;
    expect(operation.security).toEqual([{ bearerAuth: [] }]);
    expect(operation.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(['query:period', 'query:from', 'query:to', 'query:tz']);
    expect(operation.parameters[0].schema).toMatchObject({ enum: ['hour', 'day', 'week'], default: 'day' });
    expect(operation.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Stats' });
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Stats', 'StatsBucket', 'StatsFailureReason']));
    expect(operation.responses['400']).toBeDefined();
  });
});
