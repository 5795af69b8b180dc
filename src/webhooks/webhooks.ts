import { randomBytes } from 'node:crypto';
import { recordAudit, type Actor } from '../audit/audit-log.ts';
import { isUuid } from '../db/is-uuid.ts';
import { withTransaction, type Pool } from '../db/pool.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { currentTraceCarrier } from '../tracing/spans.ts';
import { buildEventBody, IMPORT_EVENT_TYPES, newTestEventId } from './webhook-events.ts';
import {
  addDeliveryJob,
  deleteEndpoint,
  findDelivery,
  findEndpoint,
  insertDelivery,
  insertEndpoint,
  listAttempts,
  listDeliveries,
  listEndpoints,
  type ListedDeliveryRow,
  restartDelivery,
  updateEndpoint,
  type AttemptRow,
  type DeliveryRow,
  type EndpointRow,
} from './webhook-queries.ts';
import { validateWebhookUrl } from './webhook-url.ts';

type UrlPolicy = { allowPrivate: boolean };

/** `whsec_` + base64 of 32 random bytes, the Standard Webhooks secret format. */
function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function listWebhookEndpoints(pool: Pool, tenantId: string): Promise<EndpointRow[]> {
  return listEndpoints(pool, tenantId);
}

export async function getWebhookEndpoint(pool: Pool, tenantId: string, id: string): Promise<EndpointRow> {
  const row = isUuid(id) ? await findEndpoint(pool, tenantId, id) : undefined;
  if (!row) throw new NotFoundError(`No webhook endpoint with id "${id}"`);
  return row;
}

export async function createWebhookEndpoint(
  pool: Pool,
  actor: Actor,
  input: { url: string; events?: string[]; description?: string },
  policy: UrlPolicy,
): Promise<{ endpoint: EndpointRow; secret: string }> {
  const secret = generateSecret();
  const url = validateWebhookUrl(input.url, policy);
  const endpoint = await withTransaction(pool, async (client) => {
    const endpoint = await insertEndpoint(client, {
      tenantId: actor.tenantId,
      url,
      description: input.description ?? '',
      events: input.events ?? [...IMPORT_EVENT_TYPES],
      secret,
    });
    await recordAudit(client, actor, {
      action: 'webhook.created',
      targetType: 'webhook_endpoint',
      targetId: endpoint.id,
      details: { url, events: endpoint.events },
    });
    return endpoint;
  });
  return { endpoint, secret };
}

/** `rotateSecret`: a new secret signs from now on; the old one keeps signing alongside for 24 h. */
export async function changeWebhookEndpoint(
  pool: Pool,
  actor: Actor,
  id: string,
  changes: { url?: string; events?: string[]; description?: string; enabled?: boolean; rotateSecret?: boolean },
  policy: UrlPolicy,
): Promise<{ endpoint: EndpointRow; secret?: string }> {
  await getWebhookEndpoint(pool, actor.tenantId, id);
  const secret = changes.rotateSecret ? generateSecret() : undefined;
  const url = changes.url === undefined ? undefined : validateWebhookUrl(changes.url, policy);
  const endpoint = await withTransaction(pool, async (client) => {
    const endpoint = await updateEndpoint(client, actor.tenantId, id, {
      url,
      events: changes.events,
      description: changes.description,
      enabled: changes.enabled,
      secret,
    });
    if (!endpoint) throw new NotFoundError(`No webhook endpoint with id "${id}"`);
    const { rotateSecret, ...fields } = changes;
    await recordAudit(client, actor, {
      action: 'webhook.changed',
      targetType: 'webhook_endpoint',
      targetId: id,
      details: { ...fields, ...(url ? { url } : {}), secretRotated: rotateSecret === true },
    });
    return endpoint;
  });
  return { endpoint, secret };
}

export async function removeWebhookEndpoint(pool: Pool, actor: Actor, id: string): Promise<void> {
  const endpoint = await getWebhookEndpoint(pool, actor.tenantId, id);
  await withTransaction(pool, async (client) => {
    if (!(await deleteEndpoint(client, actor.tenantId, id))) throw new NotFoundError(`No webhook endpoint with id "${id}"`);
    await recordAudit(client, actor, {
      action: 'webhook.deleted',
      targetType: 'webhook_endpoint',
      targetId: id,
      details: { url: endpoint.url },
    });
  });
}

export type DeliveryWithAttempts = DeliveryRow & { attempts: AttemptRow[] };

export async function listWebhookDeliveries(
  pool: Pool,
  tenantId: string,
  endpointId: string,
  page: { limit: number; status?: string; after?: { createdAt: string; id: string } },
): Promise<(DeliveryWithAttempts & Pick<ListedDeliveryRow, 'created_at_exact'>)[]> {
  await getWebhookEndpoint(pool, tenantId, endpointId);
  const deliveries = await listDeliveries(pool, endpointId, page);
  const attempts = await listAttempts(pool, deliveries.map((d) => d.id));
  return deliveries.map((d) => ({ ...d, attempts: attempts.filter((a) => a.delivery_id === d.id) }));
}

/** Sends a finished delivery again: same event id and body, a new round of attempts. */
export async function redeliverWebhook(
  pool: Pool,
  tenantId: string,
  endpointId: string,
  deliveryId: string,
): Promise<DeliveryRow> {
  const endpoint = await getWebhookEndpoint(pool, tenantId, endpointId);
  if (!endpoint.enabled) throw new ConflictError('The endpoint is disabled: enable it (PATCH enabled=true) first');
  if (!isUuid(deliveryId)) throw new NotFoundError(`No delivery with id "${deliveryId}"`);
  return withTransaction(pool, async (client) => {
    const existing = await findDelivery(client, endpointId, deliveryId);
    if (!existing) throw new NotFoundError(`No delivery with id "${deliveryId}"`);
    const delivery = await restartDelivery(client, endpointId, deliveryId);
    if (!delivery) throw new ConflictError('The delivery is still pending: it will be attempted again on schedule');
    await addDeliveryJob(client, delivery.id, null, currentTraceCarrier()); // its attempt joins this request's trace
    return delivery;
  });
}

/** A `webhook.test` event to this endpoint only, through the same delivery path as real events. */
export async function sendTestWebhook(pool: Pool, tenantId: string, endpointId: string): Promise<DeliveryRow> {
  const endpoint = await getWebhookEndpoint(pool, tenantId, endpointId);
  if (!endpoint.enabled) throw new ConflictError('The endpoint is disabled: enable it (PATCH enabled=true) first');
  const eventId = newTestEventId();
  // Validated against WebhookTestEvent; frozen once the delivery row stores it (retries send these bytes).
  const body = buildEventBody({ id: eventId, type: 'webhook.test', createdAt: new Date(), data: { endpoint_id: endpoint.id } });
  return withTransaction(pool, async (client) => {
    const delivery = await insertDelivery(client, { endpointId, tenantId, eventId, type: 'webhook.test', body });
    await addDeliveryJob(client, delivery.id, null, currentTraceCarrier()); // its attempt joins this request's trace
    return delivery;
  });
}
