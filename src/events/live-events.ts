import { z } from 'zod';
import { alertRevision, alertViewSchema, type AlertView } from '../alerts/alert-view.ts';
import { importViewSchema, type ImportView } from '../imports/import-view.ts';

// The contracts of live progress, written once:
//  - what the database NOTIFYs on IMPORT_EVENTS_CHANNEL (built in SQL, parsed by the listener);
//  - what WebSocket subscribers receive (built by the hub, published in /openapi.json).

/** The channel every import event is NOTIFYed on (an SQL identifier: used unquoted by LISTEN). */
export const IMPORT_EVENTS_CHANNEL = 'lading_import_events';

// ---- NOTIFY payloads: ids and counters only (NOTIFY payloads are capped at 8000 bytes) ----

const counter = z.number().int().nonnegative();
/** imports.tenant_id is a bigint: json_build_object writes it as a number. */
const tenantId = z.union([z.string(), z.number()]).transform(String);

/** Sent by every batch's statement, at its commit. */
export const progressNotificationSchema = z.object({
  type: z.literal('progress'),
  importId: z.uuid(),
  tenantId,
  batchesCommitted: counter,
  rowsProcessed: counter,
  rowsInserted: counter,
  rowsUpdated: counter,
  rowsUnchanged: counter,
  rowsRejected: counter,
});

/** Sent by the statement that sets an import's terminal status. */
export const finishedNotificationSchema = z.object({
  type: z.literal('finished'),
  importId: z.uuid(),
  tenantId,
  status: z.string(),
  batchesCommitted: counter,
});

/** Sent by the statement that raises, repeats or acknowledges an alert (src/alerts/alert-queries.ts). */
export const alertNotificationSchema = z.object({
  type: z.literal('alert'),
  alertId: z.uuid(),
  tenantId,
});

const NOTIFICATIONS = { progress: progressNotificationSchema, finished: finishedNotificationSchema, alert: alertNotificationSchema } as const;
type NotificationType = keyof typeof NOTIFICATIONS;

export const importNotificationSchema = z.discriminatedUnion('type', [progressNotificationSchema, finishedNotificationSchema, alertNotificationSchema]);
export type ImportNotification = z.infer<typeof importNotificationSchema>;

/** The SQL expression for each key of a notification but `type`. */
export type NotificationColumns<T extends NotificationType> = {
  [K in Exclude<keyof (typeof NOTIFICATIONS)[T]['shape'], 'type'>]: string;
};

/**
 * The payload of a `pg_notify(channel, …)` as SQL: `json_build_object('type', '<type>', 'key',
 * <expression>, …)::text`, its keys taken from the notification's schema. The caller gives the
 * SQL expression of each key, so a key added to the schema fails to compile until every
 * statement that sends it provides it, and the payload stays one expression of the statement.
 */
export function notifyPayloadSql<T extends NotificationType>(type: T, columns: NotificationColumns<T>): string {
  const expressions = columns as Record<string, string>;
  const args = Object.keys(NOTIFICATIONS[type].shape).map((key) => {
    if (key === 'type') return `'type', '${type}'`;
    const expression = expressions[key];
    if (!expression) throw new Error(`no SQL expression for the ${type} notification's ${key}`);
    return `'${key}', ${expression}`;
  });
  return `json_build_object(${args.join(', ')})::text`;
}

/** A NOTIFY payload as received: the notification, or undefined when it is not JSON of one of the shapes above. */
export function parseNotification(payload: string): ImportNotification | undefined {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const parsed = importNotificationSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

// ---- WebSocket messages: JSON text frames `{type, seq, import}` ----

/** seq orders one import's messages: strictly increasing per import on a stream, nothing sent twice. */
const seq = (rule: string) =>
  z.number().int().nonnegative().meta({ description: `${rule}. Strictly increasing per import on a stream` });

export const liveEventSnapshotSchema = z
  .object({
    type: z.literal('snapshot'),
    seq: seq("The import's batches_committed"),
    import: importViewSchema,
  })
  .meta({
    id: 'LiveEventSnapshot',
    description:
      "The import as it is when the stream opens: the first message of GET /v1/imports/{id}/events; on GET /v1/events one per unfinished import (queued or processing).",
  });

export const liveEventProgressSchema = z
  .object({
    type: z.literal('progress'),
    seq: seq("The import's batches_committed"),
    import: importViewSchema,
  })
  .meta({
    id: 'LiveEventProgress',
    description:
      'A batch was committed. One per batch; after the server lost its database connection, the batches missed meanwhile arrive as one message with the current counts.',
  });

export const liveEventFinishedSchema = z
  .object({
    type: z.literal('finished'),
    seq: seq("The import's batches_committed + 1"),
    import: importViewSchema,
  })
  .meta({
    id: 'LiveEventFinished',
    description:
      "The import ended (succeeded, failed or cancelled): its last message. On GET /v1/imports/{id}/events the server then closes with 1000 'import finished'.",
  });

export const liveEventAlertSchema = z
  .object({
    type: z.literal('alert'),
    seq: z.number().int().nonnegative().meta({
      description: 'Grows each time the alert changes (occurrences, then +1 once acknowledged): strictly increasing per alert on a stream',
    }),
    alert: alertViewSchema,
  })
  .meta({
    id: 'LiveEventAlert',
    description:
      'GET /v1/events only: an alert of the tenant was raised, seen again, or acknowledged; `alert` is shaped like GET /v1/alerts/{id}. Not sent on one import’s stream.',
  });

/**
 * Every message a live-progress WebSocket sends. Clients switch on `type` and ignore types they
 * do not know: more may be added.
 */
export const liveEventMessageSchema = z
  .discriminatedUnion('type', [liveEventSnapshotSchema, liveEventProgressSchema, liveEventFinishedSchema, liveEventAlertSchema])
  .meta({
    id: 'LiveEventMessage',
    description:
      'One JSON text frame of a live-progress WebSocket. Switch on `type`; ignore types you do not know, more may be added.',
  });

export type LiveEventMessage = z.infer<typeof liveEventMessageSchema>;
export type LiveEventType = LiveEventMessage['type'];

type ImportEventType = Exclude<LiveEventType, 'alert'>;

/** How each message is built from the import's (or the alert's) view: its seq rule lives here. */
export const liveEvent = {
  snapshot: (view) => ({ type: 'snapshot', seq: view.batches_committed, import: view }),
  progress: (view) => ({ type: 'progress', seq: view.batches_committed, import: view }),
  finished: (view) => ({ type: 'finished', seq: view.batches_committed + 1, import: view }),
  alert: (view: AlertView) => ({ type: 'alert', seq: alertRevision(view), alert: view }),
} satisfies { [T in ImportEventType]: (view: ImportView) => Extract<LiveEventMessage, { type: T }> } & {
  alert: (view: AlertView) => Extract<LiveEventMessage, { type: 'alert' }>;
};

/** A message as sent: UTF-8 JSON, encoded once however many subscribers receive it. */
export function encodeLiveEvent(message: LiveEventMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}
