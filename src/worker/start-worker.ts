import module from 'node:module';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { run, type Runner, type WorkerEvents } from 'graphile-worker';
import { createDeliverWebhookTask } from '../../tasks/deliver-webhook.ts';
import { createImportChunkTask } from '../../tasks/import-chunk.ts';
import { createImportProductsCsvTask } from '../../tasks/import-products-csv.ts';
import { CHUNK_TASK } from '../imports/chunk-queries.ts';
import type { ImportDeps } from '../imports/run-import.ts';
import type { Config } from '../config.ts';
import type { Pool } from '../db/pool.ts';
import { IMPORT_TASK } from '../imports/import-queries.ts';
import type { Logger } from '../logger.ts';
import type { Storage } from '../storage/storage.ts';
import { DELIVER_WEBHOOK_TASK } from '../webhooks/webhook-queries.ts';
import { toGraphileLogger } from './graphile-logger.ts';
import { startWorkerRegistry } from './worker-registry.ts';

export type WorkerDeps = {
  importPool: Pool;
  storage: Storage;
  webhookPool: Pool;
  logger: Logger;
  config: Pick<
    Config,
    | 'workerConcurrency'
    | 'workerPollIntervalMs'
    | 'workerStaleAfterMs'
    | 'batchSize'
    | 'webhooks'
    | 'limits'
    | 'importJobTimeBudgetMs'
    | 'dataDir'
  >;
  publicBaseUrl: string;
};

export type Workers = {
  /** Asks running imports to stop at their next batch boundary, then waits for every job. */
  stop(): Promise<void>;
};

/**
 * Runs graphile-worker in this process: one runner for imports and one for webhook deliveries,
 * each with its own concurrency and pool, so a slow receiver never holds up an import and a long
 * import never delays a webhook. Signals are handled by the caller, which orders the shutdown.
 */
export async function startWorkers(deps: WorkerDeps): Promise<Workers> {
  const logger = deps.logger.child({ component: 'worker' });
  const shutdown = new AbortController();
  // Releases what dead workers (a crashed previous run of this service) still hold, before we start.
  const registry = await startWorkerRegistry({ pool: deps.importPool, logger, staleAfterMs: deps.config.workerStaleAfterMs });
  const events: WorkerEvents = new EventEmitter();
  // Jobs are locked under the pool's id (and, in older graphile-worker versions, the worker's).
  const register = (id: string) =>
    registry.register(id).catch((error: unknown) => logger.warn({ err: error }, 'could not register worker'));
  events.on('pool:create', ({ workerPool }) => void register(workerPool.id));
  events.on('worker:create', ({ worker }) => void register(worker.workerId));
  const common = {
    events,
    noHandleSignals: true,
    // New jobs are announced by LISTEN/NOTIFY; polling finds retries whose run_at has come.
    pollInterval: deps.config.workerPollIntervalMs,
    logger: toGraphileLogger(logger),
    parsedCronItems: [],
  };
  const importDeps: ImportDeps = {
    pool: deps.importPool,
    storage: deps.storage,
    workDir: path.join(deps.config.dataDir, 'work'),
    logger,
    batchSize: deps.config.batchSize,
    publicBaseUrl: deps.publicBaseUrl,
    limits: deps.config.limits,
    jobTimeBudgetMs: deps.config.importJobTimeBudgetMs,
    compileCacheDir: threadCompileCacheDir(deps.config.dataDir),
    shutdownSignal: shutdown.signal,
  };
  const runners: Runner[] = [
    await run({
      ...common,
      pgPool: deps.importPool,
      concurrency: deps.config.workerConcurrency,
      taskList: {
        [IMPORT_TASK]: createImportProductsCsvTask(importDeps),
        // The chunks of a large upload, parsed by any worker alongside the import's own job.
        [CHUNK_TASK]: createImportChunkTask(importDeps),
      },
    }),
  ];
  if (deps.config.webhooks.concurrency > 0) {
    runners.push(
      await run({
        ...common,
        pgPool: deps.webhookPool,
        concurrency: deps.config.webhooks.concurrency,
        taskList: {
          [DELIVER_WEBHOOK_TASK]: createDeliverWebhookTask({ pool: deps.webhookPool, logger, webhooks: deps.config.webhooks }),
        },
      }),
    );
  }
  return {
    async stop() {
      shutdown.abort();
      await Promise.all(runners.map((runner) => runner.stop()));
      await registry.stop();
    },
  };
}

/**
 * Where the parser and xlsx threads keep Node's compile cache: the process's own when it has one
 * (bin/lading-server.js enables it; Node adds the same version folder under it), so a thread finds
 * warm what any earlier start compiled; else DATA_DIR. A thread that misses strips the types
 * again, loading Node's TypeScript stripper (a WebAssembly module: ~30 MB of RSS in the main thread).
 */
function threadCompileCacheDir(dataDir: string): string {
  const processCache = module.getCompileCacheDir?.();
  return processCache ? path.dirname(processCache) : path.join(dataDir, 'compile-cache');
}
