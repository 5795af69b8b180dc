import { createMiddleware } from 'hono/factory';
import { authenticateApiKey } from '../api-keys/api-keys.ts';
import type { Queryable } from '../db/pool.ts';
import type { AppEnv } from './app-env.ts';
import { ApiError } from './errors.ts';

/** Every /v1 route: `Authorization: Bearer <key>`; sets c.var.principal (tenant and key id). */
export function requireApiKey(db: Queryable) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const header = c.req.header('authorization');
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new ApiError('unauthorized', 'Missing API key: send the header "Authorization: Bearer <key>"');
    const principal = await authenticateApiKey(db, match[1]!);
    if (!principal) throw new ApiError('unauthorized', 'The API key is not valid or has been revoked');
    c.set('principal', principal);
    c.set('logger', c.var.logger.child({ tenantId: principal.tenantId }));
    await next();
  });
}
