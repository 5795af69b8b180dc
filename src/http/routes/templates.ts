import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { Pool } from '../../db/pool.ts';
import { describeProblems } from '../../products/product-schema.ts';
import { columnMappingSchema, templateOptionsSchema } from '../../imports/import-options.ts';
import { templateViewSchema, toTemplateView } from '../../templates/template-view.ts';
import {
  createImportTemplate,
  getImportTemplate,
  listImportTemplates,
  removeImportTemplate,
  replaceImportTemplate,
  TEMPLATE_NAME_PATTERN,
  TEMPLATE_NAME_RULE,
} from '../../templates/templates.ts';
import { actorOf } from '../actor.ts';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { bearerSecurity, errorResponses, json } from '../openapi.ts';

const nameParams = z.object({ name: z.string().meta({ param: { name: 'name', in: 'path' }, example: 'Supplier A' }) });
const templateFields = {
  mapping: columnMappingSchema.optional().meta({ description: 'File column → field or null; default {}' }),
  options: templateOptionsSchema.optional().meta({ description: 'Default upload options; default {}' }),
};
const createBody = z
  .strictObject({
    name: z.string().regex(TEMPLATE_NAME_PATTERN, { error: TEMPLATE_NAME_RULE }).meta({ example: 'Supplier A' }),
    ...templateFields,
  })
  .meta({ id: 'TemplateInput' });
const replaceBody = z.strictObject(templateFields).meta({ id: 'TemplateReplacement' });

/** Saved mappings and default upload options, applied to an upload with ?template=NAME. */
export function templateRoutes(deps: { pool: Pool }) {
  const app = new OpenAPIHono<AppEnv>({
    // The app's answer to a zod failure, naming a nested value by its whole path ("options.header_row").
    defaultHook: (result) => {
      if (result.success) return;
      const issues = result.error.issues.map((issue) => ({ ...issue, path: issue.path.length > 0 ? [issue.path.map(String).join('.')] : [] }));
      throw new ApiError('validation_failed', describeProblems(issues).message);
    },
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['templates'],
      summary: 'Save a template',
      description: 'A mapping and default upload options under a name; `?template=NAME` on an upload applies them.',
      security: bearerSecurity,
      request: { body: { required: true, content: { 'application/json': { schema: createBody } } } },
      responses: { 201: json(templateViewSchema, 'Saved'), ...errorResponses(400, 401, 409, 413) },
    }),
    async (c) => {
      const row = await createImportTemplate(deps.pool, actorOf(c), c.req.valid('json'));
      return c.json(toTemplateView(row), 201, { Location: `/v1/templates/${encodeURIComponent(row.name)}` });
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['templates'],
      summary: "The tenant's templates, by name",
      security: bearerSecurity,
      responses: { 200: json(z.object({ items: z.array(templateViewSchema) }), 'Templates'), ...errorResponses(401) },
    }),
    async (c) => c.json({ items: (await listImportTemplates(deps.pool, c.var.principal.tenantId)).map(toTemplateView) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{name}',
      tags: ['templates'],
      summary: 'A template',
      security: bearerSecurity,
      request: { params: nameParams },
      responses: { 200: json(templateViewSchema, 'The template'), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(toTemplateView(await getImportTemplate(deps.pool, c.var.principal.tenantId, c.req.valid('param').name)), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/{name}',
      tags: ['templates'],
      summary: 'Replace a template’s mapping and options',
      description: 'What the body leaves out is reset: no mapping, no options.',
      security: bearerSecurity,
      request: { params: nameParams, body: { required: true, content: { 'application/json': { schema: replaceBody } } } },
      responses: { 200: json(templateViewSchema, 'Replaced'), ...errorResponses(400, 401, 404, 413) },
    }),
    async (c) => {
      const row = await replaceImportTemplate(deps.pool, actorOf(c), c.req.valid('param').name, c.req.valid('json'));
      return c.json(toTemplateView(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{name}',
      tags: ['templates'],
      summary: 'Delete a template',
      description: 'Imports that used it keep the options and mapping they ran with.',
      security: bearerSecurity,
      request: { params: nameParams },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 404) },
    }),
    async (c) => {
      await removeImportTemplate(deps.pool, actorOf(c), c.req.valid('param').name);
      return c.body(null, 204);
    },
  );

  return app;
}
