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

export async function listTemplates(db: Queryable, tenantId: string): Promise<TemplateRow[]> {
  const { rows } = await db.query<TemplateRow>('select * from import_templates where tenant_id = $1 order by name limit 1000', [tenantId]);
  return rows;
}

/** Undefined when the tenant already has a template of that name. */
export async function insertTemplate(
  db: Queryable,
  input: { tenantId: string; name: string; mapping: ColumnMapping; options: Partial<UploadOptions> },
): Promise<TemplateRow | undefined> {
  const { rows } = await db.query<TemplateRow>(
    `insert into import_templates (tenant_id, name, mapping, options) values ($1, $2, $3, $4)
     on conflict (tenant_id, name) do nothing
     returning *`,
    [input.tenantId, input.name, input.mapping, input.options],
  );
  return rows[0];
}

/** Replaces mapping and options; undefined when the tenant has no template of that name. */
export async function replaceTemplate(
  db: Queryable,
  input: { tenantId: string; name: string; mapping: ColumnMapping; options: Partial<UploadOptions> },
): Promise<TemplateRow | undefined> {
  const { rows } = await db.query<TemplateRow>(
    `update import_templates set mapping = $3, options = $4, updated_at = now()
     where tenant_id = $1 and name = $2
     returning *`,
    [input.tenantId, input.name, input.mapping, input.options],
  );
  return rows[0];
}

export async function deleteTemplate(db: Queryable, tenantId: string, name: string): Promise<TemplateRow | undefined> {
  const { rows } = await db.query<TemplateRow>('delete from import_templates where tenant_id = $1 and name = $2 returning *', [
    tenantId,
    name,
  ]);
  return rows[0];
}
