import type { Context } from 'hono';
import type { Actor } from '../audit/audit-log.ts';
import type { AppEnv } from './app-env.ts';

/** The audit actor of an authenticated request. */
export function actorOf(c: Context<AppEnv>): Actor {
  return { tenantId: c.var.principal.tenantId, apiKeyId: c.var.principal.apiKeyId, requestId: c.var.requestId, via: 'api' };
}
