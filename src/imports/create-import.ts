import { randomUUID } from 'node:crypto';
import { recordAudit, type Actor } from '../audit/audit-log.ts';
import { withTransaction, type Pool } from '../db/pool.ts';
import { ConflictError, InvalidInputError, ShuttingDownError } from '../errors.ts';
import { findTemplateByName } from '../templates/template-queries.ts';
import { currentTraceCarrier } from '../tracing/spans.ts';
import { resolveImportOptions, uploadOptionsSchema, type UploadOptions } from './import-options.ts';
import { addImportJob, claimIdempotencyKey, findIdempotencyKey, findImport, insertImport, type ImportRow } from './import-queries.ts';
import { storeUpload, type UploadRequest } from './store-upload.ts';
import { insertImportChunks } from './chunk-queries.ts';
import type { Storage } from '../storage/storage.ts';

export type CreateImportDeps = {
  pool: Pool;
  storage: Storage;
  /** Uploads longer than `bytes` are cut into chunks for many workers (0: never). */
  chunking: { bytes: number; batchSize: number };
  maxUploadBytes: number;
  shutdownSignal: AbortSignal;
};

class KeyAlreadyUsed extends Error {}

/**
 * Streams the upload into storage (DATA_DIR/uploads, or STORAGE_URL), then records the import, enqueues its job and writes the
 * audit entry in one transaction: there is never an import without a job, nor a job without an
 * import. With an Idempotency-Key, a repeat of the same content returns the original import
 * (`replayed`), even when the repeats arrive at the same moment.
 */
export async function createImport(
  deps: CreateImportDeps,
  upload: UploadRequest,
  actor: Actor,
  request: { idempotencyKey?: string; options?: UploadOptions } = {},
): Promise<{ row: ImportRow; replayed: boolean }> {
  const idempotencyKey = request.idempotencyKey;
  if (deps.shutdownSignal.aborted) {
    throw new ShuttingDownError('The server is shutting down: retry the upload shortly');
  }
  // A template named in the query that does not exist is refused before the body is read.
  const queryOptions = request.options ?? {};
  const queryTemplate = queryOptions.template ? await findTemplate(deps.pool, actor.tenantId, queryOptions.template) : undefined;
  let resolved = resolveImportOptions(queryOptions, queryTemplate);
  const id = randomUUID();
  const filePath = deps.storage.locate(`${id}.csv`);
  const stored = await storeUpload(upload, {
    storage: deps.storage,
    location: filePath,
    // Once the options are known (form fields come before the file): header_row says where records start.
    chunking: () =>
      deps.chunking.bytes > 0 ? { chunkBytes: deps.chunking.bytes, batchSize: deps.chunking.batchSize, headerRow: resolved.options.header_row } : undefined,
    maxBytes: deps.maxUploadBytes,
    signal: deps.shutdownSignal,
    // Options sent as form fields before the file join the query's, before a byte is stored; a
    // template they name is looked up then, so its encoding applies too.
    resolveEncoding: async (fields) => {
      const formOptions = parseFormOptions(fields, queryOptions);
      if (Object.keys(formOptions).length === 0) return resolved.encoding;
      const template = formOptions.template ? await findTemplate(deps.pool, actor.tenantId, formOptions.template) : queryTemplate;
      resolved = resolveImportOptions({ ...queryOptions, ...formOptions }, template);
      return resolved.encoding;
    },
  });
  try {
    refuseLateOptions(stored.lateFields);
    const row = await withTransaction(deps.pool, async (client) => {
      const row = await insertImport(client, {
        id,
        tenantId: actor.tenantId,
        apiKeyId: actor.apiKeyId,
        filename: stored.filename,
        filePath,
        bytes: stored.bytes,
        sha256: stored.sha256,
        fileFormat: stored.format,
        ...resolved,
        encoding: stored.encoding, // the one applied (auto → utf-8, windows-1252 …)
        warnings: stored.warnings,
      });
      if (idempotencyKey) {
        const claimed = await claimIdempotencyKey(client, { tenantId: actor.tenantId, key: idempotencyKey, sha256: stored.sha256, importId: id });
        if (!claimed) throw new KeyAlreadyUsed();
      }
      await insertImportChunks(client, id, stored.chunkStarts);
      await addImportJob(client, id, currentTraceCarrier()); // the job's spans join this request's trace
      await recordAudit(client, actor, {
        action: 'import.created',
        targetType: 'import',
        targetId: id,
        details: { filename: stored.filename, bytes: stored.bytes, sha256: stored.sha256, idempotencyKey: idempotencyKey ?? null },
      });
      return row;
    });
    return { row, replayed: false };
  } catch (error) {
    await deps.storage.remove(filePath);
    if (!(error instanceof KeyAlreadyUsed)) throw error;
    return { row: await replay(deps.pool, actor.tenantId, idempotencyKey!, stored.sha256), replayed: true };
  }
}

async function findTemplate(pool: Pool, tenantId: string, name: string) {
  const template = await findTemplateByName(pool, tenantId, name);
  if (!template) throw new InvalidInputError(`No template named "${name}"`);
  return template;
}

const OPTION_NAMES = Object.keys(uploadOptionsSchema.shape);

/**
 * The upload options among a form's fields (others are ignored, as unknown query parameters are),
 * read with the query's schema. An option given both in the query and as a field is refused
 * rather than one silently winning.
 */
function parseFormOptions(fields: Record<string, string>, queryOptions: UploadOptions): UploadOptions {
  const given = Object.keys(fields).filter((name) => OPTION_NAMES.includes(name));
  const twice = given.filter((name) => queryOptions[name as keyof UploadOptions] !== undefined);
  if (twice.length > 0) {
    throw new InvalidInputError(`${twice.join(', ')}: given both in the query string and as a form field; give each option once`);
  }
  const parsed = uploadOptionsSchema.safeParse(Object.fromEntries(given.map((name) => [name, fields[name]])));
  if (parsed.success) return parsed.data;
  throw new InvalidInputError(
    parsed.error.issues.map((issue) => `form field ${String(issue.path[0])} ${issue.message}`).join('; '),
  );
}

/** Options sent after the file would come too late to apply: refused, not silently ignored (dry_run!). */
function refuseLateOptions(lateFields: string[]): void {
  const late = lateFields.filter((name) => OPTION_NAMES.includes(name));
  if (late.length > 0) {
    throw new InvalidInputError(`form field ${late.join(', ')} came after the file: send options before the "file" part, or in the query string`);
  }
}

async function replay(pool: Pool, tenantId: string, key: string, sha256: string): Promise<ImportRow> {
  const used = await findIdempotencyKey(pool, tenantId, key);
  const original = used && (await findImport(pool, tenantId, used.import_id));
  if (!used || !original) throw new ConflictError(`Idempotency-Key "${key}" is being used by another request; retry`);
  if (used.sha256 !== sha256) {
    throw new ConflictError(
      `Idempotency-Key "${key}" was already used in the last 24 hours for a different file (sha256 ${used.sha256}); use a new key for new content`,
    );
  }
  return original;
}
