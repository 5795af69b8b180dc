import { z } from 'zod';
import type { DeliveryWithAttempts } from './webhooks.ts';
import type { EndpointRow } from './webhook-queries.ts';

const time = z.iso.datetime();

export const endpointViewSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable().meta({ description: 'Why the endpoint was disabled, when it is' }),
    disabled_at: time.nullable(),
    consecutive_failures: z.number().int(),
    created_at: time,
    updated_at: time,
  })
  .meta({ id: 'WebhookEndpoint' });

export const endpointWithSecretSchema = endpointViewSchema
  .extend({ secret: z.string().meta({ description: 'whsec_… signing secret: shown only in this response' }) })
  .meta({ id: 'WebhookEndpointWithSecret' });

export const deliveryViewSchema = z
  .object({
    id: z.uuid(),
    event_id: z.string().meta({ description: 'The webhook-id header: the same on every attempt' }),
    event_type: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempt_count: z.number().int(),
    next_attempt_at: time.nullable(),
    last_error: z.string().nullable(),
    created_at: time,
    completed_at: time.nullable(),
    attempts: z.array(
      z.object({
        attempted_at: time,
        status_code: z.number().int().nullable(),
        duration_ms: z.number().int(),
        response_body: z.string().nullable().meta({ description: 'First KiB of the response' }),
        error: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'WebhookDelivery' });

export function toEndpointView(row: EndpointRow): z.infer<typeof endpointViewSchema> {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    disabled_at: row.disabled_at?.toISOString() ?? null,
    consecutive_failures: row.consecutive_failures,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toDeliveryView(row: Omit<DeliveryWithAttempts, 'attempts'> & Partial<Pick<DeliveryWithAttempts, 'attempts'>>) {
  return {
    id: row.id,
    event_id: row.event_id,
    event_type: row.event_type,
    status: row.status,
    attempt_count: row.attempt_count,
    next_attempt_at: row.next_attempt_at?.toISOString() ?? null,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    completed_at: row.completed_at?.toISOString() ?? null,
    attempts: (row.attempts ?? []).map((a) => ({
      attempted_at: a.attempted_at.toISOString(),
      status_code: a.status_code,
      duration_ms: a.duration_ms,
      response_body: a.response_body,
      error: a.error,
    })),
  };
}
