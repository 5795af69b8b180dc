import { readFileSync } from 'node:fs';
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { readDatabaseHealth } from '../../db/health-queries.ts';
import type { Queryable } from '../../db/pool.ts';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';
import { errorResponses, json } from '../openapi.ts';

// Well under the usual 5 s probe timeout of load balancers and orchestrators: they get our 503
// (with its reason) rather than a timeout of their own.
const READY_TIMEOUT_MS = 2000;
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The job runners this process runs; false until they have started. */
export type RunningWorkers = { imports: boolean; webhooks: boolean };

const liveSchema = z.object({
  status: z.literal('ok'),
  version: z.string().meta({ description: 'Lading version (package.json)', example: '0.1.0' }),
  uptime_seconds: z.number().int().meta({ description: 'Seconds since this process started' }),
});

const readySchema = z.object({
  status: z.literal('ready'),
  database: z.object({
    latency_ms: z.number().meta({ description: 'Round trip of the readiness query, in ms' }),
    migration_level: z.number().int().meta({ description: 'Highest migration applied (NNN of migrations/NNN_name.sql)', example: 10 }),
  }),
  workers: z
    .object({
      imports: z.boolean().meta({ description: 'This process runs import jobs' }),
      webhooks: z.boolean().meta({ description: 'This process sends webhooks (false with WEBHOOK_CONCURRENCY=0)' }),
    })
    .meta({ description: 'Job runners in this process; any number of processes share the one queue' }),
  queue: z.object({
    lag_seconds: z.number().meta({
      description: 'How long the oldest job that could run now has waited (0: none waits). Growing: workers are too few or stuck',
    }),
  }),
});

export function healthRoutes(deps: { pool: Queryable; runningWorkers: RunningWorkers }) {
  const app = new OpenAPIHono<AppEnv>();

  const liveRoute = createRoute({
    method: 'get',
    path: '/health',
    tags: ['health'],
    summary: 'Liveness: the process answers (no database access)',
    responses: { 200: json(liveSchema, 'Alive') },
  });
  app.openapi(liveRoute, (c) => c.json({ status: 'ok' as const, version: VERSION, uptime_seconds: Math.floor(process.uptime()) }, 200));

  const readyRoute = createRoute({
    method: 'get',
    path: '/ready',
    tags: ['health'],
    summary: 'Readiness: the database answers; migration level, workers, queue lag',
    description: `503 \`service_unavailable\` when the database cannot be reached or does not answer within ${READY_TIMEOUT_MS} ms.`,
    responses: { 200: json(readySchema, 'Ready'), ...errorResponses(503) },
  });
  app.openapi(readyRoute, async (c) => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    });
    let health: Awaited<ReturnType<typeof readDatabaseHealth>>;
    try {
      health = await Promise.race([readDatabaseHealth(deps.pool), timeout]);
    } catch (error) {
      throw new ApiError('service_unavailable', `The database is not reachable: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    const latency = Math.round((performance.now() - started) * 100) / 100;
    return c.json(
      {
        status: 'ready' as const,
        database: { latency_ms: latency, migration_level: health.migrationLevel },
        workers: { ...deps.runningWorkers },
        queue: { lag_seconds: Math.round(health.queueLagSeconds * 1000) / 1000 },
      },
      200,
    );
  });

  return app;
}
