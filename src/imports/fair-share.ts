import type { Queryable } from '../db/pool.ts';

// Fair turns across tenants (issue 17): one tenant's backlog of large files must not keep another
// tenant's upload waiting. Two parts, both on graphile-worker's own queue:
//  - a job's priority is its import's place among its tenant's unfinished imports (0: the oldest),
//    so a tenant's first upload goes before another tenant's tenth whatever their ages
//    (graphile-worker runs the lowest priority first, then the oldest);
//  - a running import whose tenant holds more running jobs than a tenant with a job waiting
//    yields at its next batch boundary (after a short slice), re-enqueued like a paused import,
//    so the waiting tenant gets the slot within seconds even when every slot is taken.

/** SQL: the priority of a job of import `$importParam` (a uuid parameter reference such as `$2`). */
export function jobPrioritySql(importParam: string): string {
  return `(select count(*)::int from imports me join imports o on o.tenant_id = me.tenant_id
           where me.id = ${importParam}::uuid and o.id <> me.id and o.status in ('queued', 'processing')
             and (o.created_at, o.id) < (me.created_at, me.id))`;
}

// A running import runs at least this long before it yields: resuming costs ~0.1 s (the header,
// a parser thread, connections), so slices shorter than a few seconds would waste the slot.
export const MIN_SLICE_MS = 2000;
// How often a running import asks whether it should yield.
export const CHECK_EVERY_MS = 1000;

/**
 * (graphile-worker's private table, as src/metrics/queue-jobs.ts reads it: its `jobs` view has
 * no payload.) Whether a running import of `tenantId` should give its slot up: some other tenant has an import
 * or chunk job due and waiting, and fewer jobs running than this tenant.
 */
export async function shouldYield(db: Queryable, tenantId: string): Promise<boolean> {
  const { rows } = await db.query<{ yield: boolean }>(
    `with jobs as (
       select j.locked_at is not null as running, i.tenant_id
       from graphile_worker._private_jobs j
       join graphile_worker._private_tasks t on t.id = j.task_id
       join imports i on i.id = (j.payload ->> 'importId')::uuid
       where t.identifier in ('import_products_csv', 'import_chunk')
         and (j.locked_at is not null or (j.run_at <= now() and j.attempts < j.max_attempts))
     ), running as (
       select tenant_id, count(*) filter (where running) as n from jobs group by tenant_id
     )
     select exists (
       select from jobs w join running r on r.tenant_id = w.tenant_id
       where not w.running and w.tenant_id <> $1
         and r.n < coalesce((select n from running where tenant_id = $1), 0)
     ) as yield`,
    [tenantId],
  );
  return rows[0]!.yield;
}
