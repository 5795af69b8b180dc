import { z } from 'zod';
import { PRODUCT_FIELDS } from '../products/product-values.ts';

// What an upload can ask for: one definition, read from the query string (or multipart fields
// sent before the file), merged over a template's defaults, stored on the import (`options`,
// `mapping`, `encoding`) and shown on it. Values arrive as text, so booleans and numbers are read
// from their text forms.

export const ENCODINGS = ['auto', 'utf-8', 'windows-1252', 'iso-8859-1', 'utf-16le', 'utf-16be'] as const;
export type Encoding = (typeof ENCODINGS)[number];

const flag = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1');

/** `{"file column": "field" | null}`: null ignores the column; unnamed file columns fall back to names and aliases. */
export const columnMappingSchema = z
  .record(z.string().min(1).max(1000), z.enum(PRODUCT_FIELDS).nullable())
  .meta({
    id: 'ColumnMapping',
    description: 'File column (as in the header, matched case-insensitively after trimming) → product field, or null to ignore it',
    example: { 'Product Name': 'name', 'SKU Code': 'sku', Notes: null },
  });
export type ColumnMapping = z.infer<typeof columnMappingSchema>;

const mappingParam = z.string().transform((text, ctx): ColumnMapping => {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    ctx.issues.push({ code: 'custom', input: text, message: 'must be a JSON object {"file column": "field" | null}' });
    return z.NEVER;
  }
  const parsed = columnMappingSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  ctx.issues.push({
    code: 'custom',
    input: text,
    message: `must map file columns to one of ${PRODUCT_FIELDS.join(', ')} or null`,
  });
  return z.NEVER;
});

export const SOURCE_RULE = 'must be 1–100 characters without control characters (a supplier or feed name)';
/** A source name: trimmed; what GET /v1/imports?source= filters on too. */
export const sourceName = z
  .string()
  .trim()
  .min(1, { error: SOURCE_RULE })
  .max(100, { error: SOURCE_RULE })
  .regex(/^[^\p{Cc}]*$/u, { error: SOURCE_RULE });

/** The options as an upload sends them (query parameters or multipart fields): all optional. */
export const uploadOptionsSchema = z.object({
  template: z.string().min(1).max(100).optional().meta({ description: 'Name of a saved template (/v1/templates) to apply' }),
  source: sourceName.optional().meta({
    description: 'The supplier or feed the file comes from (1–100 characters): the import is compared with this source’s previous successful import (schema drift)',
    example: 'acme',
  }),
  mapping: mappingParam.optional().meta({ description: 'JSON object: file column → field or null; wins over the template' }),
  header_row: z.coerce
    .number({ error: 'must be a whole number from 1 to 1000' })
    .int({ error: 'must be a whole number from 1 to 1000' })
    .min(1, { error: 'must be a whole number from 1 to 1000' })
    .max(1000, { error: 'must be a whole number from 1 to 1000' })
    .optional()
    .meta({ description: 'Line of the header; the lines above it (titles, notes) are skipped. Default 1' }),
  encoding: z.enum(ENCODINGS, { error: `must be one of ${ENCODINGS.join(', ')}` }).optional()
    .meta({ description: 'Text encoding of the file; auto (default) reads a BOM, else UTF-8, else Windows-1252' }),
  sheet: z.string().min(1).max(255).optional().meta({ description: 'Worksheet of an .xlsx upload; default the first' }),
  dry_run: flag.optional().meta({ description: 'Check everything, count what would change, write no product' }),
  atomic: flag.optional().meta({ description: 'All or nothing: no product changes unless the whole import succeeds' }),
  max_errors: z.coerce
    .number({ error: 'must be a whole number ≥ 0' })
    .int({ error: 'must be a whole number ≥ 0' })
    .min(0, { error: 'must be a whole number ≥ 0' })
    .optional()
    .meta({ description: 'Stop (failed) once more records than this are rejected' }),
  max_error_rate: z.coerce
    .number({ error: 'must be a number from 0 to 1' })
    .min(0, { error: 'must be a number from 0 to 1' })
    .max(1, { error: 'must be a number from 0 to 1' })
    .optional()
    .meta({ description: 'Stop (failed) once this share of records is rejected (checked from 1000 records on)' }),
});
export type UploadOptions = z.infer<typeof uploadOptionsSchema>;

// The same options in a JSON body (a template's defaults): numbers and booleans as JSON values,
// turned into their text form and checked by the upload's own rules, so both read alike.
const text = uploadOptionsSchema.shape;
// The text rules take strings (the casts say so; optional() lets undefined through, never reached).
type TextRule<K extends keyof typeof text> = z.ZodType<z.output<(typeof text)[K]>, string>;
const jsonNumber = <K extends 'header_row' | 'max_errors' | 'max_error_rate'>(option: K) =>
  (option === 'max_error_rate' ? z.number({ error: 'must be a number' }) : z.int({ error: 'must be a whole number' }))
    .transform(String)
    .pipe(text[option] as unknown as TextRule<K>)
    .optional()
    .meta(text[option].meta() ?? {});
const jsonFlag = <K extends 'dry_run' | 'atomic'>(option: K) =>
  z
    .boolean({ error: 'must be true or false' })
    .transform(String)
    .pipe(text[option] as unknown as TextRule<K>)
    .optional()
    .meta(text[option].meta() ?? {});

/** Upload options as a template stores them: all but template and mapping, JSON-typed. */
export const templateOptionsSchema = uploadOptionsSchema
  .omit({ template: true, mapping: true })
  .extend({
    header_row: jsonNumber('header_row'),
    dry_run: jsonFlag('dry_run'),
    atomic: jsonFlag('atomic'),
    max_errors: jsonNumber('max_errors'),
    max_error_rate: jsonNumber('max_error_rate'),
  })
  .strict()
  .meta({ id: 'TemplateOptions', description: 'Default upload options of a template; an upload’s own win' });
export type TemplateOptions = z.infer<typeof templateOptionsSchema>;

/** What the import keeps of them (template defaults applied): stored as `imports.options`. */
export const importOptionsSchema = z
  .object({
    template: z.string().nullable(),
    header_row: z.number().int(),
    sheet: z.string().nullable(),
    dry_run: z.boolean(),
    atomic: z.boolean(),
    max_errors: z.number().int().nullable(),
    max_error_rate: z.number().nullable(),
  })
  .meta({ id: 'ImportOptions', description: 'The options the import runs with: the upload’s, over its template’s defaults' });
export type ImportOptions = z.infer<typeof importOptionsSchema>;

export const DEFAULT_IMPORT_OPTIONS: ImportOptions = {
  template: null,
  header_row: 1,
  sheet: null,
  dry_run: false,
  atomic: false,
  max_errors: null,
  max_error_rate: null,
};

/** The options an import runs with: the upload's own, then the template's, then the defaults. */
export function resolveImportOptions(
  upload: UploadOptions,
  template?: { name: string; options: Partial<UploadOptions>; mapping: ColumnMapping },
): { options: ImportOptions; mapping: ColumnMapping | null; encoding: Encoding; source: string | null } {
  const from = { ...template?.options, ...upload };
  return {
    source: from.source ?? null,
    options: {
      template: template?.name ?? null,
      header_row: from.header_row ?? DEFAULT_IMPORT_OPTIONS.header_row,
      sheet: from.sheet ?? null,
      dry_run: from.dry_run ?? false,
      atomic: from.atomic ?? false,
      max_errors: from.max_errors ?? null,
      max_error_rate: from.max_error_rate ?? null,
    },
    // The upload's mapping names the columns it cares about; the template fills in the rest.
    mapping: template || upload.mapping ? { ...template?.mapping, ...upload.mapping } : null,
    encoding: from.encoding ?? 'auto',
  };
}
