import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { Hono, type MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import { matchedRoutes } from 'hono/route';
import { z } from 'zod';
import { httpRequestDuration } from '../../metrics/metrics.ts';
import type { ServiceMetrics } from '../../metrics/service-metrics.ts';
import type { AppEnv } from '../app-env.ts';
import { ApiError, type ErrorBody } from '../errors.ts';

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

/** GET /metrics on the main app: outside /v1, so no API key and no rate limit. */
export function metricsRoutes(metrics: ServiceMetrics) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(metricsRoute, async (c) => {
    const { contentType, body } = await metrics.scrape();
    return c.text(body, 200, { 'content-type': contentType });
  });
  return app;
}

/**
 * The app of the METRICS_PORT server: /metrics and nothing else (any other path is a 404 in the
 * one error shape). Its own requests are not counted in the HTTP histogram.
 */
export function metricsOnlyApp(metrics: ServiceMetrics) {
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.get('/metrics', async (c) => {
    const { contentType, body } = await metrics.scrape();
    return c.body(body, 200, { 'content-type': contentType });
  });
  app.notFound((c) => {
    throw new ApiError('not_found', `No route for ${c.req.method} ${c.req.path}`);
  });
  app.onError((error, c) => {
    const apiError = error instanceof ApiError ? error : new ApiError('internal_error', 'Something went wrong on our side');
    const body: ErrorBody = { error: { code: apiError.code, message: apiError.message, requestId: c.var.requestId } };
    return c.json(body, apiError.status);
  });
  return app;
}

/** The METRICS_PORT server, on the service's host. */
export async function startMetricsServer(metrics: ServiceMetrics, listen: { port: number; host: string }) {
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: metricsOnlyApp(metrics).fetch, port: listen.port, hostname: listen.host }, () => resolve(s));
    s.once('error', reject); // the port is taken: the service does not start
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? 'localhost' : listen.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
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
