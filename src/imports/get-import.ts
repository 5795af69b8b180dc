import { isUuid } from '../db/is-uuid.ts';
import type { Queryable } from '../db/pool.ts';
import { NotFoundError } from '../errors.ts';
import { findImport, type ImportRow } from './import-queries.ts';

/** The tenant's import or 404: another tenant's id looks exactly like a missing one. */
export async function getImport(db: Queryable, tenantId: string, id: string): Promise<ImportRow> {
  const row = isUuid(id) ? await findImport(db, tenantId, id) : undefined;
  if (!row) throw new NotFoundError(`No import with id "${id}"`);
  return row;
}
