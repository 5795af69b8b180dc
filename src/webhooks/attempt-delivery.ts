import { withTransaction, type Pool } from '../db/pool.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { countWebhookAttempt, type WebhookAttempt } from '../metrics/webhook-metrics.ts';
import { currentTraceCarrier } from '../tracing/spans.ts';
import { raiseEndpointDisabledAlert } from '../alerts/raise-endpoint-alert.ts';
import { sendWebhook } from './send-webhook.ts';
import {
  addDeliveryJob,
  addEndpointFailure,
  disableEndpoint,
  insertAttempt,
  lockDeliveryForAttempt,
  resetEndpointFailures,
  updateDeliveryAfterAttempt,
} from './webhook-queries.ts';

export type DeliveryDeps = { pool: Pool; logger: Logger; webhooks: Config['webhooks'] };

/**
 * One attempt of one delivery, in one transaction that holds the delivery's row lock while the
 * request is in flight (at most WEBHOOK_TIMEOUT_MS): two attempts of a delivery never overlap,
 * and the attempt's log line, the delivery's new state and the job for the next try commit
 * together. A crash mid-request rolls all of it back and the job runs again.
 */
export async function attemptDelivery(deps: DeliveryDeps, deliveryId: string): Promise<void> {
  const log = deps.logger.child({ deliveryId });
  const attempted = await withTransaction(deps.pool, async (client): Promise<WebhookAttempt | undefined> => {
    const delivery = await lockDeliveryForAttempt(client, deliveryId);
    if (delivery?.status !== 'pending') return; // finished, or another attempt holds it

    if (!delivery.endpoint_enabled) {
      await updateDeliveryAfterAttempt(client, deliveryId, {
        status: 'failed',
        nextAttemptAt: null,
        error: 'not sent: the endpoint is disabled',
      });
      return { outcome: 'failed', seconds: null };
    }

    // The body as stored when the delivery was queued (frozen there, see enqueueImportFinishedEvent):
    // never rebuilt, so every attempt and redelivery sends the same bytes under the same webhook-id.
    const result = await sendWebhook(
      { url: delivery.url, eventId: delivery.event_id, body: delivery.body, secrets: delivery.secrets },
      { timeoutMs: deps.webhooks.timeoutMs, allowPrivate: deps.webhooks.allowPrivate },
    );
    await insertAttempt(client, {
      delivery_id: deliveryId,
      attemptedAt: result.attemptedAt,
      status_code: result.statusCode,
      duration_ms: result.durationMs,
      response_body: result.responseBody,
      error: result.error,
    });

    const code = result.statusCode;
    const error = result.error ?? (code !== null && (code < 200 || code > 299) ? `HTTP ${code}` : null);
    const attemptsInRound = delivery.round_attempts + 1;
    const schedule = deps.webhooks.retrySchedule;
    log.info({ endpointId: delivery.endpoint_id, statusCode: code, ms: result.durationMs, attempt: attemptsInRound, error }, 'webhook attempt');
    const seconds = result.durationMs / 1000;

    if (error === null) {
      await updateDeliveryAfterAttempt(client, deliveryId, { status: 'succeeded', nextAttemptAt: null, error: null });
      await resetEndpointFailures(client, delivery.endpoint_id);
      return { outcome: 'succeeded', seconds };
    } else if (code === 410) {
      await updateDeliveryAfterAttempt(client, deliveryId, { status: 'failed', nextAttemptAt: null, error: 'HTTP 410 Gone' });
      const gone = await disableEndpoint(client, delivery.endpoint_id, `The endpoint answered 410 Gone on ${result.attemptedAt.toISOString()}`);
      if (gone) await raiseEndpointDisabledAlert(client, gone, 'HTTP 410 Gone');
      return { outcome: 'failed', seconds };
    } else if (attemptsInRound <= schedule.length) {
      // 429 and 503 say when to come back; otherwise the next step of the schedule.
      const honoured = code === 429 || code === 503 ? result.retryAfterMs : null;
      const delayMs = honoured ?? schedule[attemptsInRound - 1]! * 1000;
      const nextAttemptAt = new Date(Date.now() + delayMs);
      await updateDeliveryAfterAttempt(client, deliveryId, { status: 'pending', nextAttemptAt, error });
      await addDeliveryJob(client, deliveryId, nextAttemptAt, currentTraceCarrier()); // the same parent as this attempt
      return { outcome: 'retry', seconds };
    } else {
      await updateDeliveryAfterAttempt(client, deliveryId, { status: 'failed', nextAttemptAt: null, error });
      const disabled = await addEndpointFailure(client, delivery.endpoint_id, { disableAfter: deps.webhooks.disableAfter, lastError: error });
      if (disabled) await raiseEndpointDisabledAlert(client, disabled, error);
      return { outcome: 'failed', seconds };
    }
  });
  countWebhookAttempt(attempted); // once committed: a rolled-back attempt is made again
}
