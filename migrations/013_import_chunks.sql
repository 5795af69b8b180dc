-- One large file, many workers (issue 17). An upload with IMPORT_CHUNK_BYTES set is cut, while it
-- streams, at record boundaries after whole batches (src/imports/chunk-boundaries.ts). The import's
-- own job reads the header, then each chunk after the first is parsed by a job of its own, on any
-- worker, into staged batches: exactly the batches one parser reading the whole file would make.
-- The import's job writes the batches in file order, parsing a chunk itself when no other worker
-- has started it, so the result is the single-worker result whatever ran where.

-- Chunk n (n >= 1) of an import: its bytes from start_byte to the next chunk's start (or the end).
-- Chunk 0 (from the header to chunk 1) is the import's own job's, and has no row.
create table import_chunks (
  import_id uuid not null references imports (id) on delete cascade,
  chunk integer not null check (chunk >= 1),
  start_byte bigint not null,
  -- The physical line it starts on, and the records of the file before it (for MAX_RECORDS).
  start_line bigint not null,
  records_before bigint not null,
  -- pending: no worker has it; parsing: a chunk job or the import's job is on it; staged: its
  -- batches are all in import_chunk_batches; merged: written by the import's job (or skipped).
  status text not null default 'pending' check (status in ('pending', 'parsing', 'staged', 'merged')),
  -- Who took it: a chunk job of its own (staging its batches), or the import's job (writing them at once).
  parsed_by text check (parsed_by in ('chunk-job', 'import-job')),
  -- A file-level error that ended its records (an unterminated quote …): its batches before it are staged.
  error text,
  primary key (import_id, chunk)
);

-- A staged batch, as the parser thread hands it over (batch-builder.ts EncodedBatch).
create table import_chunk_batches (
  import_id uuid not null,
  chunk integer not null,
  batch integer not null,
  copy bytea not null,
  rejected jsonb not null,
  valid_rows integer not null,
  processed integer not null,
  duplicates integer not null,
  checkpoint_byte bigint not null,
  checkpoint_line bigint not null,
  sku_lo text,
  sku_hi text,
  shares_skus boolean not null,
  primary key (import_id, chunk, batch),
  foreign key (import_id, chunk) references import_chunks (import_id, chunk) on delete cascade
);
