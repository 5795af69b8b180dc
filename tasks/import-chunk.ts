import { SpanKind } from '@opentelemetry/api';
import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { CHUNK_TASK } from '../src/imports/chunk-queries.ts';
import type { ImportDeps } from '../src/imports/run-import.ts';
import { stageChunk } from '../src/imports/stage-chunk.ts';
import { inSpan } from '../src/tracing/spans.ts';

const payloadSchema = z.object({ importId: z.uuid(), chunk: z.number().int().min(1) });

/**
 * graphile-worker task `import_chunk`: parses one chunk of a large upload into staged batches, on
 * whichever worker takes it (src/imports/stage-chunk.ts). Safe to run twice.
 */
export function createImportChunkTask(deps: ImportDeps): Task {
  return async (payload, helpers) => {
    const { importId, chunk } = payloadSchema.parse(payload);
    const logger = deps.logger.child({ jobId: helpers.job.id, attempt: helpers.job.attempts });
    const span = { kind: SpanKind.CONSUMER, attributes: { 'lading.import.id': importId, 'lading.import.chunk': chunk, 'lading.job.id': helpers.job.id } };
    await inSpan(CHUNK_TASK, span, () => stageChunk({ ...deps, logger }, importId, chunk));
  };
}
