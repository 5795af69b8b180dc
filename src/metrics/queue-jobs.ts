import type { Queryable } from '../db/pool.ts';

export type QueueJobCounts = { queued: number; locked: number; failed: number };

/**
 * One task's jobs in graphile-worker's table by state, in one query. Jobs are deleted when they
 * succeed, so the table holds only the waiting, running and failed ones: a short scan. Read from
 * the private table (graphile-worker 0.18), not the `jobs` view, which joins two more tables.
 * queued: not locked, attempts left (due now or later, a retry's backoff included); locked: a
 * worker runs it; failed: out of attempts, kept by graphile-worker until someone deletes it.
 */
export async function countQueueJobs(db: Queryable, task: string): Promise<QueueJobCounts> {
  const { rows } = await db.query<{ queued: number; locked: number; failed: number }>(
    `select count(*) filter (where j.locked_at is null and j.attempts < j.max_attempts)::int as queued,
            count(*) filter (where j.locked_at is not null)::int as locked,
            count(*) filter (where j.locked_at is null and j.attempts >= j.max_attempts)::int as failed
     from graphile_worker._private_jobs j
     where j.task_id = (select t.id from graphile_worker._private_tasks t where t.identifier = $1)`,
    [task],
  );
  return rows[0]!;
}
