import { WebSocketServer } from 'ws';
import type { Config } from './config.ts';
import { migrateDatabase } from './db/migrate.ts';
import { openDatabase, type Database } from './db/open-database.ts';
import { createPool, type Pool } from './db/pool.ts';
import { createHeartbeat } from './events/event-socket.ts';
import { createImportEventHub } from './events/import-event-hub.ts';
import { startImportEventsListener } from './events/import-events-listener.ts';
import { createApp } from './http/app.ts';
import { listen, opsApp } from './http/ops-server.ts';
import { IMPORT_TASK } from './imports/import-queries.ts';
import { createServiceMetrics } from './metrics/service-metrics.ts';
import type { Logger } from './logger.ts';
import { openStorage } from './storage/storage.ts';
import { startTracing } from './tracing/start-tracing.ts';
import { startWorkers, type Workers } from './worker/start-worker.ts';

export type Service = {
  /** Where this process listens: the API, or in a worker process its /health, /ready and /metrics. */
  url: string;
  database: Database;
  pool: Pool;
  /** Where GET /metrics is served when METRICS_PORT is set; otherwise undefined (it is on url, if enabled). */
  metricsUrl: string | undefined;
  stop(): Promise<void>;
};

/**
 * Database (embedded or DATABASE_URL) and migrations, then what the role runs (config.role): the
 * HTTP API with live progress (all, api), the job runners (all, worker).
 */
export async function startService(config: Config, logger: Logger): Promise<Service> {
  // First, so every span (HTTP, jobs) goes to the provider; a no-op unless OTLP is configured.
  const tracing = await startTracing(config.tracing, logger);
  const database = await openDatabase(config, logger);
  const pool = createPool(database.connectionString, config.databasePoolSize);
  const { applied } = await migrateDatabase(pool, logger); // once, whatever the processes: an advisory lock
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  const storage = await openStorage(config.storage, logger);
  const runsApi = config.role !== 'worker';
  const runsJobs = config.role !== 'api';

  const hub = runsApi ? createImportEventHub({ pool, logger }) : undefined;
  const listener =
    hub &&
    (await startImportEventsListener({
      connectionString: database.connectionString,
      logger,
      onNotification: (notification) => hub.handle(notification),
      onReconnect: (lostAt) => void hub.resync(lostAt),
    }));
  // The worker pools join `pools` once created (after the HTTP server): they are read at scrape time.
  const pools: Record<string, Pool> = { api: pool };
  const metrics = config.metrics.enabled
    ? createServiceMetrics({ logger, pool, pools, hub: hub ?? { subscriberCount: () => 0 }, importTask: IMPORT_TASK })
    : undefined;
  const heartbeat = createHeartbeat(config.wsHeartbeatMs);
  const shutdown = new AbortController();
  // What /ready reports; set once the runners below have started.
  const runningWorkers = { imports: false, webhooks: false };
  const metricsOnOwnPort = config.metrics.port !== undefined;

  let url = '';
  const http = hub
    ? await listen(
        createApp({
          get publicBaseUrl() {
            return config.publicBaseUrl ?? url;
          },
          pool,
          logger,
          storage,
          chunking: { bytes: config.importChunkBytes, batchSize: config.batchSize },
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
          metrics: metrics && { service: metrics, serve: !metricsOnOwnPort },
        }).fetch,
        { port: config.port, host: config.host, websocket: { server: new WebSocketServer({ noServer: true }) } },
      )
    : await listen(opsApp({ health: { pool, runningWorkers }, metrics: metricsOnOwnPort ? undefined : metrics }).fetch, config);
  url = http.url;
  const metricsServer = metrics && metricsOnOwnPort ? await listen(opsApp({ metrics }).fetch, { port: config.metrics.port!, host: config.host }) : undefined;

  let workers: Workers | undefined;
  if (runsJobs) {
    // Workers have their own pools so a burst of HTTP requests can never starve running imports.
    // Each running import holds two writer connections (batch-writer.ts) and briefly a third.
    const importPool = createPool(database.connectionString, config.workerConcurrency * 3 + 2);
    const webhookPool = createPool(database.connectionString, config.webhooks.concurrency + 2);
    Object.assign(pools, { imports: importPool, webhooks: webhookPool });
    workers = await startWorkers({
      importPool,
      storage,
      webhookPool,
      logger,
      config,
      // A worker process's own address is not the API's: its config requires PUBLIC_BASE_URL.
      publicBaseUrl: config.publicBaseUrl ?? url,
    });
    Object.assign(runningWorkers, { imports: true, webhooks: config.webhooks.concurrency > 0 });
  }

  return {
    url,
    database,
    pool,
    metricsUrl: metricsServer?.url,
    /**
     * Uploads in progress and new ones get 503; subscribers are told (1001 going away); running
     * imports commit their current batch, re-enqueue themselves and release their jobs.
     */
    async stop() {
      shutdown.abort();
      hub?.closeAll(1001, 'server shutting down');
      heartbeat.stop();
      await http.close();
      await metricsServer?.close();
      await listener?.stop();
      await workers?.stop();
      await tracing.stop(); // after the jobs: their last spans are exported
      await Promise.all(Object.values(pools).map((p) => p.end()));
      await database.close();
    },
  };
}
