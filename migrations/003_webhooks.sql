-- Endpoints integrators register; the secret is needed in clear to sign, so it is stored as is:
-- protect the database (and its backups) accordingly.
create table webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  tenant_id bigint not null references tenants (id),
  url text not null,
  description text not null default '',
  events text[] not null,
  secret text not null,
  -- After a rotation the old secret keeps signing alongside the new one until it expires.
  previous_secret text,
  previous_secret_expires_at timestamptz,
  enabled boolean not null default true,
  disabled_reason text,
  disabled_at timestamptz,
  consecutive_failures integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index webhook_endpoints_tenant on webhook_endpoints (tenant_id, created_at);

-- The outbox: one row per event per endpoint, written in the transaction that makes the event
-- true (an import's terminal status), so a crash can neither lose it nor issue it twice.
create table webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
  tenant_id bigint not null references tenants (id),
  event_id text not null,
  event_type text not null,
  -- The exact bytes that are signed and sent on every attempt.
  body text not null,
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  attempt_count integer not null default 0,
  -- Attempts since the delivery was (re)started; the retry schedule is counted on these.
  round_attempts integer not null default 0,
  next_attempt_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  unique (endpoint_id, event_id)
);
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, created_at desc, id desc);

create table webhook_attempts (
  id bigint generated always as identity primary key,
  delivery_id uuid not null references webhook_deliveries (id) on delete cascade,
  attempted_at timestamptz not null,
  status_code integer,
  duration_ms integer not null,
  -- The first KiB of the response, for debugging.
  response_body text,
  error text
);
create index webhook_attempts_delivery on webhook_attempts (delivery_id, id);
