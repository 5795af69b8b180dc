import { webhookDeliveries, webhookDeliveryDuration } from './metrics.ts';

/**
 * What became of one delivery job: succeeded (2xx), retry (the attempt failed and another is
 * scheduled), failed (given up: out of attempts, 410 Gone, or the endpoint is disabled, when
 * nothing is sent and seconds is null).
 */
export type WebhookAttempt = { outcome: 'succeeded' | 'retry' | 'failed'; seconds: number | null };

/** Called once the attempt's transaction has committed; undefined: the job had nothing to do. */
export function countWebhookAttempt(attempt: WebhookAttempt | undefined): void {
  if (!attempt) return;
  webhookDeliveries.inc({ outcome: attempt.outcome });
  if (attempt.seconds !== null) webhookDeliveryDuration.observe(attempt.seconds);
}
