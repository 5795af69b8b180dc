import { z } from 'zod';
import type { AlertRow } from './alert-queries.ts';

// The alert contracts, written once: GET /v1/alerts, the `alert` live message, the
// source.schema_drift webhook body and an import's `schema_drift` all use these schemas.

export const ALERT_KINDS = ['schema_drift', 'webhook_endpoint_disabled'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export const ALERT_STATUSES = ['open', 'acknowledged'] as const;

const time = z.iso.datetime();

const columnRenameSchema = z
  .object({ from: z.string(), to: z.string() })
  .meta({ id: 'ColumnRename', description: 'A removed column and an added one that look like the same column renamed' });

/** How an import's columns differ from its source's previous successful import. */
const columnDriftFields = {
  compared: z.enum(['header', 'mapped_columns']).meta({
    description:
      'header: every column of the header; mapped_columns: only the columns that fill a product field (the import was given a mapping or a template with one)',
  }),
  baseline_import_id: z.uuid().meta({ description: 'The previous successful import of the source, compared with' }),
  added: z.array(z.string()).meta({ description: 'Columns the baseline did not have (renamed ones are under renamed)' }),
  removed: z.array(z.string()).meta({ description: 'Columns of the baseline that are gone (renamed ones are under renamed)' }),
  renamed: z.array(columnRenameSchema),
};

export const importSchemaDriftSchema = z
  .object({ ...columnDriftFields, alert_id: z.uuid().meta({ description: 'The schema_drift alert this raised or repeated' }) })
  .meta({ id: 'ImportSchemaDrift', description: 'How the import’s columns differ from its source’s previous successful import' });
export type ImportSchemaDrift = z.infer<typeof importSchemaDriftSchema>;

export const schemaDriftDetailsSchema = z
  .object({
    source: z.string(),
    ...columnDriftFields,
    first_import_id: z.uuid().meta({ description: 'The import that raised the alert' }),
    latest_import_id: z.uuid().meta({ description: 'The latest import with the same drift' }),
  })
  .meta({ id: 'SchemaDriftDetails' });
export type SchemaDriftDetails = z.infer<typeof schemaDriftDetailsSchema>;

export const endpointDisabledDetailsSchema = z
  .object({
    endpoint_id: z.uuid(),
    url: z.string(),
    reason: z.string().meta({ description: 'The endpoint’s disabled_reason' }),
    last_error: z.string().nullable(),
  })
  .meta({ id: 'WebhookEndpointDisabledDetails' });
export type EndpointDisabledDetails = z.infer<typeof endpointDisabledDetailsSchema>;

const alertFields = {
  id: z.uuid(),
  status: z.enum(ALERT_STATUSES),
  title: z.string(),
  message: z.string(),
  occurrences: z.number().int().min(1).meta({ description: 'How many times the same problem was seen while this alert was open' }),
  first_seen_at: time,
  last_seen_at: time,
  acknowledged_at: time.nullable(),
  acknowledged_by: z.string().nullable().meta({ description: 'Id of the API key that acknowledged it (api_key_id in the audit log)' }),
};

export const schemaDriftAlertSchema = z
  .object({ ...alertFields, kind: z.literal('schema_drift'), details: schemaDriftDetailsSchema })
  .meta({ id: 'SchemaDriftAlert', description: 'An import’s columns differ from its source’s previous successful import' });
export const endpointDisabledAlertSchema = z
  .object({ ...alertFields, kind: z.literal('webhook_endpoint_disabled'), details: endpointDisabledDetailsSchema })
  .meta({ id: 'WebhookEndpointDisabledAlert', description: 'A webhook endpoint was disabled after failing (or answering 410 Gone)' });

/** Every alert, told apart by `kind`; `details` is typed per kind. */
export const alertViewSchema = z
  .discriminatedUnion('kind', [schemaDriftAlertSchema, endpointDisabledAlertSchema])
  .meta({ id: 'Alert' });
export type AlertView = z.infer<typeof alertViewSchema>;
export type SchemaDriftAlertView = z.infer<typeof schemaDriftAlertSchema>;

export function toAlertView(row: AlertRow): AlertView {
  const common = {
    id: row.id,
    status: row.status,
    title: row.title,
    message: row.message,
    occurrences: row.occurrences,
    first_seen_at: row.first_seen_at.toISOString(),
    last_seen_at: row.last_seen_at.toISOString(),
    acknowledged_at: row.acknowledged_at?.toISOString() ?? null,
    acknowledged_by: row.acknowledged_by,
  };
  return row.kind === 'schema_drift'
    ? { ...common, kind: row.kind, details: row.details as SchemaDriftDetails }
    : { ...common, kind: row.kind, details: row.details as EndpointDisabledDetails };
}

/**
 * An alert's seq on a live stream: it only grows as the alert changes (each occurrence adds one;
 * acknowledging adds one, and an acknowledged alert never gets another occurrence).
 */
export function alertRevision(view: Pick<AlertView, 'occurrences' | 'status'>): number {
  return view.occurrences + (view.status === 'acknowledged' ? 1 : 0);
}
