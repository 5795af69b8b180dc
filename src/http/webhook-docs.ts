import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import {
  importCancelledEventSchema,
  importFailedEventSchema,
  importSucceededEventSchema,
  webhookEventSchema,
  webhookTestEventSchema,
  sourceSchemaDriftEventSchema,
} from '../webhooks/webhook-events.ts';

// The Standard Webhooks headers every delivery carries (https://www.standardwebhooks.com).
const webhookHeaders = z.object({
  'webhook-id': z.string().meta({ description: 'The event id (the body\'s `id`): the same on every attempt and redelivery of an event; deduplicate on it' }),
  'webhook-timestamp': z.string().regex(/^\d+$/).meta({ description: 'Unix seconds when this attempt was signed: reject ones too far from your clock' }),
  'webhook-signature': z.string().meta({
    description: 'Space-separated `v1,<base64 HMAC-SHA256>` of `{webhook-id}.{webhook-timestamp}.{body}` under the endpoint\'s whsec_ secret; two during a secret rotation, either may match',
  }),
});

const EVENTS = [
  { schema: importSucceededEventSchema, summary: 'An import succeeded' },
  { schema: importFailedEventSchema, summary: 'An import failed' },
  { schema: importCancelledEventSchema, summary: 'An import was cancelled' },
  { schema: webhookTestEventSchema, summary: 'A test event' },
  { schema: sourceSchemaDriftEventSchema, summary: 'The columns of a source changed (a schema_drift alert was raised)' },
] as const;

/**
 * Publishes every webhook event under the OpenAPI 3.1 top-level `webhooks` of /openapi.json, one
 * entry per event type, through the library's registry (zod-to-openapi's registerWebhook), so the
 * body schemas are the same zod schemas that build the bodies.
 */
export function registerWebhookDocs(app: Pick<OpenAPIHono, 'openAPIRegistry'>): void {
  // The union of them all, for receivers that validate any body with one schema.
  app.openAPIRegistry.register('WebhookEvent', webhookEventSchema);
  for (const { schema, summary } of EVENTS) {
    const type = schema.shape.type.value;
    app.openAPIRegistry.registerWebhook({
      method: 'post',
      path: type,
      operationId: `webhook_${type.replace('.', '_')}`,
      tags: ['Webhooks'],
      summary,
      description:
        `Lading POSTs this to every enabled endpoint subscribed to \`${type}\`. The body is frozen when the event is queued: ` +
        'retries and redeliveries send the same bytes and webhook-id, even if the import changes later. ' +
        'Verify the signature over the raw body before parsing it.',
      request: {
        headers: webhookHeaders,
        body: { required: true, content: { 'application/json': { schema } } },
      },
      responses: {
        '2XX': { description: 'Delivered: any 2xx ends the delivery (the response body is logged, not read)' },
        '410': { description: 'Gone: the delivery fails and the endpoint is disabled' },
        default: {
          description:
            'Not delivered (as are timeouts, connection errors and redirects, which are not followed): retried on the schedule; 429 and 503 may set Retry-After',
        },
      },
    });
  }
}
