import type { Queryable } from '../db/pool.ts';
import { getImport } from './get-import.ts';
import { listImportErrors, listImports, type ImportErrorRow, type ImportStatus, type ListedImportRow } from './import-queries.ts';

/**
 * A page of the tenant's imports, newest first, after the (exact created_at, id) of the previous
 * page's last; only those with the status and of the source, when given.
 */
export function listTenantImports(
  db: Queryable,
  tenantId: string,
  page: { limit: number; after?: { createdAt: string; id: string }; status?: ImportStatus; source?: string },
): Promise<ListedImportRow[]> {
  return listImports(db, tenantId, page);
}

/** A page of an import's rejected records by line; 404 when the import is not the tenant's. */
export async function listRejectedRecords(
  db: Queryable,
  tenantId: string,
  importId: string,
  page: { limit: number; afterLine?: number },
): Promise<ImportErrorRow[]> {
  const imp = await getImport(db, tenantId, importId);
  return listImportErrors(db, imp.id, page);
}
