import { withTransaction, type Pool } from '../db/pool.ts';
import { enqueueImportFinishedEvent } from '../webhooks/webhook-events.ts';
import { markImportFinished, type ImportRow } from './import-queries.ts';

/**
 * Ends an import: its terminal status, the NOTIFY for live subscribers and the webhook outbox rows
 * commit together. Only a processing import can end, so the end happens once.
 */
export async function finishImport(
  deps: { pool: Pool; publicBaseUrl: string },
  id: string,
  outcome: { status: 'succeeded' | 'failed'; error?: string },
): Promise<ImportRow | undefined> {
  return withTransaction(deps.pool, async (client) => {
    const row = await markImportFinished(client, id, outcome);
    if (row) await enqueueImportFinishedEvent(client, row, deps.publicBaseUrl);
    return row;
  });
}
