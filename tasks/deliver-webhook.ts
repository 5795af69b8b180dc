import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { withTraceCarrier, traceField } from '../src/tracing/spans.ts';
import { attemptDelivery, type DeliveryDeps } from '../src/webhooks/attempt-delivery.ts';

// trace: the span that enqueued the delivery (the import's finish); absent when tracing is off.
const payloadSchema = z.object({ deliveryId: z.uuid(), trace: traceField });

/**
 * graphile-worker task `deliver_webhook`: one attempt of one webhook delivery. Retries are
 * scheduled by the attempt itself (WEBHOOK_RETRY_SCHEDULE, Retry-After), as new jobs; a run for
 * a delivery that is no longer pending does nothing, so running twice is harmless.
 */
export function createDeliverWebhookTask(deps: DeliveryDeps): Task {
  return async (payload, helpers) => {
    const { deliveryId, trace } = payloadSchema.parse(payload);
    // The attempt's span (send-webhook.ts) is a child of that context; so is a retry's.
    await withTraceCarrier(trace, () => attemptDelivery({ ...deps, logger: deps.logger.child({ jobId: helpers.job.id }) }, deliveryId));
  };
}
