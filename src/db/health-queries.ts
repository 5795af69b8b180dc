import type { Queryable } from './pool.ts';

export type DatabaseHealth = { migrationLevel: number; queueLagSeconds: number };

/**
 * What readiness reports, in one cheap round trip: the highest applied migration (NNN of
 * migrations/NNN_name.sql), and how long the oldest runnable job has waited, in seconds (0 when
 * none waits). Runnable as graphile-worker sees it: due (run_at passed), not locked, attempts
 * left — `is_available` is its generated column for the last two, and its partial index covers it.
 */
export async function readDatabaseHealth(db: Queryable): Promise<DatabaseHealth> {
  const { rows } = await db.query<{ migration_level: number | null; queue_lag_seconds: number }>(
    `select
       (select max(version) from lading_migrations) as migration_level,
       coalesce(extract(epoch from now() - (
         select min(run_at) from graphile_worker._private_jobs where is_available and run_at <= now()
       )), 0)::float8 as queue_lag_seconds`,
  );
  const row = rows[0]!;
  return { migrationLevel: row.migration_level ?? 0, queueLagSeconds: row.queue_lag_seconds };
}
