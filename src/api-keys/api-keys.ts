import { createHash, randomBytes } from 'node:crypto';
import { recordAudit } from '../audit/audit-log.ts';
import { withTransaction, type Pool, type Queryable } from '../db/pool.ts';
import { findActiveApiKeyByHash, insertApiKey, revokeApiKey, upsertTenant } from './api-key-queries.ts';

const KEY_PREFIX = 'ldg_';
/** How much of a key `apikey list` shows, enough to tell keys apart, useless to an attacker. */
const DISPLAY_PREFIX_LENGTH = KEY_PREFIX.length + 8;

export type CreatedApiKey = { id: string; key: string; prefix: string; tenant: string; createdAt: Date };
export type Principal = { tenantId: string; apiKeyId: string };

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** Creates the tenant if needed and a new key for it; the plaintext key exists only in the return value. */
export async function createApiKey(pool: Pool, input: { tenant: string; name?: string }): Promise<CreatedApiKey> {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  const prefix = key.slice(0, DISPLAY_PREFIX_LENGTH);
  return withTransaction(pool, async (client) => {
    const tenantId = await upsertTenant(client, input.tenant);
    const row = await insertApiKey(client, { tenantId, name: input.name ?? '', prefix, keyHash: hashApiKey(key) });
    await recordAudit(client, operator(tenantId), {
      action: 'api_key.created',
      targetType: 'api_key',
      targetId: row.id,
      details: { prefix, name: input.name ?? '' },
    });
    return { id: row.id, key, prefix, tenant: input.tenant, createdAt: row.created_at };
  });
}

/** Revokes by id or displayed prefix; each revocation is audited. Returns how many were revoked. */
export async function revokeApiKeys(pool: Pool, idOrPrefix: string): Promise<number> {
  return withTransaction(pool, async (client) => {
    const revoked = await revokeApiKey(client, idOrPrefix);
    for (const key of revoked) {
      await recordAudit(client, operator(key.tenant_id), {
        action: 'api_key.revoked',
        targetType: 'api_key',
        targetId: key.id,
        details: { prefix: key.prefix },
      });
    }
    return revoked.length;
  });
}

/** Keys are managed by the operator (CLI, or npm start's dev key), not through the API. */
function operator(tenantId: string) {
  return { tenantId, apiKeyId: null, requestId: null, via: 'cli' as const };
}

export async function authenticateApiKey(db: Queryable, key: string): Promise<Principal | undefined> {
  if (!key.startsWith(KEY_PREFIX)) return undefined;
  const row = await findActiveApiKeyByHash(db, hashApiKey(key));
  return row && { tenantId: row.tenant_id, apiKeyId: row.id };
}
