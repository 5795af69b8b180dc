import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Runner } from 'graphile-worker';
import type { Config } from './config.ts';
import { migrateDatabase } from './db/migrate.ts';
import { openDatabase, type Database } from './db/open-database.ts';
import { createPool, type Pool } from './db/pool.ts';
import { createApp } from './http/app.ts';
import type { Logger } from './logger.ts';
import { startWorker } from './worker/start-worker.ts';

export type Service = {
  url: string;
  database: Database;
  pool: Pool;
  stop(): Promise<void>;
};

/** Database (embedded or DATABASE_URL), migrations, the worker and the HTTP API, in one process. */
export async function startService(config: Config, logger: Logger): Promise<Service> {
  const database = await openDatabase(config, logger);
  const pool = createPool(database.connectionString, config.databasePoolSize);
  const { applied } = await migrateDatabase(pool, logger);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');

  // The worker has its own pool so a burst of HTTP requests can never starve running imports.
  const workerPool = createPool(database.connectionString, config.workerConcurrency * 2 + 2);
  const worker: Runner = await startWorker({
    pool: workerPool,
    logger,
    concurrency: config.workerConcurrency,
    batchSize: config.batchSize,
  });

  const app = createApp({ pool, logger, dataDir: config.dataDir, maxUploadBytes: config.maxUploadBytes });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    database,
    pool,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await worker.stop();
      await Promise.all([pool.end(), workerPool.end()]);
      await database.close();
    },
  };
}
