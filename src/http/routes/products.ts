import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { Pool } from '../../db/pool.ts';
import { describeProblems, productSchema } from '../../products/product-schema.ts';
import { MAX_NAME, SKU_PATTERN } from '../../products/product-values.ts';
import { productViewSchema, toProductView } from '../../products/product-view.ts';
import { createProduct, getProduct, listTenantProducts, removeProduct, replaceProduct } from '../../products/products.ts';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { bearerSecurity, errorResponses, json, pageOf } from '../openapi.ts';
import { decodeCursor, toPage } from '../pagination.ts';

const skuParams = z.object({ sku: z.string().meta({ param: { name: 'sku', in: 'path' }, example: 'TSHIRT-RED-M' }) });
const replaceBody = productSchema.meta({ id: 'ProductInput' });

export function productRoutes(deps: { pool: Pool }) {
  const app = new OpenAPIHono<AppEnv>();

  const listRoute = createRoute({
    method: 'get',
    path: '/',
    tags: ['products'],
    summary: "List the tenant's products by sku, optionally searched by sku prefix and name",
    description: 'Both filters together: products matching both. next_cursor pages within the same search (pass the same filters).',
    security: bearerSecurity,
    request: {
      query: z.object({
        limit: z.coerce.number().int().min(1).max(1000).default(100),
        cursor: z.string().optional(),
        sku_prefix: z
          .string()
          .regex(SKU_PATTERN, { error: 'sku_prefix must be 1–64 characters: letters, digits, "-", "_" or "."' })
          .optional()
          .meta({ description: 'Only skus starting with this (case-sensitive, as skus compare)', example: 'TSHIRT-' }),
        name: z
          .string()
          .trim()
          .min(1, { error: 'name must not be blank' })
          .max(MAX_NAME, { error: `name must be at most ${MAX_NAME} characters` })
          .refine((value) => !value.includes('\u0000'), { error: 'name must not contain U+0000' })
          .optional()
          .meta({ description: 'Only names containing this, case-insensitively (% and _ match themselves)', example: 'shirt' }),
      }),
    },
    responses: { 200: json(pageOf(productViewSchema), 'A page of products'), ...errorResponses(400, 401) },
  });
  app.openapi(listRoute, async (c) => {
    const { limit, cursor, sku_prefix: skuPrefix, name } = c.req.valid('query');
    const afterSku = decodeCursor(cursor, z.string());
    const rows = await listTenantProducts(deps.pool, c.var.principal.tenantId, { limit: limit + 1, afterSku, skuPrefix, name });
    return c.json(toPage(rows, limit, toProductView, (row) => row.sku), 200);
  });

  const getRoute = createRoute({
    method: 'get',
    path: '/{sku}',
    tags: ['products'],
    summary: 'Get a product',
    security: bearerSecurity,
    request: { params: skuParams },
    responses: { 200: json(productViewSchema, 'The product'), ...errorResponses(401, 404) },
  });
  app.openapi(getRoute, async (c) => {
    const row = await getProduct(deps.pool, c.var.principal.tenantId, c.req.valid('param').sku);
    return c.json(toProductView(row), 200);
  });

  const createRouteDef = createRoute({
    method: 'post',
    path: '/',
    tags: ['products'],
    summary: 'Create a product',
    description: 'Validated by the same schema as CSV rows.',
    security: bearerSecurity,
    request: { body: { required: true, content: { 'application/json': { schema: productSchema } } } },
    responses: { 201: json(productViewSchema, 'Created'), ...errorResponses(400, 401, 409, 413) },
  });
  app.openapi(createRouteDef, async (c) => {
    const row = await createProduct(deps.pool, c.var.principal.tenantId, c.req.valid('json'));
    return c.json(toProductView(row), 201, { Location: `/v1/products/${encodeURIComponent(row.sku)}` });
  });

  const putRoute = createRoute({
    method: 'put',
    path: '/{sku}',
    tags: ['products'],
    summary: 'Create or replace a product',
    description: 'Every field is replaced; fields left out become empty (status: active). The body may omit sku.',
    security: bearerSecurity,
    request: {
      params: skuParams,
      body: { required: true, content: { 'application/json': { schema: replaceBody.partial({ sku: true }) } } },
    },
    responses: {
      200: json(productViewSchema, 'Replaced'),
      201: json(productViewSchema, 'Created'),
      ...errorResponses(400, 401, 413),
    },
  });
  app.openapi(putRoute, async (c) => {
    const { sku } = c.req.valid('param');
    const body = c.req.valid('json');
    if (body.sku !== undefined && body.sku !== sku) {
      throw new ApiError('validation_failed', `The body's sku "${body.sku}" differs from the URL's "${sku}"`);
    }
    const parsed = productSchema.safeParse({ ...body, sku });
    if (!parsed.success) throw new ApiError('validation_failed', describeProblems(parsed.error.issues).message);
    const row = await replaceProduct(deps.pool, c.var.principal.tenantId, parsed.data);
    return c.json(toProductView(row), row.inserted ? 201 : 200);
  });

  const deleteRoute = createRoute({
    method: 'delete',
    path: '/{sku}',
    tags: ['products'],
    summary: 'Delete a product',
    security: bearerSecurity,
    request: { params: skuParams },
    responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 404) },
  });
  app.openapi(deleteRoute, async (c) => {
    await removeProduct(deps.pool, c.var.principal.tenantId, c.req.valid('param').sku);
    return c.body(null, 204);
  });

  return app;
}
