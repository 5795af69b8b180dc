-- Who did what, append-only: updates, deletes and truncation are refused by triggers.
create table audit_log (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id),
  api_key_id bigint references api_keys (id),
  -- 'api' (through an API key) or 'cli' (npm run apikey …)
  via text not null check (via in ('api', 'cli')),
  action text not null,
  target_type text not null,
  target_id text not null,
  request_id text,
  details jsonb not null default '{}',
  created_at timestamptz not null default now()
);
create index audit_log_tenant on audit_log (tenant_id, id desc);

create function audit_log_is_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'audit_log is append-only';
end
$$;
create trigger audit_log_no_update_or_delete before update or delete on audit_log
  for each row execute function audit_log_is_append_only();
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function audit_log_is_append_only();

-- Idempotency-Key on POST /v1/imports: the same key and content within 24 h give back the
-- import the first request created. The unique key makes concurrent retries wait on each other.
create table idempotency_keys (
  tenant_id bigint not null references tenants (id),
  key text not null,
  sha256 text not null,
  import_id uuid not null references imports (id),
  created_at timestamptz not null default now(),
  primary key (tenant_id, key)
);
