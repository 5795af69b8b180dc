-- What an upload asked for, and what the import decided, shown on the import.
-- options: the upload's options after its template's defaults (dry_run, atomic, max_errors …);
-- mapping: file column → product field (or null: ignored), as applied when the header was read;
-- encoding and delimiter: as requested, then as detected.
alter table imports add column options jsonb not null default '{}';
alter table imports add column mapping jsonb;
alter table imports add column encoding text;
alter table imports add column delimiter text;
-- What was uploaded: csv (text, after any gzip) or xlsx (converted to CSV by the job before it reads).
alter table imports add column file_format text not null default 'csv' check (file_format in ('csv', 'xlsx'));

-- Saved mappings and default options, applied with ?template=NAME.
create table import_templates (
  id uuid primary key default gen_random_uuid(),
  tenant_id bigint not null references tenants (id),
  name text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$'),
  mapping jsonb not null default '{}',
  options jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (tenant_id, name)
);
