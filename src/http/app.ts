import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import type { Pool } from '../db/pool.ts';
import type { Heartbeat, SocketOptions } from '../events/event-socket.ts';
import type { ImportEventHub } from '../events/import-event-hub.ts';
import type { Logger } from '../logger.ts';
import { describeProblems } from '../products/product-schema.ts';
import type { AppEnv } from './app-env.ts';
import { requireApiKey } from './auth.ts';
import { rateLimitPerApiKey, type RateLimit } from './rate-limit.ts';
import { ApiError, type ErrorBody } from './errors.ts';
import { InvalidCursorError } from './openapi.ts';
import { docsRoutes } from './routes/docs.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { importRoutes } from './routes/imports.ts';
import { auditRoutes } from './routes/audit.ts';
import { productRoutes } from './routes/products.ts';
import { webhookRoutes } from './routes/webhooks.ts';

export type AppDeps = {
  pool: Pool;
  logger: Logger;
  dataDir: string;
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

  app.use(requestId());
  app.use(async (c, next) => {
    const logger = deps.logger.child({ requestId: c.var.requestId });
    c.set('logger', logger);
    const started = performance.now();
    await next();
    const ms = Math.round(performance.now() - started);
    logger.info({ method: c.req.method, path: c.req.path, status: c.res.status, ms }, 'request');
  });

  app.route('/', healthRoutes(deps));
  app.use('/v1/*', requireApiKey(deps.pool));
  app.use('/v1/*', rateLimitPerApiKey(deps.rateLimit));
  app.use('/v1/*', jsonBodyLimit(deps.maxJsonBodyBytes));
  app.route('/v1/imports', importRoutes(deps));
  app.route('/v1/products', productRoutes(deps));
  app.route('/v1/webhooks', webhookRoutes(deps));
  app.route('/v1/audit', auditRoutes(deps));
  app.route('/v1', eventRoutes(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key from `npm run apikey -- create --tenant NAME`',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Lading',
      version: '0.1.0',
      description: 'Bulk CSV product imports into PostgreSQL: upload, watch, inspect rejected rows.',
    },
  });
  app.route('/docs', docsRoutes());

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

/**
 * Every /v1 request with a body, except the CSV upload (which streams to disk under its own
 * MAX_UPLOAD_BYTES), is refused with 413 once its body passes `maxBytes`: at once from
 * Content-Length, or as soon as a chunked body has passed the limit, never buffering more.
 */
function jsonBodyLimit(maxBytes: number) {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: (c) => {
      // The rest of the body is not read: the client must not send its next request on this connection.
      c.header('Connection', 'close');
      throw new ApiError('payload_too_large', `The request body is larger than the limit of ${maxBytes} bytes (MAX_JSON_BODY_BYTES)`);
    },
  });
  return createMiddleware<AppEnv>((c, next) => {
    const { method, path } = c.req;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
    if (method === 'POST' && /^\/v1\/imports\/?$/.test(path)) return next();
    return limit(c, next);
  });
}

function toApiError(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof InvalidCursorError) return new ApiError('bad_request', error.message);
  if (error instanceof SyntaxError) return new ApiError('bad_request', `The body is not valid JSON: ${error.message}`);
  if (error instanceof HTTPException) {
    if (error.status === 400) return new ApiError('bad_request', error.message || 'Malformed request');
    if (error.status === 401) return new ApiError('unauthorized', error.message);
    if (error.status === 404) return new ApiError('not_found', error.message);
    if (error.status === 413) return new ApiError('payload_too_large', error.message);
  }
  return undefined;
}
