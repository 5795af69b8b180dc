import { recordAudit, type Actor } from '../audit/audit-log.ts';
import { withTransaction, type Pool } from '../db/pool.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors.ts';
import type { ColumnMapping, TemplateOptions } from '../imports/import-options.ts';
import { deleteTemplate, findTemplateByName, insertTemplate, listTemplates, replaceTemplate, type TemplateRow } from './template-queries.ts';

// Saved mappings and default upload options, per tenant, applied to an upload with ?template=NAME
// (create-import.ts): the upload's own options and mapping entries win.

/** What migrations/009 allows: 1–100 characters, letters, digits, space, _ . -, not starting with a symbol. */
export const TEMPLATE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$/;
export const TEMPLATE_NAME_RULE = 'must be 1–100 letters, digits, spaces, _ . or -, starting with a letter or digit';

export type TemplateInput = { mapping?: ColumnMapping; options?: TemplateOptions };

const notFound = (name: string) => new NotFoundError(`No template named "${name}"`);

export function listImportTemplates(pool: Pool, tenantId: string): Promise<TemplateRow[]> {
  return listTemplates(pool, tenantId);
}

export async function getImportTemplate(pool: Pool, tenantId: string, name: string): Promise<TemplateRow> {
  const row = await findTemplateByName(pool, tenantId, name);
  if (!row) throw notFound(name);
  return row;
}

export async function createImportTemplate(pool: Pool, actor: Actor, input: TemplateInput & { name: string }): Promise<TemplateRow> {
  if (!TEMPLATE_NAME_PATTERN.test(input.name)) throw new InvalidInputError(`name ${TEMPLATE_NAME_RULE}`);
  const values = checked(input);
  return withTransaction(pool, async (client) => {
    const row = await insertTemplate(client, { tenantId: actor.tenantId, name: input.name, ...values });
    if (!row) {
      throw new ConflictError(`A template named "${input.name}" already exists: PUT /v1/templates/{name} replaces it`);
    }
    await recordAudit(client, actor, {
      action: 'template.created',
      targetType: 'import_template',
      targetId: row.id,
      details: { name: row.name, ...values },
    });
    return row;
  });
}

/** Replaces the mapping and the options: what the body leaves out is gone. */
export async function replaceImportTemplate(pool: Pool, actor: Actor, name: string, input: TemplateInput): Promise<TemplateRow> {
  const values = checked(input);
  return withTransaction(pool, async (client) => {
    const row = await replaceTemplate(client, { tenantId: actor.tenantId, name, ...values });
    if (!row) throw notFound(name);
    await recordAudit(client, actor, {
      action: 'template.changed',
      targetType: 'import_template',
      targetId: row.id,
      details: { name, ...values },
    });
    return row;
  });
}

export async function removeImportTemplate(pool: Pool, actor: Actor, name: string): Promise<void> {
  await withTransaction(pool, async (client) => {
    const row = await deleteTemplate(client, actor.tenantId, name);
    if (!row) throw notFound(name);
    await recordAudit(client, actor, { action: 'template.deleted', targetType: 'import_template', targetId: row.id, details: { name } });
  });
}

/** Column names are matched case-insensitively after trimming, so two keys may not name one column differently. */
function checked(input: TemplateInput): { mapping: ColumnMapping; options: TemplateOptions } {
  const mapping = input.mapping ?? {};
  const seen = new Map<string, string>();
  for (const [column, field] of Object.entries(mapping)) {
    const key = column.trim().toLowerCase();
    const earlier = seen.get(key);
    if (key === '') throw new InvalidInputError('mapping: a column name must not be blank');
    if (earlier !== undefined && mapping[earlier] !== field) {
      throw new InvalidInputError(`mapping names one column twice, "${earlier}" and "${column}", with different fields`);
    }
    seen.set(key, column);
  }
  return { mapping, options: input.options ?? {} };
}
