import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { listAuditEntries } from '../../audit/audit-log.ts';
import type { Pool } from '../../db/pool.ts';
import type { AppEnv } from '../app-env.ts';
import { bearerSecurity, errorResponses, json, pageOf } from '../openapi.ts';
import { decodeCursor, toPage } from '../pagination.ts';

const entrySchema = z
  .object({
    id: z.string(),
    action: z.string().meta({ example: 'import.created' }),
    target_type: z.string(),
    target_id: z.string(),
    via: z.enum(['api', 'cli']),
    api_key_id: z.string().nullable(),
    request_id: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    created_at: z.iso.datetime(),
  })
  .meta({ id: 'AuditEntry' });

/** GET /v1/audit: the tenant's append-only audit log. */
export function auditRoutes(deps: { pool: Pool }) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      tags: ['audit'],
      summary: "The tenant's audit log, newest first",
      security: bearerSecurity,
      request: {
        query: z.object({
          action: z.string().optional().meta({ description: 'Only this action, e.g. webhook.deleted' }),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          cursor: z.string().optional(),
        }),
      },
      responses: { 200: json(pageOf(entrySchema), 'A page of entries'), ...errorResponses(400, 401) },
    }),
    async (c) => {
      const { action, limit, cursor } = c.req.valid('query');
      const beforeId = decodeCursor(cursor, z.string().regex(/^\d+$/));
      const rows = await listAuditEntries(deps.pool, c.var.principal.tenantId, { limit: limit + 1, beforeId, action });
      const toItem = (row: (typeof rows)[number]) => ({
        id: row.id,
        action: row.action,
        target_type: row.target_type,
        target_id: row.target_id,
        via: row.via as 'api' | 'cli',
        api_key_id: row.api_key_id,
        request_id: row.request_id,
        details: row.details,
        created_at: row.created_at.toISOString(),
      });
      return c.json(toPage(rows, limit, toItem, (row) => row.id), 200);
    },
  );
  return app;
}
