import type { Queryable } from '../db/pool.ts';
import type { StatsPeriod } from './stats-range.ts';

// The statistics are computed from the facts on every request (no rollup to keep in step): the
// buckets are made first, then imports, deliveries and attempts are read bucket by bucket through
// (tenant_id, time) indexes. Counts come back as int, sums and percentiles as float8: pg gives
// those to JavaScript as numbers (sums of bigint would be numeric, and strings). A float8 sum is
// exact up to 2^53 rows.

/** The buckets of a range in a time zone, with the range they cover (params: period, tz, from, to). */
export type BucketRange = { start: Date; end: Date };

/**
 * Every bucket from the one holding `from` to the one holding `to`'s last instant. Days and weeks
 * (ISO weeks, from Monday) step in local time, so a bucket across a DST change is 23 or 25 hours;
 * hours step in absolute time, so the repeated local hour of an autumn change is two buckets.
 */
export async function selectBuckets(
  db: Queryable,
  range: { period: StatsPeriod; tz: string; from: Date; to: Date },
): Promise<BucketRange[]> {
  const { rows } = await db.query<BucketRange>(
    `with bounds as (
       select date_trunc($1, $3::timestamptz, $2) as first_start,
              date_trunc($1, $4::timestamptz - interval '1 microsecond', $2) as last_start
     ),
     starts as (
       select s as start
       from bounds, generate_series(first_start, last_start, interval '1 hour') as s
       where $1 = 'hour'
       union all
       select s at time zone $2
       from bounds, generate_series(first_start at time zone $2, last_start at time zone $2, ('1 ' || $1)::interval) as s
       where $1 <> 'hour'
     )
     select start,
            coalesce(lead(start) over (order by start),
                     case when $1 = 'hour' then start + interval '1 hour'
                          else ((start at time zone $2) + ('1 ' || $1)::interval) at time zone $2 end) as "end"
     from starts
     order by start`,
    [range.period, range.tz, range.from, range.to],
  );
  return rows;
}

/** The facts of these buckets of one tenant; each query answers one row per bucket, in this order. */
type FactRange = { tenantId: string; buckets: BucketRange[] };
const factParams = (r: FactRange) => [r.tenantId, r.buckets.map((b) => b.start), r.buckets.map((b) => b.end)];

export type ImportBucketRow = {
  total: number;
  queued: number;
  processing: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  rows_inserted: number;
  rows_updated: number;
  rows_unchanged: number;
  rows_rejected: number;
  /** [p50, p95] in seconds, or null when no import of the bucket ran to its end */
  duration_seconds: [number, number] | null;
  rows_processed_ended: number;
  seconds_ended: number;
};

// Each bucket is its own range scan of (tenant_id, created_at): measured faster than one scan
// grouped by date_trunc(period, created_at, tz), which converts every row to the zone.

/**
 * Imports per bucket of their created_at (params: tenant, bucket starts, bucket ends). Durations
 * (started_at → finished_at) and throughput count only imports the worker ended, succeeded or
 * failed: a cancel's timing is a person's. Row outcomes leave dry runs out: they wrote nothing.
 */
export async function selectImportBuckets(db: Queryable, range: FactRange): Promise<ImportBucketRow[]> {
  const { rows } = await db.query<ImportBucketRow>(
    `select i.*
     from unnest($2::timestamptz[], $3::timestamptz[]) with ordinality as b (start, "end", n)
     cross join lateral (
       select count(*)::int as total,
              count(*) filter (where status = 'queued')::int as queued,
              count(*) filter (where status = 'processing')::int as processing,
              count(*) filter (where status = 'succeeded')::int as succeeded,
              count(*) filter (where status = 'failed')::int as failed,
              count(*) filter (where status = 'cancelled')::int as cancelled,
              coalesce(sum(rows_inserted::float8) filter (where not dry_run), 0) as rows_inserted,
              coalesce(sum(rows_updated::float8) filter (where not dry_run), 0) as rows_updated,
              coalesce(sum(rows_unchanged::float8) filter (where not dry_run), 0) as rows_unchanged,
              coalesce(sum(rows_rejected::float8) filter (where not dry_run), 0) as rows_rejected,
              percentile_cont(array[0.5, 0.95]) within group (order by seconds) filter (where seconds is not null) as duration_seconds,
              coalesce(sum(rows_processed::float8) filter (where seconds is not null), 0) as rows_processed_ended,
              coalesce(sum(seconds), 0) as seconds_ended
       from (
         select status, rows_inserted, rows_updated, rows_unchanged, rows_rejected, rows_processed,
                options @> '{"dry_run": true}' as dry_run,
                case when status in ('succeeded', 'failed') then date_part('epoch', finished_at - started_at) end as seconds
         from imports
         where tenant_id = $1 and created_at >= b.start and created_at < b."end"
       ) facts
     ) i
     order by b.n`,
    factParams(range),
  );
  return rows;
}

export type WebhookBucketRow = {
  deliveries: number;
  succeeded: number;
  failed: number;
  pending: number;
  attempts: number;
  p95_latency_ms: number | null;
};

/**
 * Webhook deliveries per bucket of their created_at (when the event was queued), every event type,
 * and the attempts made in the bucket (attempted_at) with the 95th percentile of their HTTP request
 * time (params: tenant, bucket starts, bucket ends).
 */
export async function selectWebhookBuckets(db: Queryable, range: FactRange): Promise<WebhookBucketRow[]> {
  const { rows } = await db.query<WebhookBucketRow>(
    `select d.*, a.*
     from unnest($2::timestamptz[], $3::timestamptz[]) with ordinality as b (start, "end", n)
     cross join lateral (
       select count(*)::int as deliveries,
              count(*) filter (where status = 'succeeded')::int as succeeded,
              count(*) filter (where status = 'failed')::int as failed,
              count(*) filter (where status = 'pending')::int as pending
       from webhook_deliveries
       where tenant_id = $1 and created_at >= b.start and created_at < b."end"
     ) d
     cross join lateral (
       select count(*)::int as attempts, percentile_cont(0.95) within group (order by duration_ms) as p95_latency_ms
       from webhook_attempts
       where tenant_id = $1 and attempted_at >= b.start and attempted_at < b."end"
     ) a
     order by b.n`,
    factParams(range),
  );
  return rows;
}

export type FailureReasonRow = { kind: 'import' | 'webhook'; reason: string; count: number; example: string; last_at: Date };

/**
 * Why imports failed (imports.error) and why deliveries failed (their last error), created in
 * [from, to), grouped by the message with every run of digits made "N" ("line 12" and "line 40"
 * are one reason), except the status of a message that starts "HTTP 503": that one stays itself.
 * The most frequent first. Messages are grouped as they are first, so that the normalizing (a
 * regular expression) runs once per distinct message, not once per failure.
 */
export async function selectTopFailureReasons(
  db: Queryable,
  range: { tenantId: string; from: Date; to: Date; limit: number },
): Promise<FailureReasonRow[]> {
  const { rows } = await db.query<FailureReasonRow>(
    `select kind, reason, sum(n)::int as count, (array_agg(message order by last_at desc))[1] as example, max(last_at) as last_at
     from (
       select kind, message, count(*) as n, max(at) as last_at,
              case when message ~ '^HTTP [0-9]{3}'
                   then left(message, 8) || regexp_replace(substr(message, 9), '[0-9]+', 'N', 'g')
                   else regexp_replace(message, '[0-9]+', 'N', 'g') end as reason
       from (
         select 'import' as kind, coalesce(error, '(no message)') as message, created_at as at
         from imports
         where tenant_id = $1 and created_at >= $2 and created_at < $3 and status = 'failed'
         union all
         select 'webhook', coalesce(last_error, '(no message)'), created_at
         from webhook_deliveries
         where tenant_id = $1 and created_at >= $2 and created_at < $3 and status = 'failed'
       ) failures
       group by kind, message
     ) messages
     group by kind, reason
     order by count desc, kind, reason
     limit $4`,
    [range.tenantId, range.from, range.to, range.limit],
  );
  return rows;
}

/** Every time zone name the server knows (IANA names and their aliases), as the server spells them. */
export async function selectTimeZoneNames(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>('select name from pg_timezone_names');
  return rows.map((row) => row.name);
}
