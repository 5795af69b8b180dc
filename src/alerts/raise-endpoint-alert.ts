import type { Queryable } from '../db/pool.ts';
import type { EndpointRow } from '../webhooks/webhook-queries.ts';
import { upsertOpenAlert } from './alert-queries.ts';
import type { EndpointDisabledDetails } from './alert-view.ts';

/**
 * A webhook_endpoint_disabled alert, on the transaction of the attempt that disabled the endpoint
 * (after WEBHOOK_DISABLE_AFTER_FAILURES failed deliveries in a row, or a 410 Gone). One open alert
 * per endpoint: disabled again before the alert is acknowledged, it counts another occurrence.
 */
export async function raiseEndpointDisabledAlert(db: Queryable, endpoint: EndpointRow, lastError: string | null): Promise<void> {
  const reason = endpoint.disabled_reason ?? 'disabled';
  const details: EndpointDisabledDetails = { endpoint_id: endpoint.id, url: endpoint.url, reason, last_error: lastError };
  await upsertOpenAlert(db, {
    tenantId: endpoint.tenant_id,
    kind: 'webhook_endpoint_disabled',
    signature: endpoint.id,
    title: `Webhook endpoint disabled: ${endpoint.url}`,
    message: `${reason}. Deliveries to it stop until it is enabled again (PATCH /v1/webhooks/${endpoint.id} {"enabled": true}).`,
    details,
  });
}
