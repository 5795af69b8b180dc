import type { Queryable } from '../db/pool.ts';
import type { TraceCarrier } from '../tracing/spans.ts';

export const DELIVER_WEBHOOK_TASK = 'deliver_webhook';

export type EndpointRow = {
  id: string;
  tenant_id: string;
  url: string;
  description: string;
  events: string[];
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: Date | null;
  consecutive_failures: number;
  created_at: Date;
  updated_at: Date;
};

export type DeliveryRow = {
  id: string;
  endpoint_id: string;
  tenant_id: string;
  event_id: string;
  event_type: string;
  body: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempt_count: number;
  round_attempts: number;
  next_attempt_at: Date | null;
  last_error: string | null;
  created_at: Date;
  completed_at: Date | null;
};

export type AttemptRow = {
  delivery_id: string;
  attempted_at: Date;
  status_code: number | null;
  duration_ms: number;
  response_body: string | null;
  error: string | null;
};

export async function insertEndpoint(
  db: Queryable,
  input: { tenantId: string; url: string; description: string; events: string[]; secret: string },
): Promise<EndpointRow> {
  const { rows } = await db.query<EndpointRow>(
    `insert into webhook_endpoints (tenant_id, url, description, events, secret)
     values ($1, $2, $3, $4, $5) returning *`,
    [input.tenantId, input.url, input.description, input.events, input.secret],
  );
  return rows[0]!;
}

export async function findEndpoint(db: Queryable, tenantId: string, id: string): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow>('select * from webhook_endpoints where id = $1 and tenant_id = $2', [
    id,
    tenantId,
  ]);
  return rows[0];
}

export async function listEndpoints(db: Queryable, tenantId: string): Promise<EndpointRow[]> {
  const { rows } = await db.query<EndpointRow>(
    'select * from webhook_endpoints where tenant_id = $1 order by created_at, id limit 500',
    [tenantId],
  );
  return rows;
}

/** Applies only the fields given; re-enabling clears the reason and the failure streak. */
export async function updateEndpoint(
  db: Queryable,
  tenantId: string,
  id: string,
  changes: { url?: string; description?: string; events?: string[]; enabled?: boolean; secret?: string },
): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow>(
    `update webhook_endpoints set
       url = coalesce($3, url),
       description = coalesce($4, description),
       events = coalesce($5, events),
       enabled = coalesce($6, enabled),
       disabled_reason = case when $6 is true then null when $6 is false then 'disabled through the API' else disabled_reason end,
       disabled_at = case when $6 is true then null when $6 is false then now() else disabled_at end,
       consecutive_failures = case when $6 is true then 0 else consecutive_failures end,
       previous_secret = case when $7::text is null then previous_secret else secret end,
       previous_secret_expires_at = case when $7::text is null then previous_secret_expires_at else now() + interval '24 hours' end,
       secret = coalesce($7, secret),
       updated_at = now()
     where id = $1 and tenant_id = $2
     returning *`,
    [id, tenantId, changes.url ?? null, changes.description ?? null, changes.events ?? null, changes.enabled ?? null, changes.secret ?? null],
  );
  return rows[0];
}

export async function deleteEndpoint(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from webhook_endpoints where id = $1 and tenant_id = $2', [id, tenantId]);
  return (rowCount ?? 0) > 0;
}

/**
 * The outbox write: one delivery per enabled endpoint of the tenant subscribed to the event.
 * A repeat of the same event for an endpoint is ignored (unique endpoint + event id).
 */
export async function insertDeliveriesForEvent(
  db: Queryable,
  event: { tenantId: string; eventId: string; type: string; body: string },
): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `insert into webhook_deliveries (endpoint_id, tenant_id, event_id, event_type, body, next_attempt_at)
     select e.id, e.tenant_id, $2, $3, $4, now()
     from webhook_endpoints e
     where e.tenant_id = $1 and e.enabled and $3 = any (e.events)
     on conflict (endpoint_id, event_id) do nothing
     returning id`,
    [event.tenantId, event.eventId, event.type, event.body],
  );
  return rows.map((row) => row.id);
}

export async function insertDelivery(
  db: Queryable,
  delivery: { endpointId: string; tenantId: string; eventId: string; type: string; body: string },
): Promise<DeliveryRow> {
  const { rows } = await db.query<DeliveryRow>(
    `insert into webhook_deliveries (endpoint_id, tenant_id, event_id, event_type, body, next_attempt_at)
     values ($1, $2, $3, $4, $5, now()) returning *`,
    [delivery.endpointId, delivery.tenantId, delivery.eventId, delivery.type, delivery.body],
  );
  return rows[0]!;
}

/**
 * Schedules an attempt; on the caller's client, so it commits with whatever made it due. `trace`:
 * the span its attempt spans are children of (the import's finish), kept in the payload.
 */
export async function addDeliveryJob(db: Queryable, deliveryId: string, runAt: Date | null = null, trace?: TraceCarrier): Promise<void> {
  await db.query(
    `select graphile_worker.add_job($1, json_strip_nulls(json_build_object('deliveryId', $2::uuid, 'trace', $4::json)), run_at := $3, max_attempts := 3)`,
    [DELIVER_WEBHOOK_TASK, deliveryId, runAt, trace ? JSON.stringify(trace) : null],
  );
}

/** The delivery with what an attempt needs of its endpoint, locked against a concurrent attempt. */
export async function lockDeliveryForAttempt(
  db: Queryable,
  deliveryId: string,
): Promise<(DeliveryRow & { url: string; secrets: string[]; endpoint_enabled: boolean }) | undefined> {
  const { rows } = await db.query<DeliveryRow & { url: string; secrets: string[]; endpoint_enabled: boolean }>(
    `select d.*, e.url, e.enabled as endpoint_enabled,
       array_remove(array[e.secret,
         case when e.previous_secret_expires_at > now() then e.previous_secret end], null) as secrets
     from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
     where d.id = $1
     for update of d skip locked`,
    [deliveryId],
  );
  return rows[0];
}

export async function insertAttempt(
  db: Queryable,
  attempt: Omit<AttemptRow, 'attempted_at'> & { attemptedAt: Date },
): Promise<void> {
  await db.query(
    `insert into webhook_attempts (delivery_id, attempted_at, status_code, duration_ms, response_body, error)
     values ($1, $2, $3, $4, $5, $6)`,
    [attempt.delivery_id, attempt.attemptedAt, attempt.status_code, attempt.duration_ms, attempt.response_body, attempt.error],
  );
}

/** Records the outcome of an attempt on the delivery: final (succeeded/failed) or the next try. */
export async function updateDeliveryAfterAttempt(
  db: Queryable,
  deliveryId: string,
  outcome: { status: DeliveryRow['status']; nextAttemptAt: Date | null; error: string | null },
): Promise<void> {
  await db.query(
    `update webhook_deliveries set
       status = $2, next_attempt_at = $3, last_error = $4,
       attempt_count = attempt_count + 1, round_attempts = round_attempts + 1,
       completed_at = case when $2 = 'pending' then null else now() end
     where id = $1`,
    [deliveryId, outcome.status, outcome.nextAttemptAt, outcome.error],
  );
}

export async function findDelivery(db: Queryable, endpointId: string, deliveryId: string): Promise<DeliveryRow | undefined> {
  const { rows } = await db.query<DeliveryRow>('select * from webhook_deliveries where id = $1 and endpoint_id = $2', [
    deliveryId,
    endpointId,
  ]);
  return rows[0];
}

/** A finished delivery starts a new round of attempts with the same event id. */
export async function restartDelivery(db: Queryable, endpointId: string, deliveryId: string): Promise<DeliveryRow | undefined> {
  const { rows } = await db.query<DeliveryRow>(
    `update webhook_deliveries set status = 'pending', round_attempts = 0, next_attempt_at = now(), completed_at = null
     where id = $1 and endpoint_id = $2 and status <> 'pending'
     returning *`,
    [deliveryId, endpointId],
  );
  return rows[0];
}

export async function resetEndpointFailures(db: Queryable, endpointId: string): Promise<void> {
  await db.query('update webhook_endpoints set consecutive_failures = 0 where id = $1 and consecutive_failures <> 0', [
    endpointId,
  ]);
}

/**
 * One more failed delivery in a row; at `disableAfter` the endpoint is disabled, saying why. Returns
 * the endpoint when this failure disabled it (disabled_at is the transaction's now()).
 */
export async function addEndpointFailure(
  db: Queryable,
  endpointId: string,
  failure: { disableAfter: number; lastError: string },
): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow & { disabled_now: boolean }>(
    `update webhook_endpoints set
       consecutive_failures = consecutive_failures + 1,
       enabled = enabled and consecutive_failures + 1 < $2,
       disabled_reason = case when enabled and consecutive_failures + 1 >= $2
         then format('Disabled after %s consecutive failed deliveries; last error: %s', consecutive_failures + 1, $3::text)
         else disabled_reason end,
       disabled_at = case when enabled and consecutive_failures + 1 >= $2 then now() else disabled_at end,
       updated_at = now()
     where id = $1
     returning *, not enabled and disabled_at = now() as disabled_now`,
    [endpointId, failure.disableAfter, failure.lastError],
  );
  const row = rows[0];
  return row?.disabled_now ? row : undefined;
}

/** Disables an enabled endpoint; returns it when this disabled it. */
export async function disableEndpoint(db: Queryable, endpointId: string, reason: string): Promise<EndpointRow | undefined> {
  const { rows } = await db.query<EndpointRow>(
    `update webhook_endpoints set enabled = false, disabled_reason = $2, disabled_at = now(), updated_at = now()
     where id = $1 and enabled
     returning *`,
    [endpointId, reason],
  );
  return rows[0];
}

/** A listed delivery with its exact created_at as text (microseconds and offset): a Date keeps only milliseconds. */
export type ListedDeliveryRow = DeliveryRow & { created_at_exact: string };

/**
 * Newest first; the cursor is the (created_at, id) of the last item of the previous page, with
 * created_at as that item's created_at_exact, so rows sharing its millisecond are not skipped.
 */
export async function listDeliveries(
  db: Queryable,
  endpointId: string,
  page: { limit: number; status?: string; after?: { createdAt: string; id: string } },
): Promise<ListedDeliveryRow[]> {
  const { rows } = await db.query<ListedDeliveryRow>(
    `select *, to_json(created_at) #>> '{}' as created_at_exact from webhook_deliveries
     where endpoint_id = $1 and ($2::text is null or status = $2)
       and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::uuid))
     order by created_at desc, id desc
     limit $5`,
    [endpointId, page.status ?? null, page.after?.createdAt ?? null, page.after?.id ?? null, page.limit],
  );
  return rows;
}

export async function listAttempts(db: Queryable, deliveryIds: string[]): Promise<AttemptRow[]> {
  const { rows } = await db.query<AttemptRow>(
    `select delivery_id, attempted_at, status_code, duration_ms, response_body, error
     from webhook_attempts where delivery_id = any ($1::uuid[]) order by id`,
    [deliveryIds],
  );
  return rows;
}
