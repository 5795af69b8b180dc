import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Principal } from '../api-keys/api-keys.ts';
import { withTransaction, type Pool } from '../db/pool.ts';
import { ApiError } from '../http/errors.ts';
import { addImportJob, insertImport, type ImportRow } from './import-queries.ts';
import { storeUpload } from './store-upload.ts';

/**
 * Streams the upload to DATA_DIR/uploads, then records the import and enqueues its job in one
 * transaction: there is never an import without a job, nor a job without an import.
 */
export async function createImport(
  deps: { pool: Pool; dataDir: string; maxUploadBytes: number; shutdownSignal: AbortSignal },
  request: Request,
  principal: Principal,
): Promise<ImportRow> {
  if (deps.shutdownSignal.aborted) {
    throw new ApiError('service_unavailable', 'The server is shutting down: retry the upload shortly');
  }
  const id = randomUUID();
  const filePath = path.join(deps.dataDir, 'uploads', `${id}.csv`);
  const upload = await storeUpload(request, { filePath, maxBytes: deps.maxUploadBytes, signal: deps.shutdownSignal });
  try {
    return await withTransaction(deps.pool, async (client) => {
      const row = await insertImport(client, {
        id,
        tenantId: principal.tenantId,
        apiKeyId: principal.apiKeyId,
        filename: upload.filename,
        filePath,
        bytes: upload.bytes,
        sha256: upload.sha256,
      });
      await addImportJob(client, id);
      return row;
    });
  } catch (error) {
    await rm(filePath, { force: true });
    throw error;
  }
}
