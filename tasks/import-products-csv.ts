import { SpanKind } from '@opentelemetry/api';
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { IMPORT_TASK } from '../src/imports/import-queries.ts';
import { runImport, type ImportDeps } from '../src/imports/run-import.ts';
import { contextFromCarrier, inSpan, traceField } from '../src/tracing/spans.ts';

// trace: the upload request's span (absent when tracing is off, and in jobs enqueued before it existed).
const payloadSchema = z.object({ importId: z.uuid(), trace: traceField });

/**
 * graphile-worker task `import_products_csv`: loads one uploaded CSV into products.
 * Safe to run twice (see runImport); on its last attempt an unexpected error fails the import
 * instead of leaving it processing forever.
 */
export function createImportProductsCsvTask(deps: ImportDeps): Task {
  return async (payload, helpers) => {
    const { importId, trace } = payloadSchema.parse(payload);
    const logger = deps.logger.child({ jobId: helpers.job.id, attempt: helpers.job.attempts });
    const span = {
      kind: SpanKind.CONSUMER,
      parent: contextFromCarrier(trace),
      attributes: { 'lading.import.id': importId, 'lading.job.id': helpers.job.id, 'lading.job.attempt': helpers.job.attempts },
    };
    await inSpan(IMPORT_TASK, span, () =>
      runImport({ ...deps, logger }, importId, { isLast: helpers.job.attempts >= helpers.job.max_attempts, trace }),
    );
  };
}
