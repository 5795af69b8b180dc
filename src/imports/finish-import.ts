import { checkSchemaDrift } from '../alerts/check-schema-drift.ts';
import { recordAudit, type Actor } from '../audit/audit-log.ts';
import { withTransaction, type Pool, type Queryable } from '../db/pool.ts';
import { ConflictError } from '../errors.ts';
import { countImportFinished } from '../metrics/import-metrics.ts';
import { inSpan } from '../tracing/spans.ts';
import { enqueueImportFinishedEvent } from '../webhooks/webhook-events.ts';
import { getImport } from './get-import.ts';
import { lockImportStatus, markImportFinished, type ImportRow } from './import-queries.ts';
import { deleteHeldRows } from './settle-held-rows.ts';

type FinishDeps = { pool: Pool; publicBaseUrl: string };

/**
 * Ends an import: its terminal status, the NOTIFY for live subscribers and the webhook outbox rows
 * commit together. Only a processing import can end this way, so the end happens once.
 */
export function finishImport(
  deps: FinishDeps,
  id: string,
  outcome: { status: 'succeeded' | 'failed'; error?: string },
  settle?: (client: Queryable) => Promise<void>,
): Promise<ImportRow | undefined> {
  // A span of its own (child of the job's): the webhook deliveries enqueued inside carry its context.
  const attributes = { 'lading.import.id': id, 'lading.import.status': outcome.status };
  return inSpan('import finish', { attributes }, () => endImport(deps, id, outcome, settle));
}

async function endImport(
  deps: FinishDeps,
  id: string,
  outcome: { status: 'succeeded' | 'failed'; error?: string },
  /** An atomic or dry-run import's last step (settle-held-rows.ts), on the same transaction. */
  settle?: (client: Queryable) => Promise<void>,
): Promise<ImportRow | undefined> {
  const ended = await withTransaction(deps.pool, async (client) => {
    // Locked first: a cancel that got here before must win before any held row reaches products.
    if ((await lockImportStatus(client, id)) !== 'processing') return undefined;
    if (outcome.status === 'succeeded' && settle) await settle(client);
    else await deleteHeldRows(client, id); // what a failed one held (none for most imports)
    const finished = await markImportFinished(client, id, outcome);
    // Before the outbox: the import's webhook body carries the drift warning too.
    const row = finished && (await checkSchemaDrift(client, finished, deps.publicBaseUrl));
    if (row) await enqueueImportFinishedEvent(client, row, deps.publicBaseUrl);
    return row;
  });
  countImportFinished(ended); // once committed: a rolled-back end did not happen
  return ended;
}

/**
 * Cancels a queued or processing import. The running job sees it at its next batch (whose rows it
 * then discards) and stops; rows committed before stay, and the answer says how many.
 */
export async function cancelImport(deps: FinishDeps, actor: Actor, id: string): Promise<ImportRow> {
  const cancelled = await withTransaction(deps.pool, async (client) => {
    await getImport(client, actor.tenantId, id); // 404 for another tenant's, or no such import
    const row = await markImportFinished(
      client,
      id,
      { status: 'cancelled', error: 'Cancelled on request' },
      { from: ['queued', 'processing'], tenantId: actor.tenantId },
    );
    await deleteHeldRows(client, id);
    if (!row) {
      const { status } = await getImport(client, actor.tenantId, id);
      throw new ConflictError(`The import has already ${status}; only queued or processing imports can be cancelled`);
    }
    await enqueueImportFinishedEvent(client, row, deps.publicBaseUrl);
    await recordAudit(client, actor, {
      action: 'import.cancelled',
      targetType: 'import',
      targetId: id,
      details: { rows_inserted: Number(row.rows_inserted), rows_updated: Number(row.rows_updated), batches_committed: row.batches_committed },
    });
    return row;
  });
  countImportFinished(cancelled);
  return cancelled;
}
