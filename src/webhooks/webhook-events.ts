import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Queryable } from '../db/pool.ts';
import { schemaDriftAlertSchema, type SchemaDriftAlertView } from '../alerts/alert-view.ts';
import type { ImportRow } from '../imports/import-queries.ts';
import { importViewSchema, toImportView } from '../imports/import-view.ts';
import { currentTraceCarrier } from '../tracing/spans.ts';
import { addDeliveryJob, insertDeliveriesForEvent } from './webhook-queries.ts';

export const IMPORT_EVENT_TYPES = ['import.succeeded', 'import.failed', 'import.cancelled'] as const;
export type ImportEventType = (typeof IMPORT_EVENT_TYPES)[number];
/** What an endpoint may subscribe to; new endpoints get IMPORT_EVENT_TYPES unless they name others. */
export const SUBSCRIBABLE_EVENT_TYPES = [...IMPORT_EVENT_TYPES, 'source.schema_drift'] as const;

/**
 * The version of the webhook body contract, sent as `version` in every body. It changes only with
 * a breaking change to a body (a field removed, renamed or retyped, a meaning changed); adding a
 * field or an event type keeps it, so receivers must ignore fields they do not know.
 */
export const WEBHOOK_EVENT_VERSION = 1;

// The envelope every event shares, in body order: {id, type, version, created_at, data}.
const eventId = z.string().meta({ description: 'Unique per event; also the webhook-id header. The same on every attempt and redelivery: deduplicate on it' });
const version = z.literal(WEBHOOK_EVENT_VERSION).meta({
  description: 'Version of this body contract. Changes only with a breaking change (a field removed, renamed or retyped); new fields keep it',
});
const createdAt = z.iso.datetime().meta({ description: 'When the event happened (for imports: when the import ended)' });

function envelope<T extends string, D extends z.ZodType>(type: T, data: D, id: string, description: string) {
  return z
    .object({ id: eventId, type: z.literal(type), version, created_at: createdAt, data })
    .meta({ id, description });
}

/**
 * data.import: the import exactly as GET /v1/imports/:id shows it (the Import schema itself, not a
 * copy: an intersection, published as allOf [Import, {errors_url}]) plus where its rejected rows are.
 */
const importEventData = z.object({
  import: z.intersection(
    importViewSchema,
    z.object({
      errors_url: z.url().meta({ description: 'GET it with an API key: the rejected rows as CSV (rows are never inlined in a webhook)' }),
    }),
  ),
});

export const importSucceededEventSchema = envelope('import.succeeded', importEventData, 'ImportSucceededEvent', 'An import ended with status succeeded');
export const importFailedEventSchema = envelope('import.failed', importEventData, 'ImportFailedEvent', 'An import ended with status failed; data.import.error says why');
export const importCancelledEventSchema = envelope('import.cancelled', importEventData, 'ImportCancelledEvent', 'An import was cancelled');
export const webhookTestEventSchema = envelope(
  'webhook.test',
  z.object({ endpoint_id: z.uuid().meta({ description: 'The endpoint the test was sent to' }) }),
  'WebhookTestEvent',
  'Sent by POST /v1/webhooks/{id}/test, to that endpoint only',
);

export const sourceSchemaDriftEventSchema = envelope(
  'source.schema_drift',
  // data.alert: the alert as GET /v1/alerts/{id} shows it (its details name the columns);
  // data.import: the import that raised it, as in the import events.
  z.object({ alert: schemaDriftAlertSchema, import: importEventData.shape.import }),
  'SourceSchemaDriftEvent',
  'An import of a source ended with columns that differ from its previous successful import and raised a schema_drift alert ' +
    '(data.alert, as GET /v1/alerts/{id} shows it; data.import, the import that raised it). Sent once per alert: the same ' +
    'drift again while the alert is open only counts an occurrence on it',
);

/** Every webhook body Lading sends: one member per event type, told apart by `type`. */
export const webhookEventSchema = z
  .discriminatedUnion('type', [
    importSucceededEventSchema,
    importFailedEventSchema,
    importCancelledEventSchema,
    webhookTestEventSchema,
    sourceSchemaDriftEventSchema,
  ])
  .meta({ id: 'WebhookEvent' });

export type WebhookEvent = z.output<typeof webhookEventSchema>;
export type WebhookEventType = WebhookEvent['type'];

/** What a caller gives to build a body: the envelope without `version`, with a Date. */
export type WebhookEventInput = ToInput<z.input<typeof webhookEventSchema>>;
type ToInput<E> = E extends { type: infer T; data: infer D } ? { id: string; type: T; createdAt: Date; data: D } : never;

/**
 * The JSON body of a webhook, built only through webhookEventSchema: a body that does not match
 * its event type's schema throws here, before anything is stored or sent. Rows are never inlined;
 * errors are linked.
 */
export function buildEventBody(event: WebhookEventInput): string {
  const parsed = webhookEventSchema.safeParse({
    id: event.id,
    type: event.type,
    version: WEBHOOK_EVENT_VERSION,
    created_at: event.createdAt.toISOString(),
    data: event.data,
  });
  if (!parsed.success) throw new Error(`A ${event.type} webhook body does not match its schema: ${z.prettifyError(parsed.error)}`);
  return JSON.stringify(parsed.data);
}

function isImportEventType(type: string): type is ImportEventType {
  return (IMPORT_EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * The outbox write for an import that just ended, on the caller's transaction (the one that set
 * the terminal status): one delivery and one job per subscribed endpoint. The event id is derived
 * from the import, so the same end can never become two events.
 */
export async function enqueueImportFinishedEvent(db: Queryable, row: ImportRow, publicBaseUrl: string): Promise<number> {
  const view = toImportView(row);
  const type = `import.${view.status}`;
  if (!isImportEventType(type)) throw new Error(`Import ${row.id} is ${view.status}, not ended: it has no event`);
  const eventId = `evt_${row.id}`;
  const body = buildEventBody({
    id: eventId,
    type,
    createdAt: row.finished_at ?? new Date(),
    data: { import: { ...view, errors_url: `${publicBaseUrl}/v1/imports/${row.id}/errors` } },
  });
  // The body is frozen here: the delivery row stores these exact bytes, and every attempt, retry
  // and redelivery sends them as stored (same bytes, same webhook-id), even if the import, the
  // view or this schema changes later. Nothing rebuilds a body after it is queued.
  const deliveryIds = await insertDeliveriesForEvent(db, { tenantId: row.tenant_id, eventId, type, body });
  // Each delivery's attempts join the trace of what ended the import (the finish span, or a cancel request).
  const trace = currentTraceCarrier();
  for (const id of deliveryIds) await addDeliveryJob(db, id, null, trace);
  return deliveryIds.length;
}

/**
 * The outbox write for a schema_drift alert just raised, on the transaction that ends the import
 * which raised it: one delivery and one job per endpoint subscribed to source.schema_drift. The
 * event id is derived from the alert, so an alert is announced once.
 */
export async function enqueueSchemaDriftEvent(db: Queryable, alert: SchemaDriftAlertView, row: ImportRow, publicBaseUrl: string): Promise<number> {
  const type = 'source.schema_drift';
  const eventId = `evt_alert_${alert.id}`;
  const body = buildEventBody({
    id: eventId,
    type,
    createdAt: new Date(alert.last_seen_at),
    data: { alert, import: { ...toImportView(row), errors_url: `${publicBaseUrl}/v1/imports/${row.id}/errors` } },
  });
  const deliveryIds = await insertDeliveriesForEvent(db, { tenantId: row.tenant_id, eventId, type, body });
  const trace = currentTraceCarrier();
  for (const id of deliveryIds) await addDeliveryJob(db, id, null, trace);
  return deliveryIds.length;
}

export function newTestEventId(): string {
  return `evt_test_${randomUUID()}`;
}
