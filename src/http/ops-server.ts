import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Queryable } from '../db/pool.ts';
import type { ServiceMetrics } from '../metrics/service-metrics.ts';
import type { AppEnv } from './app-env.ts';
import { ApiError, type ErrorBody } from './errors.ts';
import { healthRoutes, type RunningWorkers } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';

/**
 * The app of an operator-only server: /health and /ready (a worker process, LADING_ROLE=worker,
 * on its PORT) and /metrics (there, or alone on METRICS_PORT), nothing else: any other path is a
 * 404 in the one error shape. No API key, no rate limit; its requests are not counted in the HTTP
 * histogram (they are the scrapes and probes themselves).
 */
export function opsApp(deps: { health?: { pool: Queryable; runningWorkers: RunningWorkers }; metrics?: ServiceMetrics }) {
  const app = new Hono<AppEnv>();
  app.use(requestId());
  if (deps.health) app.route('/', healthRoutes(deps.health));
  if (deps.metrics) app.route('/', metricsRoutes(deps.metrics));
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

export type HttpListener = { server: ServerType; url: string; close(): Promise<void> };

/** Serves `fetch` on host:port (0: a free port); fails when the port is taken. */
export async function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  options: { port: number; host: string; websocket?: Parameters<typeof serve>[0]['websocket'] },
): Promise<HttpListener> {
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch, port: options.port, hostname: options.host, websocket: options.websocket }, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
