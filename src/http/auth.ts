import { createMiddleware } from 'hono/factory';
import { authenticateApiKey } from '../api-keys/api-keys.ts';
import type { Queryable } from '../db/pool.ts';
import { redeemEventTicket } from '../events/event-tickets.ts';
import type { AppEnv } from './app-env.ts';
import { ApiError } from './errors.ts';

/**
 * Every /v1 route: `Authorization: Bearer <key>`; sets c.var.principal (tenant and key id).
 * A WebSocket upgrade may instead carry `?ticket=` (browsers cannot set headers on a WebSocket):
 * the ticket is used up here and its scope left for the stream route to check.
 */
export function requireApiKeyOrTicket(db: Queryable) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('authorization');
    const ticket = c.req.query('ticket');
    if (!header && ticket && c.req.header('upgrade')?.toLowerCase() === 'websocket') {
      const redeemed = await redeemEventTicket(db, ticket);
      if (!redeemed) throw new ApiError('unauthorized', 'The ticket is not valid: unknown, expired or already used');
      c.set('principal', { tenantId: redeemed.tenantId, apiKeyId: redeemed.apiKeyId });
      c.set('ticketScope', { importId: redeemed.importId });
    } else {
      const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!match) throw new ApiError('unauthorized', 'Missing API key: send the header "Authorization: Bearer <key>"');
      const principal = await authenticateApiKey(db, match[1]!);
      if (!principal) throw new ApiError('unauthorized', 'The API key is not valid or has been revoked');
      c.set('principal', principal);
    }
    c.set('logger', c.var.logger.child({ tenantId: c.var.principal.tenantId }));
    await next();
  });
}
