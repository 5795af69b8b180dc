import { InvalidInputError } from '../errors.ts';

export const STATS_PERIODS = ['hour', 'day', 'week'] as const;
export type StatsPeriod = (typeof STATS_PERIODS)[number];

/** More buckets than a chart can show, and a bound on what one request may make the database do. */
export const MAX_STATS_BUCKETS = 1000;

const HOUR_MS = 3_600_000;
/** Nominal lengths: a day across a DST change is 23 or 25 hours, which only matters to the cap. */
export const PERIOD_MS: Record<StatsPeriod, number> = { hour: HOUR_MS, day: 24 * HOUR_MS, week: 7 * 24 * HOUR_MS };

/** The range when `from` is not given: ending at `to`, as much as a chart of that period usually shows. */
export const DEFAULT_SPAN_MS: Record<StatsPeriod, number> = {
  hour: 48 * HOUR_MS,
  day: 30 * PERIOD_MS.day,
  week: 12 * PERIOD_MS.week,
};

/** Why a range is refused when it needs more buckets than MAX_STATS_BUCKETS. */
export function tooManyBuckets(period: StatsPeriod): InvalidInputError {
  return new InvalidInputError(
    `from–to needs more than ${MAX_STATS_BUCKETS} ${period} buckets: narrow the range or use a longer period (hour, day, week)`,
  );
}

/**
 * The range asked for, with its defaults (to = now, from = to minus the period's default span),
 * refused when it is empty or clearly longer than MAX_STATS_BUCKETS periods (the exact count, which
 * depends on alignment and DST, is checked on the buckets themselves). The buckets then cover it
 * whole: from the start of the bucket holding `from` to the end of the one holding `to`'s last instant.
 */
export function resolveStatsRange(period: StatsPeriod, asked: { from?: Date; to?: Date }, now: Date): { from: Date; to: Date } {
  const to = asked.to ?? now;
  const from = asked.from ?? new Date(to.getTime() - DEFAULT_SPAN_MS[period]);
  if (from.getTime() >= to.getTime()) {
    throw new InvalidInputError(`from (${from.toISOString()}) must be before to (${to.toISOString()})`);
  }
  // Two periods of slack for alignment and DST: this only keeps generate_series small.
  if (to.getTime() - from.getTime() > (MAX_STATS_BUCKETS + 2) * PERIOD_MS[period]) throw tooManyBuckets(period);
  return { from, to };
}
