import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { createImport, type CreateImportDeps } from '../../imports/create-import.ts';
import { cancelImport } from '../../imports/finish-import.ts';
import { writeErrorsCsv } from '../../imports/errors-csv.ts';
import { getImport } from '../../imports/get-import.ts';
import { sourceName, uploadOptionsSchema } from '../../imports/import-options.ts';
import { importPreviewSchema, previewImport } from '../../imports/preview-import.ts';
import { importViewSchema, toImportView } from '../../imports/import-view.ts';
import { listRejectedRecords, listTenantImports } from '../../imports/list-imports.ts';
import { actorOf } from '../actor.ts';
import type { AppEnv } from '../app-env.ts';
import { bearerSecurity, errorResponses, json, pageOf } from '../openapi.ts';
import { decodeCursor, toPage } from '../pagination.ts';

export type ImportRoutesDeps = CreateImportDeps & { publicBaseUrl: string };

const idParams = z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' }, example: '0b9c…' }) });
const IMPORT_STATUSES = ['queued', 'processing', 'succeeded', 'failed', 'cancelled'] as const;
const importErrorSchema = z
  .object({
    line: z.number().int().meta({ description: 'Physical line where the record starts; the header is line 1' }),
    column: z.string().nullable().meta({ description: 'First column at fault; null when the whole record is' }),
    message: z.string(),
    values: z.array(z.string()).meta({ description: 'The record’s fields as they were in the file' }),
  })
  .meta({ id: 'ImportError' });
const listQuery = (max: number, fallback: number) =>
  z.object({
    limit: z.coerce.number().int().min(1).max(max).default(fallback),
    cursor: z.string().optional(),
  });
// v2: createdAt is the exact text of created_at (microseconds). A v1 cursor (a Date's milliseconds,
// no v) could skip rows, so it is refused as invalid: the client starts again from the first page.
const importsCursor = z.object({ v: z.literal(2), createdAt: z.iso.datetime({ offset: true }), id: z.uuid() });

export function importRoutes(deps: ImportRoutesDeps) {
  const app = new OpenAPIHono<AppEnv>();

  const uploadRoute = createRoute({
    method: 'post',
    path: '/',
    tags: ['imports'],
    summary: 'Upload a product CSV',
    description:
      'The file is streamed to disk (never buffered), then the import is recorded and queued. Answers at once; ' +
      'follow progress with GET /v1/imports/{id}.',
    security: bearerSecurity,
    request: {
      query: uploadOptionsSchema,
      headers: z.object({
        'x-filename': z.string().optional().meta({ description: 'Display name for a raw upload' }),
        'idempotency-key': z
          .string()
          .regex(/^[\x21-\x7e]{1,255}$/, { error: 'Idempotency-Key must be 1–255 visible ASCII characters' })
          .optional()
          .meta({ description: 'Retries with the same key and content within 24 h return the original import (200)' }),
      }),
      body: {
        required: true,
        // Plain JSON-schema objects (not zod) so the validator never buffers the body to check it.
        content: {
          'text/csv': { schema: { type: 'string', format: 'binary' } },
          'multipart/form-data': {
            schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } }, required: ['file'] },
          },
        },
      },
    },
    responses: {
      202: {
        ...json(importViewSchema, 'Accepted: the import is queued'),
        headers: { Location: { schema: { type: 'string' }, description: 'URL of the import' } },
      },
      200: json(importViewSchema, 'A retry with the same Idempotency-Key and content: the original import'),
      ...errorResponses(400, 401, 409, 413, 415, 503),
    },
  });
  app.openapi(uploadRoute, async (c) => {
    const idempotencyKey = c.req.valid('header')['idempotency-key'];
    const options = c.req.valid('query');
    const upload = { request: c.req.raw, incoming: c.env?.incoming };
    const { row, replayed } = await createImport(deps, upload, actorOf(c), { idempotencyKey, options });
    c.var.logger.info({ importId: row.id, bytes: Number(row.bytes), replayed }, replayed ? 'import replayed' : 'import queued');
    return c.json(toImportView(row), replayed ? 200 : 202, { Location: `/v1/imports/${row.id}` });
  });

  const previewRoute = createRoute({
    method: 'post',
    path: '/preview',
    tags: ['imports'],
    summary: 'Preview an upload: encoding, delimiter, header, mapping, first records',
    description:
      'Send the file as for an upload (raw, multipart, gzip; the same options). Reads at most the first MiB of ' +
      'the file and checks its first 100 records exactly as an import would; stores nothing. Fuzzy mapping ' +
      'suggestions are only shown here: an import applies the mapping, names and aliases, never a guess.',
    security: bearerSecurity,
    request: { query: uploadOptionsSchema, body: uploadRoute.request!.body! },
    responses: { 200: json(importPreviewSchema, 'What an import of this file would do'), ...errorResponses(400, 401, 413, 415) },
  });
  app.openapi(previewRoute, async (c) => {
    const upload = { request: c.req.raw, incoming: c.env?.incoming };
    const preview = await previewImport(deps.pool, c.var.principal.tenantId, upload, c.req.valid('query'));
    // The rest of a large body is not read: the connection closes after this answer.
    c.header('Connection', 'close');
    return c.json(preview, 200);
  });

  const cancelRoute = createRoute({
    method: 'post',
    path: '/{id}/cancel',
    tags: ['imports'],
    summary: 'Cancel a queued or processing import',
    description: 'Stops within one batch. Rows already committed stay; the answer counts them.',
    security: bearerSecurity,
    request: { params: idParams },
    responses: { 200: json(importViewSchema, 'Cancelled'), ...errorResponses(401, 404, 409) },
  });
  app.openapi(cancelRoute, async (c) => {
    const row = await cancelImport(deps, actorOf(c), c.req.valid('param').id);
    return c.json(toImportView(row), 200);
  });

  const listRoute = createRoute({
    method: 'get',
    path: '/',
    tags: ['imports'],
    summary: "List the tenant's imports, newest first",
    security: bearerSecurity,
    request: {
      query: listQuery(100, 20).extend({
        status: z.enum(IMPORT_STATUSES, { error: `must be one of ${IMPORT_STATUSES.join(', ')}` }).optional()
          .meta({ description: 'Only imports with this status' }),
        source: sourceName.optional().meta({ description: 'Only imports of this source (upload option source)' }),
      }),
    },
    responses: { 200: json(pageOf(importViewSchema), 'A page of imports'), ...errorResponses(400, 401) },
  });
  app.openapi(listRoute, async (c) => {
    const { limit, cursor, status, source } = c.req.valid('query');
    const after = decodeCursor(cursor, importsCursor);
    const rows = await listTenantImports(deps.pool, c.var.principal.tenantId, { limit: limit + 1, after, status, source });
    const page = toPage(rows, limit, toImportView, (row) => ({ v: 2, createdAt: row.created_at_exact, id: row.id }));
    return c.json(page, 200);
  });

  const getRoute = createRoute({
    method: 'get',
    path: '/{id}',
    tags: ['imports'],
    summary: 'Get an import: status and counts',
    security: bearerSecurity,
    request: { params: idParams },
    responses: { 200: json(importViewSchema, 'The import'), ...errorResponses(401, 404) },
  });
  app.openapi(getRoute, async (c) => {
    const row = await getImport(deps.pool, c.var.principal.tenantId, c.req.valid('param').id);
    return c.json(toImportView(row), 200);
  });

  const errorsRoute = createRoute({
    method: 'get',
    path: '/{id}/errors',
    tags: ['imports'],
    summary: 'Rejected records of an import, by line',
    security: bearerSecurity,
    request: { params: idParams, query: listQuery(1000, 100) },
    responses: { 200: json(pageOf(importErrorSchema), 'A page of rejected records'), ...errorResponses(400, 401, 404) },
  });
  app.openapi(errorsRoute, async (c) => {
    const { limit, cursor } = c.req.valid('query');
    const afterLine = decodeCursor(cursor, z.number().int().nonnegative());
    const rows = await listRejectedRecords(deps.pool, c.var.principal.tenantId, c.req.valid('param').id, { limit: limit + 1, afterLine });
    const toItem = (row: (typeof rows)[number]) => ({
      line: Number(row.line),
      column: row.column_name,
      message: row.message,
      values: row.raw_values,
    });
    return c.json(toPage(rows, limit, toItem, (row) => Number(row.line)), 200);
  });

  const errorsCsvRoute = createRoute({
    method: 'get',
    path: '/{id}/errors.csv',
    tags: ['imports'],
    summary: 'Rejected records as CSV, to fix and re-upload',
    description:
      'The header of the uploaded file plus an `error` column, then each rejected record as it was in the file. ' +
      'Cells starting with = + - @, a tab or a carriage return (or the full-width ＝ ＋ － ＠) are prefixed with an apostrophe so spreadsheets do not run them as formulas.',
    security: bearerSecurity,
    request: { params: idParams },
    responses: {
      200: { description: 'CSV', content: { 'text/csv': { schema: { type: 'string' } } } },
      ...errorResponses(401, 404),
    },
  });
  app.openapi(errorsCsvRoute, async (c) => {
    const imp = await getImport(deps.pool, c.var.principal.tenantId, c.req.valid('param').id);
    c.header('Content-Type', 'text/csv; charset=utf-8');
    c.header('Content-Disposition', `attachment; filename="import-${imp.id}-errors.csv"`);
    return stream(c, (out) => writeErrorsCsv(deps.pool, imp, (chunk) => out.write(chunk)));
  });

  return app;
}
