import { recordAudit, type Actor } from '../audit/audit-log.ts';
import { isUuid } from '../db/is-uuid.ts';
import { withTransaction, type Pool, type Queryable } from '../db/pool.ts';
import { NotFoundError } from '../errors.ts';
import { findAlert, listAlerts, markAlertAcknowledged, type AlertRow, type ListedAlertRow } from './alert-queries.ts';
import type { AlertKind } from './alert-view.ts';

// The tenant's alerts (raised by check-schema-drift.ts and raise-endpoint-alert.ts): read and
// acknowledge. Acknowledging says "seen": the same problem again then opens a new alert.

export type AlertFilter = { status?: AlertRow['status']; kind?: AlertKind; source?: string };

export function listTenantAlerts(
  db: Queryable,
  tenantId: string,
  page: AlertFilter & { limit: number; after?: { firstSeenAt: string; id: string } },
): Promise<ListedAlertRow[]> {
  return listAlerts(db, tenantId, page);
}

/** The tenant's alert or 404: another tenant's id looks exactly like a missing one. */
export async function getAlert(db: Queryable, tenantId: string, id: string): Promise<AlertRow> {
  const row = isUuid(id) ? await findAlert(db, tenantId, id) : undefined;
  if (!row) throw new NotFoundError(`No alert with id "${id}"`);
  return row;
}

/**
 * open → acknowledged, audited, and announced on the tenant's live stream. Idempotent: an alert
 * already acknowledged is answered as it is (who acknowledged it first stays), with no new audit entry.
 */
export async function acknowledgeAlert(pool: Pool, actor: Actor, id: string): Promise<AlertRow> {
  await getAlert(pool, actor.tenantId, id);
  return withTransaction(pool, async (client) => {
    const row = await markAlertAcknowledged(client, actor.tenantId, id, { apiKeyId: actor.apiKeyId });
    if (!row) return getAlert(client, actor.tenantId, id);
    await recordAudit(client, actor, {
      action: 'alert.acknowledged',
      targetType: 'alert',
      targetId: id,
      details: { kind: row.kind, title: row.title, occurrences: row.occurrences },
    });
    return row;
  });
}
