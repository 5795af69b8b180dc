import { run, type Runner } from 'graphile-worker';
import { createImportProductsCsvTask } from '../../tasks/import-products-csv.ts';
import type { Pool } from '../db/pool.ts';
import { IMPORT_TASK } from '../imports/import-queries.ts';
import type { Logger } from '../logger.ts';
import { toGraphileLogger } from './graphile-logger.ts';

export type WorkerDeps = { pool: Pool; logger: Logger; concurrency: number; batchSize: number };

/**
 * Runs graphile-worker in this process. Signals are handled by the caller, which stops the HTTP
 * server first and then the worker, so the order of shutdown is ours.
 */
export async function startWorker(deps: WorkerDeps): Promise<Runner> {
  const logger = deps.logger.child({ component: 'worker' });
  return run({
    pgPool: deps.pool,
    concurrency: deps.concurrency,
    noHandleSignals: true,
    // Jobs are announced by LISTEN/NOTIFY; polling is only the fallback.
    pollInterval: 2000,
    logger: toGraphileLogger(logger),
    parsedCronItems: [],
    taskList: {
      [IMPORT_TASK]: createImportProductsCsvTask({ pool: deps.pool, logger, batchSize: deps.batchSize }),
    },
  });
}
