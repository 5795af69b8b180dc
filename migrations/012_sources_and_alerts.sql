-- source=NAME: the supplier or feed an import came from. An import of a source is compared with
-- that source's previous successful import when it ends (schema drift, src/alerts/).
alter table imports add column source text;
-- The mapping as the upload asked for it (its own over its template's): `mapping` becomes the
-- applied one once the header is read, and drift needs to know whether a mapping was given.
alter table imports add column requested_mapping jsonb;
-- What the drift check found when the import ended (null: nothing changed, or nothing to compare).
alter table imports add column schema_drift jsonb;

-- GET /v1/imports?source=NAME, newest first (keyset on created_at, id like the unfiltered list).
create index imports_source_newest on imports (tenant_id, source, created_at desc, id desc) where source is not null;
-- The previous successful import of a source: the baseline a finishing import is compared with.
create index imports_source_last_succeeded on imports (tenant_id, source, finished_at desc)
  where status = 'succeeded' and source is not null;

-- Things an operator should look at: a source whose columns changed, a webhook endpoint disabled
-- after failing. One open alert per (tenant, kind, signature): the same problem again bumps
-- occurrences and last_seen_at instead of raising another; once acknowledged, a new occurrence
-- opens a new alert.
create table alerts (
  id uuid primary key default gen_random_uuid(),
  tenant_id bigint not null references tenants (id),
  kind text not null check (kind in ('schema_drift', 'webhook_endpoint_disabled')),
  -- Stable for the same problem: a hash of source, added and removed columns; an endpoint's id.
  signature text not null,
  status text not null default 'open' check (status in ('open', 'acknowledged')),
  title text not null,
  message text not null,
  details jsonb not null default '{}',
  occurrences integer not null default 1 check (occurrences >= 1),
  first_seen_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  -- Any change (raised, repeated, acknowledged): what a live stream re-reads after a gap.
  updated_at timestamptz not null default now(),
  acknowledged_at timestamptz,
  acknowledged_by bigint references api_keys (id),
  check ((status = 'acknowledged') = (acknowledged_at is not null))
);
create unique index alerts_one_open on alerts (tenant_id, kind, signature) where status = 'open';
create index alerts_tenant_newest on alerts (tenant_id, first_seen_at desc, id desc);
create index alerts_tenant_updated on alerts (tenant_id, updated_at);
