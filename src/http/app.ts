import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { Pool } from '../db/pool.ts';
import type { Heartbeat, SocketOptions } from '../events/event-socket.ts';
import type { ImportEventHub } from '../events/import-event-hub.ts';
import type { Logger } from '../logger.ts';
import type { Storage } from '../storage/storage.ts';
import { describeProblems } from '../products/product-schema.ts';
import type { AppEnv } from './app-env.ts';
import { requireApiKeyOrTicket } from './auth.ts';
import { rateLimitPerApiKey, type RateLimit } from './rate-limit.ts';
import { ApiError, toApiError, type ErrorBody } from './errors.ts';
import { jsonBodyLimit } from './json-body-limit.ts';
import type { ServiceMetrics } from '../metrics/service-metrics.ts';
import { metricsRoutes, recordHttpMetrics } from './routes/metrics.ts';
import { docsRoutes } from './routes/docs.ts';
import { eventRoutes } from './routes/events.ts';
import { consoleRoutes } from './routes/console.ts';
import { healthRoutes, type RunningWorkers } from './routes/health.ts';
import { importRoutes } from './routes/imports.ts';
import { auditRoutes } from './routes/audit.ts';
import { alertRoutes } from './routes/alerts.ts';
import { statsRoutes } from './routes/stats.ts';
import { productRoutes } from './routes/products.ts';
import { templateRoutes } from './routes/templates.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { registerWebhookDocs } from './webhook-docs.ts';

export type AppDeps = {
  pool: Pool;
  logger: Logger;
  /** Where uploads are stored (src/storage/). */
  storage: Storage;
  /** Uploads longer than `bytes` are cut into chunks for many workers (0: never). */
  chunking: { bytes: number; batchSize: number };
  maxUploadBytes: number;
  /** Every JSON body; the CSV upload has maxUploadBytes instead. */
  maxJsonBodyBytes: number;
  /** Per API key, in this process; requests 0 = no limit. */
  rateLimit: RateLimit;
  hub: ImportEventHub;
  heartbeat: Heartbeat;
  socket: SocketOptions;
  allowPrivateWebhooks: boolean;
  /** Aborted when the process starts shutting down: uploads then answer 503. */
  shutdownSignal: AbortSignal;
  /** The HTTP server span of each request (src/tracing/start-tracing.ts); absent when tracing is off. */
  httpTracing?: MiddlewareHandler;
  /** Which job runners this process runs (GET /ready says). */
  runningWorkers: RunningWorkers;
  /** Absent with METRICS_ENABLED=false. serve: GET /metrics on this app (not when METRICS_PORT serves it). */
  metrics?: { service: ServiceMetrics; serve: boolean };
  /** The web console at `/` (CONSOLE_ENABLED). */
  consoleEnabled?: boolean;
  /** Base of links sent to integrators; read when needed (it is known once the server listens). */
  readonly publicBaseUrl: string;
};

export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({
    // zod failures at the edge become the one error shape, with every problem in one sentence.
    defaultHook: (result) => {
      if (!result.success) throw new ApiError('validation_failed', describeProblems(result.error.issues).message);
    },
  });

  if (deps.httpTracing) app.use(deps.httpTracing); // first: its span covers everything after it
  app.use(requestId());
  if (deps.metrics) app.use(recordHttpMetrics()); // before the rest: it times all that follows
  app.use(async (c, next) => {
    const logger = deps.logger.child({ requestId: c.var.requestId });
    c.set('logger', logger);
    const started = performance.now();
    await next();
    const ms = Math.round(performance.now() - started);
    logger.info({ method: c.req.method, path: c.req.path, status: c.res.status, ms }, 'request');
  });

  app.route('/', healthRoutes(deps));
  if (deps.metrics?.serve) app.route('/', metricsRoutes(deps.metrics.service)); // outside /v1: no key, no rate limit
  app.use('/v1/*', requireApiKeyOrTicket(deps.pool));
  app.use('/v1/*', rateLimitPerApiKey(deps.rateLimit));
  app.use('/v1/*', jsonBodyLimit(deps.maxJsonBodyBytes));
  app.route('/v1/imports', importRoutes(deps));
  app.route('/v1/products', productRoutes(deps));
  app.route('/v1/webhooks', webhookRoutes(deps));
  app.route('/v1/templates', templateRoutes(deps));
  app.route('/v1/audit', auditRoutes(deps));
  app.route('/v1/alerts', alertRoutes(deps));
  app.route('/v1/stats', statsRoutes(deps));
  app.route('/v1', eventRoutes(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key from `npm run apikey -- create --tenant NAME`',
  });
  registerWebhookDocs(app); // the OpenAPI 3.1 `webhooks` section: every event body Lading sends
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Lading',
      version: '0.1.0',
      description: 'Bulk CSV product imports into PostgreSQL: upload, watch, inspect rejected rows.',
    },
  });
  app.route('/docs', docsRoutes());
  if (deps.consoleEnabled) app.route('/', consoleRoutes()); // the web console: `/` and /console/*

  app.notFound((c) => {
    throw new ApiError('not_found', `No route for ${c.req.method} ${c.req.path}`);
  });
  app.onError((error, c) => {
    const known = toApiError(error);
    if (!known) c.var.logger?.error({ err: error }, 'unhandled error');
    const apiError = known ?? new ApiError('internal_error', 'Something went wrong on our side; the request id identifies it in the logs');
    const body: ErrorBody = { error: { code: apiError.code, message: apiError.message, requestId: c.var.requestId } };
    return c.json(body, apiError.status);
  });

  return app;
}
