import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { z } from 'zod';
import { httpRequestDuration } from '../../metrics/metrics.ts';
import type { ServiceMetrics } from '../../metrics/service-metrics.ts';
import type { AppEnv } from '../app-env.ts';

const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['metrics'],
  summary: 'Prometheus metrics of this process (text format 0.0.4)',
  description:
    'Unauthenticated, and not rate limited. Turned off with METRICS_ENABLED=false; with METRICS_PORT set it is served on that port instead.',
  responses: {
    200: { description: 'Prometheus text exposition format', content: { 'text/plain; version=0.0.4': { schema: z.string() } } },
  },
});

/** GET /metrics (on the main app, outside /v1: no API key, no rate limit; or on an ops server, ops-server.ts). */
export function metricsRoutes(metrics: ServiceMetrics) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(metricsRoute, async (c) => {
    const { contentType, body } = await metrics.scrape();
    return c.text(body, 200, { 'content-type': contentType });
  });
  return app;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** The route label of a request no route matched: one value, whatever the path. */
export const UNMATCHED_ROUTE = '(unmatched)';

/**
 * Times every request into lading_http_request_duration_seconds. The route label is the template
 * of the route that matched (/v1/imports/:id), never the path, so the series stay bounded: the
 * last matched handler registered for a method (middleware are registered for ALL), even when a
 * middleware answered first (a 401 of /v1/imports/:id is labelled with that route).
 * Not @hono/prometheus: its route label is c.req.routePath, the path of the handler running at the
 * time, so a request answered by the /v1/* auth middleware was labelled /v1/*.
 */
export function recordHttpMetrics(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const end = httpRequestDuration.startTimer();
    try {
      await next();
    } finally {
      const route = matchedRoutes(c).findLast((r) => r.method !== 'ALL')?.path ?? UNMATCHED_ROUTE;
      const method = METHODS.has(c.req.method) ? c.req.method : 'other';
      end({ method, route, status: String(c.res.status) });
    }
  };
}
