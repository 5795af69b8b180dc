import { upgradeWebSocket } from '@hono/node-server';
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import type { Pool } from '../../db/pool.ts';
import { createSocketSink, type Heartbeat, type SocketOptions } from '../../events/event-socket.ts';
import { createEventTicket, TICKET_TTL_SECONDS } from '../../events/event-tickets.ts';
import type { ImportEventHub, Subscription } from '../../events/import-event-hub.ts';
import { liveEventMessageSchema } from '../../events/live-events.ts';
import { getImport } from '../../imports/get-import.ts';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { bearerSecurity, errorResponses, json } from '../openapi.ts';

export type EventRoutesDeps = { pool: Pool; hub: ImportEventHub; heartbeat: Heartbeat; socket: SocketOptions };

const ticketSchema = z
  .object({ ticket: z.string(), expires_at: z.iso.datetime() })
  .meta({ id: 'EventTicket', description: `Single use, valid ${TICKET_TTL_SECONDS} s: pass as ?ticket= when opening the stream` });
const idParams = z.object({ id: z.string().meta({ param: { name: 'id', in: 'path' } }) });

const STREAM_DESCRIPTION =
  'WebSocket. Each message is one JSON text frame, a `LiveEventMessage` (the 101 response below shows its schema): ' +
  '`{type, seq, import}` where `import` is shaped like GET /v1/imports/{id}: first ' +
  '`snapshot`, then one `progress` per committed batch (seq = batches_committed, strictly increasing), then ' +
  '`finished` (seq = batches_committed + 1), after which the server closes with 1000. Authenticate with the ' +
  'Authorization header, or with `?ticket=` from the ticket route (for browsers). A slow reader is closed with 1013. ' +
  'GET /v1/events also sends `{type: "alert", seq, alert}` whenever an alert of the tenant is raised, seen again or ' +
  'acknowledged (`alert` shaped like GET /v1/alerts/{id}; seq strictly increasing per alert). ' +
  'Ignore message types you do not know: more may be added.';

/** Live progress: GET /v1/imports/:id/events and GET /v1/events, plus tickets for browsers. */
export function eventRoutes(deps: EventRoutesDeps) {
  const app = new OpenAPIHono<AppEnv>();

  const importTicketRoute = createRoute({
    method: 'post',
    path: '/imports/{id}/events/ticket',
    tags: ['events'],
    summary: "A single-use ticket for one import's event stream",
    security: bearerSecurity,
    request: { params: idParams },
    responses: { 201: json(ticketSchema, 'The ticket'), ...errorResponses(401, 404) },
  });
  app.openapi(importTicketRoute, async (c) => {
    if (c.var.ticketScope) throw new ApiError('unauthorized', 'A ticket cannot be used to obtain another ticket');
    const imp = await getImport(deps.pool, c.var.principal.tenantId, c.req.valid('param').id);
    const { ticket, expiresAt } = await createEventTicket(deps.pool, c.var.principal, { importId: imp.id });
    return c.json({ ticket, expires_at: expiresAt.toISOString() }, 201);
  });

  const tenantTicketRoute = createRoute({
    method: 'post',
    path: '/events/ticket',
    tags: ['events'],
    summary: 'A single-use ticket for the tenant-wide event stream',
    security: bearerSecurity,
    responses: { 201: json(ticketSchema, 'The ticket'), ...errorResponses(401) },
  });
  app.openapi(tenantTicketRoute, async (c) => {
    if (c.var.ticketScope) throw new ApiError('unauthorized', 'A ticket cannot be used to obtain another ticket');
    const { ticket, expiresAt } = await createEventTicket(deps.pool, c.var.principal, { importId: null });
    return c.json({ ticket, expires_at: expiresAt.toISOString() }, 201);
  });

  app.get(
    '/imports/:id/events',
    async (c, next) => {
      // Whose import it is comes first: another tenant's id is a 404 whatever the request looks like.
      const imp = await getImport(deps.pool, c.var.principal.tenantId, c.req.param('id'));
      requireUpgrade(c);
      const scope = c.var.ticketScope;
      if (scope && scope.importId !== imp.id) throw new ApiError('unauthorized', 'The ticket was issued for another stream');
      await next();
    },
    upgradeWebSocket((c) => streamEvents(deps, c, c.req.param('id')!.toLowerCase())),
  );

  app.get(
    '/events',
    async (c, next) => {
      requireUpgrade(c);
      const scope = c.var.ticketScope;
      if (scope && scope.importId !== null) throw new ApiError('unauthorized', 'The ticket was issued for another stream');
      await next();
    },
    upgradeWebSocket((c) => streamEvents(deps, c, null)),
  );

  for (const [path, summary] of [
    ['/imports/{id}/events', "Live progress of one import (WebSocket)"],
    ['/events', "Live progress of every import of the tenant (WebSocket): progress and finished messages, and alerts"],
  ] as const) {
    app.openAPIRegistry.registerPath({
      method: 'get',
      path,
      tags: ['events'],
      summary,
      description: STREAM_DESCRIPTION,
      security: bearerSecurity,
      request: path.includes('{id}') ? { params: idParams } : {},
      responses: {
        // OpenAPI cannot describe WebSocket frames; the 101 response's content is where Swagger UI
        // shows a schema (with its named models and an example), so the messages are documented there.
        101: {
          description: 'Switching to WebSocket. The content is not a response body: it is the schema of every message the socket sends',
          content: { 'application/json': { schema: liveEventMessageSchema } },
        },
        ...errorResponses(401, 404, 426),
      },
    });
  }

  return app;
}

function requireUpgrade(c: Context<AppEnv>): void {
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiError('upgrade_required', 'This is a WebSocket endpoint: connect with a WebSocket client');
  }
}

function streamEvents(deps: EventRoutesDeps, c: Context<AppEnv>, importId: string | null) {
  const { tenantId } = c.var.principal;
  const log = c.var.logger.child({ stream: importId ?? 'tenant' });
  let subscription: Subscription | undefined;
  return {
    onOpen(_event: Event, ws: { raw?: unknown; close(code?: number, reason?: string): void }) {
      const raw = ws.raw as Parameters<typeof createSocketSink>[0];
      deps.heartbeat.watch(raw);
      subscription = deps.hub.subscribe({ tenantId, importId, sink: createSocketSink(raw, deps.socket) });
      deps.hub.start(subscription).catch((error: unknown) => {
        log.error({ err: error }, 'could not start the event stream');
        ws.close(1011, 'internal error');
      });
    },
    onClose(_event: unknown, ws: { raw?: unknown }) {
      if (subscription) deps.hub.unsubscribe(subscription);
      deps.heartbeat.forget(ws.raw as Parameters<typeof createSocketSink>[0]);
    },
  };
}
