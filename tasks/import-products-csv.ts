import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { runImport, type ImportDeps } from '../src/imports/run-import.ts';

const payloadSchema = z.object({ importId: z.uuid() });

/**
 * graphile-worker task `import_products_csv`: loads one uploaded CSV into products.
 * Safe to run twice (see runImport); on its last attempt an unexpected error fails the import
 * instead of leaving it processing forever.
 */
export function createImportProductsCsvTask(deps: ImportDeps): Task {
  return async (payload, helpers) => {
    const { importId } = payloadSchema.parse(payload);
    const logger = deps.logger.child({ jobId: helpers.job.id, attempt: helpers.job.attempts });
    await runImport({ ...deps, logger }, importId, { isLast: helpers.job.attempts >= helpers.job.max_attempts });
  };
}
