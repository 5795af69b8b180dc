import type { Queryable } from '../db/pool.ts';

/** Who acts: an API key (with the request id) or the operator's CLI. */
export type Actor = { tenantId: string; apiKeyId: string | null; requestId: string | null; via: 'api' | 'cli' };

export type AuditAction =
  | 'import.created'
  | 'import.cancelled'
  | 'webhook.created'
  | 'webhook.changed'
  | 'webhook.deleted'
  | 'template.created'
  | 'template.changed'
  | 'template.deleted'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'alert.acknowledged';

export type AuditEntryRow = {
  id: string;
  api_key_id: string | null;
  via: string;
  action: string;
  target_type: string;
  target_id: string;
  request_id: string | null;
  details: Record<string, unknown>;
  created_at: Date;
};

/** Appends one entry; call it on the transaction of the change it records. */
export async function recordAudit(
  db: Queryable,
  actor: Actor,
  entry: { action: AuditAction; targetType: string; targetId: string; details?: Record<string, unknown> },
): Promise<void> {
  await db.query(
    `insert into audit_log (tenant_id, api_key_id, via, action, target_type, target_id, request_id, details)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [actor.tenantId, actor.apiKeyId, actor.via, entry.action, entry.targetType, entry.targetId, actor.requestId, entry.details ?? {}],
  );
}

/** Newest first; the cursor is the id of the last entry of the previous page. */
export async function listAuditEntries(
  db: Queryable,
  tenantId: string,
  page: { limit: number; beforeId?: string; action?: string },
): Promise<AuditEntryRow[]> {
  const { rows } = await db.query<AuditEntryRow>(
    `select id, api_key_id, via, action, target_type, target_id, request_id, details, created_at
     from audit_log
     where tenant_id = $1 and ($2::bigint is null or id < $2) and ($3::text is null or action = $3)
     order by id desc
     limit $4`,
    [tenantId, page.beforeId ?? null, page.action ?? null, page.limit],
  );
  return rows;
}
