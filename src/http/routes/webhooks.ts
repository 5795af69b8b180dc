import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { Pool } from '../../db/pool.ts';
import { SUBSCRIBABLE_EVENT_TYPES } from '../../webhooks/webhook-events.ts';
import {
  deliveryViewSchema,
  endpointViewSchema,
  endpointWithSecretSchema,
  toDeliveryView,
  toEndpointView,
} from '../../webhooks/webhook-view.ts';
import {
  changeWebhookEndpoint,
  createWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  redeliverWebhook,
  removeWebhookEndpoint,
  sendTestWebhook,
} from '../../webhooks/webhooks.ts';
import { actorOf } from '../actor.ts';
import type { AppEnv } from '../app-env.ts';
import { bearerSecurity, errorResponses, json, pageOf } from '../openapi.ts';
import { decodeCursor, toPage } from '../pagination.ts';

export type WebhookRoutesDeps = { pool: Pool; allowPrivateWebhooks: boolean };

const idParams = z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' } }) });
const deliveryParams = idParams.extend({ deliveryId: z.string().meta({ param: { name: 'deliveryId', in: 'path' } }) });
const events = z
  .array(z.enum(SUBSCRIBABLE_EVENT_TYPES, { error: `events must be among ${SUBSCRIBABLE_EVENT_TYPES.join(', ')}` }))
  .min(1, { error: 'events must name at least one event' });
const createBody = z
  .strictObject({
    url: z.string().meta({ example: 'https://example.com/hooks/lading' }),
    events: events.optional().meta({ description: 'Default: every import.* event; source.schema_drift only when named' }),
    description: z.string().max(500).optional(),
  })
  .meta({ id: 'WebhookEndpointInput' });
const patchBody = z
  .strictObject({
    url: z.string().optional(),
    events: events.optional(),
    description: z.string().max(500).optional(),
    enabled: z.boolean().optional(),
    rotate_secret: z.literal(true).optional().meta({ description: 'New secret; the old one signs alongside for 24 h' }),
  })
  .meta({ id: 'WebhookEndpointChange' });
// v2: createdAt is the exact text of created_at (microseconds). A v1 cursor (a Date's milliseconds,
// no v) could skip rows, so it is refused as invalid: the client starts again from the first page.
const deliveriesCursor = z.object({ v: z.literal(2), createdAt: z.iso.datetime({ offset: true }), id: z.uuid() });

/** Endpoints integrators register, their delivery log, redelivery and test events. */
export function webhookRoutes(deps: WebhookRoutesDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const policy = { allowPrivate: deps.allowPrivateWebhooks };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/',
      tags: ['webhooks'],
      summary: 'Register an endpoint',
      description: 'The response carries the signing secret, shown this once.',
      security: bearerSecurity,
      request: { body: { required: true, content: { 'application/json': { schema: createBody } } } },
      responses: { 201: json(endpointWithSecretSchema, 'Registered'), ...errorResponses(400, 401, 413) },
    }),
    async (c) => {
      const { endpoint, secret } = await createWebhookEndpoint(deps.pool, actorOf(c), c.req.valid('json'), policy);
      return c.json({ ...toEndpointView(endpoint), secret }, 201, { Location: `/v1/webhooks/${endpoint.id}` });
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['webhooks'],
      summary: "The tenant's endpoints",
      security: bearerSecurity,
      responses: { 200: json(z.object({ items: z.array(endpointViewSchema) }), 'Endpoints'), ...errorResponses(401) },
    }),
    async (c) => c.json({ items: (await listWebhookEndpoints(deps.pool, c.var.principal.tenantId)).map(toEndpointView) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['webhooks'],
      summary: 'An endpoint, with why it is disabled if it is',
      security: bearerSecurity,
      request: { params: idParams },
      responses: { 200: json(endpointViewSchema, 'The endpoint'), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(toEndpointView(await getWebhookEndpoint(deps.pool, c.var.principal.tenantId, c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/{id}',
      tags: ['webhooks'],
      summary: 'Enable or disable, change url or events, rotate the secret',
      security: bearerSecurity,
      request: { params: idParams, body: { required: true, content: { 'application/json': { schema: patchBody } } } },
      responses: {
        200: json(endpointViewSchema.extend({ secret: z.string().optional() }), 'Changed; `secret` only after a rotation'),
        ...errorResponses(400, 401, 404, 413),
      },
    }),
    async (c) => {
      const { rotate_secret, ...changes } = c.req.valid('json');
      const { endpoint, secret } = await changeWebhookEndpoint(
        deps.pool,
        actorOf(c),
        c.req.valid('param').id,
        { ...changes, rotateSecret: rotate_secret },
        policy,
      );
      return c.json({ ...toEndpointView(endpoint), ...(secret ? { secret } : {}) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/{id}',
      tags: ['webhooks'],
      summary: 'Delete an endpoint and its delivery log',
      security: bearerSecurity,
      request: { params: idParams },
      responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 404) },
    }),
    async (c) => {
      await removeWebhookEndpoint(deps.pool, actorOf(c), c.req.valid('param').id);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}/deliveries',
      tags: ['webhooks'],
      summary: 'The delivery log, newest first, each delivery with its attempts',
      security: bearerSecurity,
      request: {
        params: idParams,
        query: z.object({
          status: z.enum(['pending', 'succeeded', 'failed']).optional(),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          cursor: z.string().optional(),
        }),
      },
      responses: { 200: json(pageOf(deliveryViewSchema), 'A page of deliveries'), ...errorResponses(400, 401, 404) },
    }),
    async (c) => {
      const { status, limit, cursor } = c.req.valid('query');
      const after = decodeCursor(cursor, deliveriesCursor);
      const rows = await listWebhookDeliveries(deps.pool, c.var.principal.tenantId, c.req.valid('param').id, {
        limit: limit + 1,
        status,
        after,
      });
      return c.json(toPage(rows, limit, toDeliveryView, (row) => ({ v: 2, createdAt: row.created_at_exact, id: row.id })), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/deliveries/{deliveryId}/redeliver',
      tags: ['webhooks'],
      summary: 'Send a finished delivery again (same event id)',
      security: bearerSecurity,
      request: { params: deliveryParams },
      responses: { 202: json(deliveryViewSchema, 'Queued'), ...errorResponses(401, 404, 409) },
    }),
    async (c) => {
      const { id, deliveryId } = c.req.valid('param');
      const delivery = await redeliverWebhook(deps.pool, c.var.principal.tenantId, id, deliveryId);
      return c.json(toDeliveryView(delivery), 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/test',
      tags: ['webhooks'],
      summary: 'Send a webhook.test event to this endpoint',
      security: bearerSecurity,
      request: { params: idParams },
      responses: { 202: json(deliveryViewSchema, 'Queued'), ...errorResponses(401, 404, 409) },
    }),
    async (c) => {
      const delivery = await sendTestWebhook(deps.pool, c.var.principal.tenantId, c.req.valid('param').id);
      return c.json(toDeliveryView(delivery), 202);
    },
  );

  return app;
}
