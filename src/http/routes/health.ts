import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { Queryable } from '../../db/pool.ts';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { errorResponses, json } from '../openapi.ts';

const READY_TIMEOUT_MS = 2000;

export function healthRoutes(deps: { pool: Queryable }) {
  const app = new OpenAPIHono<AppEnv>();

  const liveRoute = createRoute({
    method: 'get',
    path: '/health',
    tags: ['health'],
    summary: 'Liveness: the process answers',
    responses: { 200: json(z.object({ status: z.literal('ok') }), 'Alive') },
  });
  app.openapi(liveRoute, (c) => c.json({ status: 'ok' as const }, 200));

  const readyRoute = createRoute({
    method: 'get',
    path: '/ready',
    tags: ['health'],
    summary: 'Readiness: the database answers',
    responses: {
      200: json(z.object({ status: z.literal('ready'), database: z.object({ latency_ms: z.number() }) }), 'Ready'),
      ...errorResponses(503),
    },
  });
  app.openapi(readyRoute, async (c) => {
    const started = performance.now();
    try {
      await Promise.race([
        deps.pool.query('select 1'),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), READY_TIMEOUT_MS).unref()),
      ]);
    } catch (error) {
      throw new ApiError('service_unavailable', `The database is not reachable: ${(error as Error).message}`);
    }
    const latency = Math.round((performance.now() - started) * 100) / 100;
    return c.json({ status: 'ready' as const, database: { latency_ms: latency } }, 200);
  });

  return app;
}
