import type { Task } from 'graphile-worker';
import { z } from 'zod';
import { attemptDelivery, type DeliveryDeps } from '../src/webhooks/attempt-delivery.ts';

const payloadSchema = z.object({ deliveryId: z.uuid() });

/**
 * graphile-worker task `deliver_webhook`: one attempt of one webhook delivery. Retries are
 * scheduled by the attempt itself (WEBHOOK_RETRY_SCHEDULE, Retry-After), as new jobs; a run for
 * a delivery that is no longer pending does nothing, so running twice is harmless.
 */
export function createDeliverWebhookTask(deps: DeliveryDeps): Task {
  return async (payload, helpers) => {
    const { deliveryId } = payloadSchema.parse(payload);
    await attemptDelivery({ ...deps, logger: deps.logger.child({ jobId: helpers.job.id }) }, deliveryId);
  };
}
