import { createHash, randomBytes } from 'node:crypto';
import type { Principal } from '../api-keys/api-keys.ts';
import type { Queryable } from '../db/pool.ts';

export const TICKET_TTL_SECONDS = 60;
const TICKET_PREFIX = 'ldt_';

export type TicketScope = { importId: string | null };

function hashTicket(ticket: string): Buffer {
  return createHash('sha256').update(ticket).digest();
}

/** Issues a ticket for one stream; expired tickets are swept on the way. */
export async function createEventTicket(
  db: Queryable,
  principal: Principal,
  scope: TicketScope,
): Promise<{ ticket: string; expiresAt: Date }> {
  const ticket = TICKET_PREFIX + randomBytes(24).toString('base64url');
  const { rows } = await db.query<{ expires_at: Date }>(
    `with swept as (delete from event_tickets where expires_at < now() - interval '1 hour')
     insert into event_tickets (token_hash, tenant_id, api_key_id, import_id, expires_at)
     values ($1, $2, $3, $4, now() + make_interval(secs => $5))
     returning expires_at`,
    [hashTicket(ticket), principal.tenantId, principal.apiKeyId, scope.importId, TICKET_TTL_SECONDS],
  );
  return { ticket, expiresAt: rows[0]!.expires_at };
}

/** Marks the ticket used and returns who it was for; undefined when unknown, expired, used or revoked. */
export async function redeemEventTicket(
  db: Queryable,
  ticket: string,
): Promise<(Principal & TicketScope) | undefined> {
  if (!ticket.startsWith(TICKET_PREFIX)) return undefined;
  const { rows } = await db.query<{ tenant_id: string; api_key_id: string; import_id: string | null }>(
    `update event_tickets t set used_at = now()
     from api_keys k
     where t.token_hash = $1 and t.used_at is null and t.expires_at > now()
       and k.id = t.api_key_id and k.revoked_at is null
     returning t.tenant_id, t.api_key_id, t.import_id`,
    [hashTicket(ticket)],
  );
  const row = rows[0];
  return row && { tenantId: row.tenant_id, apiKeyId: row.api_key_id, importId: row.import_id };
}
