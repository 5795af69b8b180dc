import type { Queryable } from '../db/pool.ts';
import type { ColumnMapping, UploadOptions } from '../imports/import-options.ts';

export type TemplateRow = {
  id: string;
  tenant_id: string;
  name: string;
  mapping: ColumnMapping;
  /** Default upload options (all but template and mapping). */
  options: Partial<UploadOptions>;
  created_at: Date;
  updated_at: Date;
};

export async function findTemplateByName(db: Queryable, tenantId: string, name: string): Promise<TemplateRow | undefined> {
  const { rows } = await db.query<TemplateRow>('select * from import_templates where tenant_id = $1 and name = $2', [tenantId, name]);
  return rows[0];
}
