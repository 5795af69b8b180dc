import type { Queryable } from '../db/pool.ts';
import { IMPORT_EVENTS_CHANNEL, notifyPayloadSql } from '../events/live-events.ts';
import type { AlertKind } from './alert-view.ts';

export type AlertRow = {
  id: string;
  tenant_id: string;
  kind: AlertKind;
  signature: string;
  status: 'open' | 'acknowledged';
  title: string;
  message: string;
  details: Record<string, unknown>;
  occurrences: number;
  first_seen_at: Date;
  last_seen_at: Date;
  updated_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
};

// Every statement that changes an alert also NOTIFYs it (at commit), so tenant streams see it.
const notifyAlert = (row: string) =>
  `pg_notify('${IMPORT_EVENTS_CHANNEL}', ${notifyPayloadSql('alert', { alertId: `${row}.id`, tenantId: `${row}.tenant_id` })})`;

/**
 * Raises an alert, or repeats the open one with the same (tenant, kind, signature): occurrences
 * and last_seen_at go up and title, message and details become the latest (a drift's
 * first_import_id is kept). `opened` says which happened.
 */
export async function upsertOpenAlert(
  db: Queryable,
  alert: { tenantId: string; kind: AlertKind; signature: string; title: string; message: string; details: Record<string, unknown> },
): Promise<AlertRow & { opened: boolean }> {
  const { rows } = await db.query<AlertRow & { opened: boolean }>(
    `with raised as (
       insert into alerts (tenant_id, kind, signature, title, message, details)
       values ($1, $2, $3, $4, $5, $6)
       on conflict (tenant_id, kind, signature) where status = 'open' do update set
         occurrences = alerts.occurrences + 1,
         last_seen_at = now(),
         updated_at = now(),
         title = excluded.title,
         message = excluded.message,
         details = excluded.details || jsonb_strip_nulls(jsonb_build_object('first_import_id', alerts.details -> 'first_import_id'))
       returning *, xmax = 0 as opened
     )
     select raised.*, ${notifyAlert('raised')} from raised`,
    [alert.tenantId, alert.kind, alert.signature, alert.title, alert.message, alert.details],
  );
  return rows[0]!;
}

export async function findAlert(db: Queryable, tenantId: string, id: string): Promise<AlertRow | undefined> {
  const { rows } = await db.query<AlertRow>('select * from alerts where id = $1 and tenant_id = $2', [id, tenantId]);
  return rows[0];
}

/** open → acknowledged; undefined when the alert is not open (or not the tenant's). */
export async function markAlertAcknowledged(
  db: Queryable,
  tenantId: string,
  id: string,
  by: { apiKeyId: string | null },
): Promise<AlertRow | undefined> {
  const { rows } = await db.query<AlertRow>(
    `with acknowledged as (
       update alerts set status = 'acknowledged', acknowledged_at = now(), acknowledged_by = $3, updated_at = now()
       where id = $1 and tenant_id = $2 and status = 'open'
       returning *
     )
     select acknowledged.*, ${notifyAlert('acknowledged')} from acknowledged`,
    [id, tenantId, by.apiKeyId],
  );
  return rows[0];
}

/** A listed alert with its exact first_seen_at as text (microseconds): a Date keeps only milliseconds. */
export type ListedAlertRow = AlertRow & { first_seen_at_exact: string };

/** Newest first (by when first raised, which never changes, so pages stay stable); keyset on (first_seen_at, id). */
export async function listAlerts(
  db: Queryable,
  tenantId: string,
  page: {
    limit: number;
    status?: AlertRow['status'];
    kind?: AlertKind;
    source?: string;
    after?: { firstSeenAt: string; id: string };
  },
): Promise<ListedAlertRow[]> {
  const { rows } = await db.query<ListedAlertRow>(
    `select *, to_json(first_seen_at) #>> '{}' as first_seen_at_exact from alerts
     where tenant_id = $1
       and ($2::text is null or status = $2)
       and ($3::text is null or kind = $3)
       and ($4::text is null or details ->> 'source' = $4)
       and ($5::timestamptz is null or (first_seen_at, id) < ($5::timestamptz, $6::uuid))
     order by first_seen_at desc, id desc
     limit $7`,
    [tenantId, page.status ?? null, page.kind ?? null, page.source ?? null, page.after?.firstSeenAt ?? null, page.after?.id ?? null, page.limit],
  );
  return rows;
}

/** Alerts changed since `since`: what a tenant stream re-reads after its LISTEN connection came back. */
export async function listAlertsChangedSince(db: Queryable, tenantId: string, since: Date): Promise<AlertRow[]> {
  const { rows } = await db.query<AlertRow>(
    'select * from alerts where tenant_id = $1 and updated_at >= $2 order by updated_at limit 1000',
    [tenantId, since],
  );
  return rows;
}

export async function findAlertById(db: Queryable, id: string): Promise<AlertRow | undefined> {
  const { rows } = await db.query<AlertRow>('select * from alerts where id = $1', [id]);
  return rows[0];
}
