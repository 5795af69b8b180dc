import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/pool.ts';
import type { ImportRow } from '../imports/import-queries.ts';
import { toImportView } from '../imports/import-view.ts';
import { addDeliveryJob, insertDeliveriesForEvent } from './webhook-queries.ts';

export const IMPORT_EVENT_TYPES = ['import.succeeded', 'import.failed', 'import.cancelled'] as const;
export type ImportEventType = (typeof IMPORT_EVENT_TYPES)[number];

/** The JSON body of every webhook: an envelope; rows are never inlined, errors are linked. */
export function buildEventBody(event: { id: string; type: string; createdAt: Date; data: unknown }): string {
  return JSON.stringify({ id: event.id, type: event.type, created_at: event.createdAt.toISOString(), data: event.data });
}

/**
 * The outbox write for an import that just ended, on the caller's transaction (the one that set
 * the terminal status): one delivery and one job per subscribed endpoint. The event id is derived
 * from the import, so the same end can never become two events.
 */
export async function enqueueImportFinishedEvent(db: Queryable, row: ImportRow, publicBaseUrl: string): Promise<number> {
  const view = toImportView(row);
  const type = `import.${view.status}`;
  const eventId = `evt_${row.id}`;
  const body = buildEventBody({
    id: eventId,
    type,
    createdAt: row.finished_at ?? new Date(),
    data: { import: { ...view, errors_url: `${publicBaseUrl}/v1/imports/${row.id}/errors` } },
  });
  const deliveryIds = await insertDeliveriesForEvent(db, { tenantId: row.tenant_id, eventId, type, body });
  for (const id of deliveryIds) await addDeliveryJob(db, id);
  return deliveryIds.length;
}

export function newTestEventId(): string {
  return `evt_test_${randomUUID()}`;
}
