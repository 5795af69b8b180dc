import { z } from 'zod';
import { columnMappingSchema, templateOptionsSchema } from '../imports/import-options.ts';
import type { TemplateRow } from './template-queries.ts';

const time = z.iso.datetime();

/** A template as the API shows it. */
export const templateViewSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    mapping: columnMappingSchema,
    options: templateOptionsSchema,
    created_at: time,
    updated_at: time,
  })
  .meta({ id: 'Template' });

export type TemplateView = z.infer<typeof templateViewSchema>;

export function toTemplateView(row: TemplateRow): z.input<typeof templateViewSchema> {
  return {
    id: row.id,
    name: row.name,
    mapping: row.mapping,
    options: row.options,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
