import type { Pool } from '../db/pool.ts';
import { selectBuckets, selectImportBuckets, selectTopFailureReasons, selectWebhookBuckets, type FailureReasonRow } from './stats-queries.ts';
import { MAX_STATS_BUCKETS, resolveStatsRange, tooManyBuckets, type StatsPeriod } from './stats-range.ts';
import type { TimeZones } from './time-zones.ts';

export const TOP_FAILURE_REASONS = 10;

export type StatsQuery = { period: StatsPeriod; from?: Date; to?: Date; tz?: string };

export type StatsBucket = {
  start: Date;
  end: Date;
  imports: {
    total: number;
    queued: number;
    processing: number;
    succeeded: number;
    failed: number;
    cancelled: number;
    success_rate: number | null;
    p50_duration_ms: number | null;
    p95_duration_ms: number | null;
    rows_per_second: number | null;
  };
  rows: { inserted: number; updated: number; unchanged: number; rejected: number };
  webhooks: {
    deliveries: number;
    succeeded: number;
    failed: number;
    pending: number;
    success_rate: number | null;
    attempts: number;
    p95_latency_ms: number | null;
  };
};

export type Stats = {
  period: StatsPeriod;
  tz: string;
  from: Date;
  to: Date;
  buckets: StatsBucket[];
  top_failure_reasons: FailureReasonRow[];
};

/** A share of a whole, or null when there is nothing to divide (a chart leaves a gap, not a 0). */
const rate = (part: number, whole: number) => (whole > 0 ? part / whole : null);
/** Whole milliseconds: sub-millisecond digits of a duration are noise to a reader. */
const toMs = (seconds: number | null) => (seconds === null ? null : Math.round(seconds * 1000));

/**
 * A tenant's statistics over a range: every bucket of it (empty ones with zeros, so a chart has no
 * holes) and the most frequent failure reasons over the whole of it. Read from the facts with three
 * queries at once, on their own connections.
 */
export async function getStats(deps: { pool: Pool; timeZones: TimeZones }, tenantId: string, query: StatsQuery, now = new Date()): Promise<Stats> {
  const tz = await deps.timeZones.resolve(query.tz ?? 'UTC');
  const asked = resolveStatsRange(query.period, query, now);
  const buckets = await selectBuckets(deps.pool, { period: query.period, tz, ...asked });
  if (buckets.length > MAX_STATS_BUCKETS) throw tooManyBuckets(query.period);
  const from = buckets[0]!.start;
  const to = buckets.at(-1)!.end;

  const [imports, webhooks, reasons] = await Promise.all([
    selectImportBuckets(deps.pool, { tenantId, buckets }),
    selectWebhookBuckets(deps.pool, { tenantId, buckets }),
    selectTopFailureReasons(deps.pool, { tenantId, from, to, limit: TOP_FAILURE_REASONS }),
  ]);

  return {
    period: query.period,
    tz,
    from,
    to,
    buckets: buckets.map(({ start, end }, index): StatsBucket => {
      const i = imports[index]!;
      const w = webhooks[index]!;
      const [p50, p95] = i.duration_seconds ?? [null, null];
      return {
        start,
        end,
        imports: {
          total: i.total,
          queued: i.queued,
          processing: i.processing,
          succeeded: i.succeeded,
          failed: i.failed,
          cancelled: i.cancelled,
          success_rate: rate(i.succeeded, i.succeeded + i.failed),
          p50_duration_ms: toMs(p50),
          p95_duration_ms: toMs(p95),
          rows_per_second: i.seconds_ended > 0 ? Math.round((i.rows_processed_ended / i.seconds_ended) * 10) / 10 : null,
        },
        rows: { inserted: i.rows_inserted, updated: i.rows_updated, unchanged: i.rows_unchanged, rejected: i.rows_rejected },
        webhooks: {
          deliveries: w.deliveries,
          succeeded: w.succeeded,
          failed: w.failed,
          pending: w.pending,
          success_rate: rate(w.succeeded, w.succeeded + w.failed),
          attempts: w.attempts,
          p95_latency_ms: w.p95_latency_ms === null ? null : Math.round(w.p95_latency_ms),
        },
      };
    }),
    top_failure_reasons: reasons,
  };
}
