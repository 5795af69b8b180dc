import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { Pool } from '../../db/pool.ts';
import { getStats, TOP_FAILURE_REASONS, type Stats } from '../../stats/get-stats.ts';
import { DEFAULT_SPAN_MS, MAX_STATS_BUCKETS, STATS_PERIODS } from '../../stats/stats-range.ts';
import { timeZoneLookup } from '../../stats/time-zones.ts';
import type { AppEnv } from '../app-env.ts';
import { bearerSecurity, errorResponses, json } from '../openapi.ts';

const count = z.number().int().min(0);
const share = z.number().min(0).max(1).nullable();
const ms = z.number().int().min(0).nullable();
const dateTime = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time such as 2024-05-01T00:00:00Z' });

const bucketSchema = z
  .object({
    start: z.iso.datetime().meta({ description: 'Start of the bucket (UTC), inclusive' }),
    end: z.iso.datetime().meta({ description: 'End of the bucket (UTC), exclusive: the next bucket’s start' }),
    imports: z.object({
      total: count.meta({ description: 'Imports created in the bucket, whatever their status now' }),
      queued: count,
      processing: count,
      succeeded: count,
      failed: count,
      cancelled: count,
      success_rate: share.meta({ description: 'succeeded / (succeeded + failed); cancelled and unfinished imports are left out; null when none' }),
      p50_duration_ms: ms.meta({ description: 'Median of started_at → finished_at of the succeeded and failed imports, in whole ms; null when none' }),
      p95_duration_ms: ms.meta({ description: '95th percentile (interpolated) of the same durations' }),
      rows_per_second: z.number().min(0).nullable().meta({ description: 'Rows processed / seconds taken, over the same imports (one decimal)' }),
    }),
    rows: z
      .object({ inserted: count, updated: count, unchanged: count, rejected: count })
      .meta({ description: 'Row outcomes of the bucket’s imports (of every status, so far); dry runs, which write nothing, are left out' }),
    webhooks: z.object({
      deliveries: count.meta({ description: 'Webhook deliveries queued in the bucket (every event type, test events too)' }),
      succeeded: count,
      failed: count,
      pending: count.meta({ description: 'Not finished yet: waiting for its first attempt or a retry' }),
      success_rate: share.meta({ description: 'succeeded / (succeeded + failed); null when none has finished' }),
      attempts: count.meta({ description: 'HTTP attempts made in the bucket (by attempted_at), retries included' }),
      p95_latency_ms: ms.meta({ description: '95th percentile (interpolated) of those attempts’ request durations, sent to answered or timed out; null when none' }),
    }),
  })
  .meta({ id: 'StatsBucket' });

const failureReasonSchema = z
  .object({
    kind: z.enum(['import', 'webhook']).meta({ description: 'import: why an import failed (its error); webhook: why a delivery failed (its last error)' }),
    reason: z.string().meta({
      description: 'The message with every number made N (so "line 12" and "line 40" are one reason), HTTP statuses kept',
      example: 'Unterminated quoted field in the record starting on line N: a closing " is missing',
    }),
    count,
    example: z.string().meta({ description: 'The most recent message of this reason, as it was' }),
    last_at: z.iso.datetime().meta({ description: 'When the most recent of them was created' }),
  })
  .meta({ id: 'StatsFailureReason' });

export const statsSchema = z
  .object({
    period: z.enum(STATS_PERIODS),
    tz: z.string(),
    from: z.iso.datetime().meta({ description: 'Start of the first bucket: the range asked for, widened to whole buckets' }),
    to: z.iso.datetime().meta({ description: 'End of the last bucket' }),
    buckets: z.array(bucketSchema).meta({ description: 'Every bucket of the range, oldest first; an empty one has zeros and nulls' }),
    top_failure_reasons: z.array(failureReasonSchema).meta({ description: `At most ${TOP_FAILURE_REASONS}, over the whole range, most frequent first` }),
  })
  .meta({ id: 'Stats' });

const HOUR_MS = 3_600_000;
const DEFAULT_FROM =
  `Default: to minus ${DEFAULT_SPAN_MS.hour / HOUR_MS} hours (period=hour), ${DEFAULT_SPAN_MS.day / (24 * HOUR_MS)} days (day) ` +
  `or ${DEFAULT_SPAN_MS.week / (7 * 24 * HOUR_MS)} weeks (week)`;

/** GET /v1/stats: the tenant's import and webhook statistics per hour, day or week. */
export function statsRoutes(deps: { pool: Pool }) {
  const timeZones = timeZoneLookup(deps.pool);
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['stats'],
      summary: 'Import and webhook statistics per hour, day or week',
      description:
        'An import counts in the bucket of its created_at (so queued and running ones show too, with their rows so far), a webhook ' +
        'delivery in the bucket of its created_at (when its event was queued), a webhook attempt in the bucket of its attempted_at. ' +
        'Buckets are in UTC unless tz names a zone: days and weeks (ISO weeks, from Monday) then start at local midnight, and a day ' +
        `across a DST change lasts 23 or 25 hours. The range is widened to whole buckets; at most ${MAX_STATS_BUCKETS} buckets. ` +
        'Computed from the imports, deliveries and attempts on each request, so always up to date.',
      security: bearerSecurity,
      request: {
        query: z.object({
          period: z.enum(STATS_PERIODS, { error: 'must be hour, day or week' }).default('day'),
          from: dateTime.optional().meta({ description: DEFAULT_FROM }),
          to: dateTime.optional().meta({ description: 'Default: now' }),
          tz: z.string().min(1).max(100).optional().meta({ description: 'An IANA time zone name for the bucket boundaries; default UTC', example: 'Europe/Paris' }),
        }),
      },
      responses: { 200: json(statsSchema, 'The buckets of the range and the top failure reasons'), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const stats = await getStats({ pool: deps.pool, timeZones }, c.var.principal.tenantId, {
        period: query.period,
        from: query.from === undefined ? undefined : new Date(query.from),
        to: query.to === undefined ? undefined : new Date(query.to),
        tz: query.tz,
      });
      return c.json(toJson(stats), 200);
    },
  );
  return app;
}

function toJson(stats: Stats): z.infer<typeof statsSchema> {
  return {
    ...stats,
    from: stats.from.toISOString(),
    to: stats.to.toISOString(),
    buckets: stats.buckets.map((bucket) => ({ ...bucket, start: bucket.start.toISOString(), end: bucket.end.toISOString() })),
    top_failure_reasons: stats.top_failure_reasons.map((reason) => ({ ...reason, last_at: reason.last_at.toISOString() })),
  };
}
