import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Pool, Queryable } from '../db/pool.ts';
import { isProcessAlive } from '../is-process-alive.ts';
import type { Logger } from '../logger.ts';

export type WorkerRegistry = {
  register(workerId: string): Promise<void>;
  stop(): Promise<void>;
};

/** Jobs of an unregistered worker are left alone this long, in case its registration is in flight. */
const LOCK_GRACE_SECONDS = 10;

/**
 * Tracks which graphile-worker workers are alive so the jobs of dead ones are released at once.
 * A worker is dead when its process stopped heartbeating (staleAfterMs), or, on this host, as
 * soon as its process id no longer exists: a service killed with kill -9 and restarted at once
 * gets its imports back without waiting.
 */
export async function startWorkerRegistry(deps: { pool: Pool; logger: Logger; staleAfterMs: number }): Promise<WorkerRegistry> {
  const log = deps.logger.child({ component: 'worker-registry' });
  const processId = randomUUID();
  const hostname = os.hostname();

  const sweep = async () => {
    const released = await releaseJobsOfDeadWorkers(deps.pool, { hostname, staleAfterMs: deps.staleAfterMs });
    if (released.length > 0) log.warn({ workerIds: released }, 'released jobs locked by workers that are gone');
  };
  await sweep();
  const timer = setInterval(() => {
    heartbeat(deps.pool, processId)
      .then(sweep)
      .catch((error: unknown) => log.warn({ err: error }, 'worker heartbeat failed'));
  }, Math.max(1000, Math.floor(deps.staleAfterMs / 3)));
  timer.unref();

  return {
    async register(workerId) {
      await deps.pool.query(
        `insert into worker_registry (worker_id, process_id, hostname, pid) values ($1, $2, $3, $4)
         on conflict (worker_id) do update set heartbeat_at = now()`,
        [workerId, processId, hostname, process.pid],
      );
    },
    async stop() {
      clearInterval(timer);
      await deps.pool.query('delete from worker_registry where process_id = $1', [processId]);
    },
  };
}

async function heartbeat(db: Queryable, processId: string): Promise<void> {
  await db.query('update worker_registry set heartbeat_at = now() where process_id = $1', [processId]);
}

/** Finds the lock holders that are not alive and releases everything they hold. */
async function releaseJobsOfDeadWorkers(
  db: Queryable,
  options: { hostname: string; staleAfterMs: number },
): Promise<string[]> {
  const { rows } = await db.query<{
    locked_by: string;
    registered: boolean;
    hostname: string | null;
    pid: number | null;
    silent_ms: number | null;
    locked_ms: number;
  }>(
    `select j.locked_by, w.worker_id is not null as registered, w.hostname, w.pid,
       extract(epoch from now() - w.heartbeat_at) * 1000 as silent_ms,
       extract(epoch from now() - max(j.locked_at)) * 1000 as locked_ms
     from graphile_worker.jobs j
     left join worker_registry w on w.worker_id = j.locked_by
     where j.locked_by is not null
     group by j.locked_by, w.worker_id, w.hostname, w.pid, w.heartbeat_at`,
  );
  const dead = rows
    .filter((row) =>
      row.registered
        ? row.silent_ms! > options.staleAfterMs || (row.hostname === options.hostname && !isProcessAlive(row.pid!))
        : row.locked_ms > LOCK_GRACE_SECONDS * 1000,
    )
    .map((row) => row.locked_by);
  if (dead.length > 0) {
    await db.query('select graphile_worker.force_unlock_workers($1::text[])', [dead]);
    await db.query('delete from worker_registry where worker_id = any ($1::text[])', [dead]);
  }
  return dead;
}
