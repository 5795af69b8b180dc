import { stringify } from 'csv-stringify/sync';
import type { Queryable } from '../db/pool.ts';
import { listImportErrors, type ImportRow } from './import-queries.ts';

const PAGE_SIZE = 1000;
// CSV injection: a cell a spreadsheet would evaluate as a formula (starting with = + - @, tab or
// CR, or the full-width ＝ ＋ － ＠) gets a ' prefix so it stays text. csv-stringify does it.
const CSV_OPTIONS = { escape_formulas: true };

/**
 * Writes errors.csv: the file's own header plus an error column, then each rejected record as
 * it was read, page by page so memory stays flat however many records were rejected.
 */
export async function writeErrorsCsv(
  db: Queryable,
  imp: Pick<ImportRow, 'id' | 'header'>,
  write: (chunk: string) => Promise<unknown>,
): Promise<void> {
  const header = imp.header ?? [];
  const errorColumn = header.some((name) => name.trim().toLowerCase() === 'error') ? 'import_error' : 'error';
  await write(stringify([[...header, errorColumn]], CSV_OPTIONS));
  let afterLine = 0;
  for (;;) {
    const rows = await listImportErrors(db, imp.id, { limit: PAGE_SIZE, afterLine });
    if (rows.length === 0) break;
    const records = rows.map((row) => [...row.raw_values, `line ${row.line}: ${row.message}`]);
    await write(stringify(records, CSV_OPTIONS));
    afterLine = Number(rows.at(-1)!.line);
    if (rows.length < PAGE_SIZE) break;
  }
}
