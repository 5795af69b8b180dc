-- The rows of an atomic or dry-run import, held until it ends: an atomic import then writes them
-- into products in the transaction that marks it succeeded, a dry run only counts what they would
-- change; either way they are deleted then (and when the import fails or is cancelled). Batches
-- commit here with their checkpoints, so a killed job resumes as any other.
create table import_held_rows (like products including defaults);
alter table import_held_rows alter column last_import_id set not null;
alter table import_held_rows add primary key (last_import_id, sku);
alter table import_held_rows alter column sku type text collate "C";
