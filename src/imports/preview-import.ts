import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import type { Queryable } from '../db/pool.ts';
import { InvalidInputError, UploadRejectedError } from '../errors.ts';
import { resolveMapping } from '../mapping/resolve-mapping.ts';
import { suggestMapping } from '../mapping/suggest-mapping.ts';
import { checkProduct } from '../products/product-schema.ts';
import { PRODUCT_FIELDS, type ProductField } from '../products/product-values.ts';
import { findTemplateByName } from '../templates/template-queries.ts';
import { detectDelimiter } from './csv-header.ts';
import { decodeStage, gzipStage } from './decode-upload.ts';
import { resolveImportOptions, uploadOptionsSchema, type UploadOptions } from './import-options.ts';
import { gzipContentEncoding, type UploadRequest } from './store-upload.ts';

// POST /v1/imports/preview: what an upload would do, from the start of its body alone. Nothing is
// stored; the body is read only as far as PREVIEW_BYTES of decoded text (then the connection is
// closed rather than read to its end), and at most PREVIEW_RECORDS records are checked.

export const PREVIEW_BYTES = 1024 * 1024;
export const PREVIEW_RECORDS = 100;

const previewRecordSchema = z.object({
  line: z.number().int().meta({ description: 'Physical line where the record starts (as in an import’s errors)' }),
  values: z.record(z.string(), z.unknown()).nullable().meta({ description: 'The product fields as they would be imported; null when rejected' }),
  rejection: z.object({ column: z.string().nullable(), message: z.string() }).nullable(),
});
type PreviewRecord = z.infer<typeof previewRecordSchema>;

export const importPreviewSchema = z
  .object({
    encoding: z.string().meta({ description: 'The encoding the file would be read in (detected, or as sent)' }),
    delimiter: z.string(),
    header_row: z.number().int(),
    header: z.array(z.string()),
    mapping: z
      .array(
        z.object({
          column: z.string(),
          field: z.enum(PRODUCT_FIELDS).nullable(),
          how: z.enum(['explicit', 'template', 'exact', 'alias', 'fuzzy']).nullable().meta({
            description: 'How the field was found; fuzzy ones are suggestions only (an import never applies them)',
          }),
          score: z.number().optional().meta({ description: '0–1, for fuzzy suggestions' }),
        }),
      )
      .meta({ description: 'Per header column, in order: the field it would fill and how that was decided' }),
    missing_required: z.array(z.enum(PRODUCT_FIELDS)).meta({ description: 'Required fields no column fills (the import would fail)' }),
    problems: z.array(z.string()).meta({ description: 'Why the mapping is unusable (the import would fail)' }),
    records: z.array(previewRecordSchema).meta({ description: `The first ${PREVIEW_RECORDS} records, as they would be imported` }),
    truncated: z.boolean().meta({ description: 'True when the preview saw only the start of the file' }),
    warnings: z.array(z.string()),
  })
  .meta({ id: 'ImportPreview' });
export type ImportPreview = z.infer<typeof importPreviewSchema>;

export async function previewImport(
  db: Queryable,
  tenantId: string,
  upload: UploadRequest,
  options: UploadOptions,
): Promise<ImportPreview> {
  const head = await readHead(upload, options);
  const given = { ...head.fields, ...options };
  const template = given.template ? await findTemplateByName(db, tenantId, given.template) : undefined;
  if (given.template && !template) throw new InvalidInputError(`No template named "${given.template}"`);
  const resolved = resolveImportOptions(given, template);
  const headerRow = resolved.options.header_row;

  // Whole lines only (a cut record is not shown), the preamble above header_row skipped unparsed.
  const text = head.complete ? head.text : head.text.slice(0, head.text.lastIndexOf('\n') + 1);
  const lines = text.split('\n');
  if (lines.length < headerRow) throw new InvalidInputError(`The file ends before line ${headerRow}, where header_row says the header is`);
  const body = lines.slice(headerRow - 1).join('\n');
  const headerLine = body.split(/\r?\n/).find((line) => line !== '') ?? '';
  const { delimiter } = detectDelimiter(headerLine, resolved.mapping);
  const parsed = parse(body, {
    delimiter,
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
    to: PREVIEW_RECORDS + 1,
  }) as unknown as { record: string[]; info: { lines: number } }[];
  const [first, ...rest] = parsed;
  if (!first) throw new UploadRejectedError('empty', 'The file is empty: expected a header line with at least sku and name');
  const header = first.record;
  const resolution = resolveMapping(header, resolved.mapping);
  const suggestions = suggestMapping(header, { mapping: options.mapping ?? null, template: template?.mapping ?? null });

  // Record start lines: csv-parse's info.lines is the line a record ends on; the next starts after it.
  let nextStart = headerRow - 1 + first.info.lines + 1;
  const records = rest.map(({ record, info }) => {
    const line = nextStart;
    nextStart = headerRow - 1 + info.lines + 1;
    return previewRecord(line, record, header.length, resolution.columns);
  });
  return {
    encoding: head.encoding,
    delimiter,
    header_row: headerRow,
    header,
    mapping: suggestions,
    missing_required: resolution.missing,
    problems: resolution.problems,
    records,
    truncated: !head.complete || parsed.length > PREVIEW_RECORDS,
    warnings: head.warnings,
  };
}

/** A record as the import would see it: the mapped fields through the product schema. */
function previewRecord(line: number, record: string[], width: number, columns: ReadonlyMap<ProductField, number>): PreviewRecord {
  if (record.length !== width) {
    const message = `has ${record.length} fields; the header has ${width}`;
    return { line, values: null, rejection: { column: null, message } };
  }
  const input = Object.fromEntries([...columns].map(([field, index]) => [field, record[index]]));
  const checked = checkProduct(input);
  if ('problem' in checked) return { line, values: null, rejection: checked.problem };
  return { line, values: checked.product, rejection: null };
}

type Head = { text: string; complete: boolean; encoding: string; warnings: string[]; fields: UploadOptions };

/** The first PREVIEW_BYTES of the file as text (raw body or multipart `file`), gunzipped and decoded. */
async function readHead({ request, incoming }: UploadRequest, options: UploadOptions): Promise<Head> {
  const mediaType = (request.headers.get('content-type') ?? '').toLowerCase().split(';')[0]!.trim();
  const gzipped = gzipContentEncoding(request.headers.get('content-encoding'));
  const body: Readable = incoming ?? Readable.fromWeb(request.body as WebReadableStream<Uint8Array>);
  if (mediaType !== 'multipart/form-data') return readText(body, options, {}, gzipped);

  const parser = busboy({ headers: Object.fromEntries(request.headers), limits: { files: 1, fields: 20, parts: 25 } });
  const fields: Record<string, string> = {};
  return new Promise<Head>((resolve, reject) => {
    parser.on('field', (name, value) => (fields[name] = value));
    parser.on('file', (name, stream) => {
      if (name !== 'file') return stream.resume();
      const formOptions = uploadOptionsSchema.safeParse(fields);
      if (!formOptions.success) return reject(new InvalidInputError(`A form field is not valid: ${formOptions.error.issues[0]?.message}`));
      readText(stream, { ...formOptions.data, ...options }, formOptions.data, false).then(resolve, reject);
    });
    parser.on('error', (error: Error) => reject(new UploadRejectedError('malformed', `Malformed multipart body: ${error.message}`)));
    parser.on('close', () => reject(new UploadRejectedError('malformed', 'The multipart form has no "file" field holding the CSV')));
    // Content-Encoding: gzip on a form compresses the whole body, as for an upload.
    pipeline(gzipped ? Readable.from(gzipStage({ force: true })(body)) : body, parser).catch(() => {}); // failures reach the parser's error
  });
}

async function readText(source: Readable, options: UploadOptions, fields: UploadOptions, gzipped: boolean): Promise<Head> {
  const tooLarge = () => new UploadRejectedError('too_large', 'The file is too large');
  const decode = decodeStage({ encoding: options.encoding ?? 'auto', maxBytes: Number.MAX_SAFE_INTEGER, tooLarge });
  const chunks: Buffer[] = [];
  let size = 0;
  let complete = true;
  for await (const chunk of decode.stage(gzipStage({ force: gzipped })(source))) {
    if (decode.result.format === 'xlsx') {
      throw new UploadRejectedError('not_csv', 'A preview reads CSV text only: import an .xlsx workbook with dry_run=true to check it');
    }
    chunks.push(chunk);
    size += chunk.length;
    if (size >= PREVIEW_BYTES) {
      complete = false;
      break; // ends the stages and stops reading the body
    }
  }
  const text = Buffer.concat(chunks).subarray(0, PREVIEW_BYTES).toString('utf8');
  return { text, complete, encoding: decode.result.encoding, warnings: decode.result.warnings, fields };
}

