-- graphile-worker only releases a dead worker's jobs after a 4-hour lock expiry. Each process
-- registers its graphile-worker worker ids here and heartbeats; jobs locked by workers that are
-- not alive are released at once (graphile_worker.force_unlock_workers), so an import killed by
-- a crash or a deploy resumes on the next start instead of hours later.
create table worker_registry (
  worker_id text primary key,
  process_id text not null,
  hostname text not null,
  pid integer not null,
  heartbeat_at timestamptz not null default now()
);
create index worker_registry_process on worker_registry (process_id);
