import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import type { Config } from './config.ts';
import { migrateDatabase } from './db/migrate.ts';
import { openDatabase, type Database } from './db/open-database.ts';
import { createPool, type Pool } from './db/pool.ts';
import { createHeartbeat } from './events/event-socket.ts';
import { createImportEventHub, type ImportEventHub } from './events/import-event-hub.ts';
import { startImportEventsListener } from './events/import-events-listener.ts';
import { createApp } from './http/app.ts';
import { startMetricsServer } from './http/routes/metrics.ts';
import { IMPORT_TASK } from './imports/import-queries.ts';
import { createServiceMetrics } from './metrics/service-metrics.ts';
import type { Logger } from './logger.ts';
import { startTracing } from './tracing/start-tracing.ts';
import { startWorkers } from './worker/start-worker.ts';

export type Service = {
  url: string;
  database: Database;
  pool: Pool;
  hub: ImportEventHub;
  /** Where GET /metrics is served when METRICS_PORT is set; otherwise undefined (it is on url, if enabled). */
  metricsUrl: string | undefined;
  stop(): Promise<void>;
};

/** Database (embedded or DATABASE_URL), migrations, the worker and the HTTP API, in one process. */
export async function startService(config: Config, logger: Logger): Promise<Service> {
  // First, so every span (HTTP, jobs) goes to the provider; a no-op unless OTLP is configured.
  const tracing = await startTracing(config.tracing, logger);
  const database = await openDatabase(config, logger);
  const pool = createPool(database.connectionString, config.databasePoolSize);
  const { applied } = await migrateDatabase(pool, logger);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  const hub = createImportEventHub({ pool, logger });
  const listener = await startImportEventsListener({
    connectionString: database.connectionString,
    logger,
    onNotification: (notification) => hub.handle(notification),
    onReconnect: (lostAt) => void hub.resync(lostAt),
  });
  // The worker pools join `pools` once created (after the HTTP server): they are read at scrape time.
  const pools: Record<string, Pool> = { api: pool };
  const metrics = config.metrics.enabled ? createServiceMetrics({ logger, pool, pools, hub, importTask: IMPORT_TASK }) : undefined;
  const heartbeat = createHeartbeat(config.wsHeartbeatMs);
  const shutdown = new AbortController();
  // What /ready reports; set once the runners below have started.
  const runningWorkers = { imports: false, webhooks: false };

  let url = '';
  const app = createApp({
    get publicBaseUrl() {
      return config.publicBaseUrl ?? url;
    },
    pool,
    logger,
    dataDir: config.dataDir,
    maxUploadBytes: config.maxUploadBytes,
    maxJsonBodyBytes: config.maxJsonBodyBytes,
    rateLimit: config.rateLimit,
    hub,
    heartbeat,
    socket: { maxBufferedBytes: config.wsMaxBufferedBytes },
    allowPrivateWebhooks: config.webhooks.allowPrivate,
    consoleEnabled: config.consoleEnabled,
    shutdownSignal: shutdown.signal,
    httpTracing: tracing.httpMiddleware,
    runningWorkers,
    metrics: metrics && { service: metrics, serve: config.metrics.port === undefined },
  });
  const websocket = { server: new WebSocketServer({ noServer: true }) };
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host, websocket }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const metricsServer =
    metrics && config.metrics.port !== undefined ? await startMetricsServer(metrics, { port: config.metrics.port, host: config.host }) : undefined;

  // Workers have their own pools so a burst of HTTP requests can never starve running imports.
  // Each running import holds two writer connections (batch-writer.ts) and briefly a third.
  const importPool = createPool(database.connectionString, config.workerConcurrency * 3 + 2);
  const webhookPool = createPool(database.connectionString, config.webhooks.concurrency + 2);
  Object.assign(pools, { imports: importPool, webhooks: webhookPool });
  const workers = await startWorkers({
    importPool,
    webhookPool,
    logger,
    config,
    publicBaseUrl: config.publicBaseUrl ?? url,
  });
  Object.assign(runningWorkers, { imports: true, webhooks: config.webhooks.concurrency > 0 });

  return {
    url,
    database,
    pool,
    hub,
    metricsUrl: metricsServer?.url,
    /**
     * Uploads in progress and new ones get 503; subscribers are told (1001 going away); running
     * imports commit their current batch, re-enqueue themselves and release their jobs.
     */
    async stop() {
      shutdown.abort();
      hub.closeAll(1001, 'server shutting down');
      heartbeat.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await metricsServer?.close();
      await listener.stop();
      await workers.stop();
      await tracing.stop(); // after the jobs: their last spans are exported
      await Promise.all([pool.end(), importPool.end(), webhookPool.end()]);
      await database.close();
    },
  };
}
