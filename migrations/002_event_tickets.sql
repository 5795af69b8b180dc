-- Single-use tickets that let a browser open an event WebSocket without putting its API key in
-- a URL: POST …/events/ticket (with the key in a header) → ?ticket=… within 60 seconds, once.
create table event_tickets (
  token_hash bytea primary key,
  tenant_id bigint not null references tenants (id),
  api_key_id bigint not null references api_keys (id),
  -- null: a ticket for the tenant-wide stream GET /v1/events
  import_id uuid references imports (id) on delete cascade,
  expires_at timestamptz not null,
  used_at timestamptz
);
create index event_tickets_expires on event_tickets (expires_at);
