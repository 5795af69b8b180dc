-- Tenants own everything: keys, imports, products. Every query is scoped by tenant_id.
create table tenants (
  id bigint generated always as identity primary key,
  name text not null unique check (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$'),
  created_at timestamptz not null default now()
);

-- Only a SHA-256 of each key is stored; keys are 256-bit random, so a slow hash adds nothing.
create table api_keys (
  id bigint generated always as identity primary key,
  tenant_id bigint not null references tenants (id),
  name text not null default '',
  prefix text not null,
  key_hash bytea not null unique,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_keys_tenant on api_keys (tenant_id);

create table imports (
  id uuid primary key default gen_random_uuid(),
  tenant_id bigint not null references tenants (id),
  api_key_id bigint references api_keys (id),
  status text not null default 'queued'
    check (status in ('queued', 'processing', 'succeeded', 'failed', 'cancelled')),
  filename text,
  file_path text not null,
  bytes bigint not null,
  sha256 text not null,
  rows_processed bigint not null default 0,
  rows_inserted bigint not null default 0,
  rows_updated bigint not null default 0,
  rows_rejected bigint not null default 0,
  batches_committed integer not null default 0,
  -- The file's header line as sent, so errors.csv can give rejected records back in their own columns.
  header text[],
  warnings text[] not null default '{}',
  error text,
  -- Where the next uncommitted record starts in the file; written in the same
  -- transaction as each batch so a re-run job continues instead of repeating.
  checkpoint_byte bigint not null default 0,
  checkpoint_line bigint not null default 0,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
create index imports_tenant_newest on imports (tenant_id, created_at desc, id desc);

-- One row per rejected CSV record: the physical line where the record starts (header = 1).
create table import_errors (
  import_id uuid not null references imports (id) on delete cascade,
  line bigint not null,
  column_name text,
  message text not null,
  raw_values text[] not null,
  primary key (import_id, line)
);

create table products (
  tenant_id bigint not null references tenants (id),
  sku text not null,
  name text not null,
  description text,
  price numeric(14, 2) check (price >= 0),
  currency text check (currency ~ '^[A-Z]{3}$'),
  quantity integer check (quantity >= 0),
  category text,
  status text not null default 'active' check (status in ('active', 'inactive', 'archived')),
  updated_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  last_import_id uuid,
  primary key (tenant_id, sku)
);
