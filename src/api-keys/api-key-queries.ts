import type { Queryable } from '../db/pool.ts';

export type ApiKeyRow = {
  id: string;
  tenant_id: string;
  tenant_name: string;
  name: string;
  prefix: string;
  created_at: Date;
  revoked_at: Date | null;
};

export async function upsertTenant(db: Queryable, name: string): Promise<string> {
  // The no-op update makes RETURNING yield the id of an existing tenant too.
  const { rows } = await db.query<{ id: string }>(
    `insert into tenants (name) values ($1)
     on conflict (name) do update set name = excluded.name
     returning id`,
    [name],
  );
  return rows[0]!.id;
}

export async function insertApiKey(
  db: Queryable,
  key: { tenantId: string; name: string; prefix: string; keyHash: Buffer },
): Promise<{ id: string; created_at: Date }> {
  const { rows } = await db.query<{ id: string; created_at: Date }>(
    `insert into api_keys (tenant_id, name, prefix, key_hash) values ($1, $2, $3, $4)
     returning id, created_at`,
    [key.tenantId, key.name, key.prefix, key.keyHash],
  );
  return rows[0]!;
}

export async function findActiveApiKeyByHash(
  db: Queryable,
  keyHash: Buffer,
): Promise<{ id: string; tenant_id: string } | undefined> {
  const { rows } = await db.query<{ id: string; tenant_id: string }>(
    'select id, tenant_id from api_keys where key_hash = $1 and revoked_at is null',
    [keyHash],
  );
  return rows[0];
}

export async function listApiKeys(db: Queryable, tenantName?: string): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<ApiKeyRow>(
    `select k.id, k.tenant_id, t.name as tenant_name, k.name, k.prefix, k.created_at, k.revoked_at
     from api_keys k join tenants t on t.id = k.tenant_id
     where $1::text is null or t.name = $1
     order by t.name, k.id`,
    [tenantName ?? null],
  );
  return rows;
}

/** Revokes by id or by the key's displayed prefix; returns the keys revoked. */
export async function revokeApiKey(
  db: Queryable,
  idOrPrefix: string,
): Promise<{ id: string; tenant_id: string; prefix: string }[]> {
  const { rows } = await db.query<{ id: string; tenant_id: string; prefix: string }>(
    `update api_keys set revoked_at = now()
     where revoked_at is null and (id::text = $1 or prefix = $1)
     returning id, tenant_id, prefix`,
    [idOrPrefix],
  );
  return rows;
}
