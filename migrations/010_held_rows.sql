-- The rows of an atomic or dry-run import, held until it ends: an atomic import then writes them
-- into products in the transaction that marks it succeeded, a dry run only counts what they would
-- change; either way they are deleted then (and when the import fails or is cancelled). Batches
-- commit here with their checkpoints, so a killed job resumes as any other.
-- Unlogged: held rows are written once more at the end, and skipping their WAL is what keeps an
-- atomic import near the time of a plain one. PostgreSQL empties unlogged tables after a crash of
-- its own; imports.rows_held counts what should be here, and an import that finds fewer held rows
-- at its end starts again from its first record (settle-held-rows.ts).
create unlogged table import_held_rows (like products including defaults);
alter table import_held_rows alter column last_import_id set not null;
alter table import_held_rows add primary key (last_import_id, sku);
alter table import_held_rows alter column sku type text collate "C";
alter table imports add column rows_held bigint not null default 0;
