import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { acknowledgeAlert, getAlert, listTenantAlerts } from '../../alerts/alerts.ts';
import { ALERT_KINDS, alertViewSchema, toAlertView } from '../../alerts/alert-view.ts';
import type { Pool } from '../../db/pool.ts';
import { sourceName } from '../../imports/import-options.ts';
import { actorOf } from '../actor.ts';
import type { AppEnv } from '../app-env.ts';
import { bearerSecurity, errorResponses, json, pageOf } from '../openapi.ts';
import { decodeCursor, toPage } from '../pagination.ts';

const idParams = z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' } }) });
const STATUS_FILTERS = ['open', 'acknowledged', 'all'] as const;
const listQuery = z.object({
  status: z
    .enum(STATUS_FILTERS, { error: `must be one of ${STATUS_FILTERS.join(', ')}` })
    .default('all')
    .meta({ description: 'open, acknowledged, or all (default)' }),
  kind: z.enum(ALERT_KINDS, { error: `must be one of ${ALERT_KINDS.join(', ')}` }).optional(),
  source: sourceName.optional().meta({ description: 'Only schema_drift alerts of this source' }),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().optional(),
});
// createdAt-style keyset: the exact text of first_seen_at (microseconds) and the id.
const alertsCursor = z.object({ v: z.literal(1), firstSeenAt: z.iso.datetime({ offset: true }), id: z.uuid() });

/** GET /v1/alerts, GET /v1/alerts/{id}, POST /v1/alerts/{id}/acknowledge. */
export function alertRoutes(deps: { pool: Pool }) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['alerts'],
      summary: "The tenant's alerts, newest first (by when each was first raised)",
      description:
        'Raised when an import of a source ends with columns that differ from its previous successful import ' +
        '(schema_drift), and when a webhook endpoint is disabled after failing (webhook_endpoint_disabled). The same ' +
        'problem again while its alert is open counts an occurrence instead of raising another.',
      security: bearerSecurity,
      request: { query: listQuery },
      responses: { 200: json(pageOf(alertViewSchema), 'A page of alerts'), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const { status, kind, source, limit, cursor } = c.req.valid('query');
      const after = decodeCursor(cursor, alertsCursor);
      const rows = await listTenantAlerts(deps.pool, c.var.principal.tenantId, {
        limit: limit + 1,
        status: status === 'all' ? undefined : status,
        kind,
        source,
        after,
      });
      return c.json(toPage(rows, limit, toAlertView, (row) => ({ v: 1, firstSeenAt: row.first_seen_at_exact, id: row.id })), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{id}',
      tags: ['alerts'],
      summary: 'An alert',
      security: bearerSecurity,
      request: { params: idParams },
      responses: { 200: json(alertViewSchema, 'The alert'), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(toAlertView(await getAlert(deps.pool, c.var.principal.tenantId, c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/{id}/acknowledge',
      tags: ['alerts'],
      summary: 'Acknowledge an alert',
      description:
        'Marks it seen (audited as alert.acknowledged). Idempotent: an acknowledged alert is answered as it is. ' +
        'The same problem after this opens a new alert.',
      security: bearerSecurity,
      request: { params: idParams },
      responses: { 200: json(alertViewSchema, 'The alert, acknowledged'), ...errorResponses(401, 404) },
    }),
    async (c) => c.json(toAlertView(await acknowledgeAlert(deps.pool, actorOf(c), c.req.valid('param').id)), 200),
  );

  return app;
}
