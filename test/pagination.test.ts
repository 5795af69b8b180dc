import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// Keyset pagination on (created_at, id), newest first. PostgreSQL keeps microseconds and a JS Date
// only milliseconds, so rows sharing a created_at (one statement's now()) or a millisecond must
// still each be listed exactly once, in order, across page boundaries.

let service: TestService;

beforeAll(async () => {
  service = await startTestService({ WEBHOOK_ALLOW_PRIVATE: 'true' });
});
afterAll(() => service?.stop());

/** null: the statement's now(), shared by every such row. */
type SeedTime = string | null;

/** 8 rows at one now(), then 7 rows inside one millisecond (some sharing a microsecond), and neighbours. */
const SEED_TIMES: SeedTime[] = [
  ...Array<SeedTime>(8).fill(null),
  '2024-05-01T12:00:00.124Z',
  ...[0, 0, 1, 2, 2, 3, 999].map((us) => `2024-05-01T12:00:00.123${String(us).padStart(3, '0')}Z`),
  '2024-05-01T12:00:00.122Z',
];

type Seeded = { id: string; owner: string; us: bigint };

/** Newest first, ties by id descending: the order the API promises (uuid order is its hex text order). */
function newestFirst(rows: Seeded[]): string[] {
  return [...rows]
    .sort((a, b) => (a.us === b.us ? (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) : a.us < b.us ? 1 : -1))
    .map((row) => row.id);
}

/** Follows next_cursor from the first page to the last; returns the ids in the order they were listed. */
async function listAll(key: string, path: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    expect(pages, 'more pages than rows: the cursor does not advance').toBeLessThan(100);
    const separator = path.includes('?') ? '&' : '?';
    const response = await service.request(`${path}${separator}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { key });
    expect(response.status).toBe(200);
    const page = await readJson(response);
    expect(page.items.length).toBeLessThanOrEqual(limit);
    ids.push(...page.items.map((item: { id: string }) => item.id));
    if (page.next_cursor === null) return ids;
    expect(page.items).toHaveLength(limit);
    cursor = page.next_cursor;
  }
}

async function tenantId(name: string): Promise<string> {
  const { rows } = await service.pool.query<{ id: string }>('select id::text from tenants where name = $1', [name]);
  return rows[0]!.id;
}

function cursorOf(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('GET /v1/imports pagination', () => {
  let ownKey: string;
  let otherKey: string;
  let own: Seeded[];
  let other: Seeded[];

  beforeAll(async () => {
    const a = await service.createTenant('paging');
    const b = await service.createTenant('paging-other');
    ownKey = a.key;
    otherKey = b.key;
    const [ownId, otherId] = [await tenantId(a.tenant), await tenantId(b.tenant)];
    // One statement for both tenants: the other tenant's rows share the very same created_at values.
    const owners = [...SEED_TIMES.map(() => ownId), ...SEED_TIMES.slice(0, 10).map(() => otherId)];
    const times = [...SEED_TIMES, ...SEED_TIMES.slice(0, 10)];
    const { rows } = await service.pool.query<{ id: string; owner: string; us: string }>(
      `insert into imports (tenant_id, status, file_path, bytes, sha256, created_at)
       select owner, 'succeeded', 'seeded.csv', 0, 'seeded', coalesce(at, now())
       from unnest($1::bigint[], $2::timestamptz[]) as seed (owner, at)
       returning id, tenant_id::text as owner, (extract(epoch from created_at) * 1000000)::bigint::text as us`,
      [owners, times],
    );
    const seeded = rows.map((row) => ({ id: row.id, owner: row.owner, us: BigInt(row.us) }));
    own = seeded.filter((row) => row.owner === ownId);
    other = seeded.filter((row) => row.owner === otherId);
    expect(own).toHaveLength(SEED_TIMES.length);
  });

  it('lists every import exactly once, newest first, across pages of 3', async () => {
    const listed = await listAll(ownKey, '/v1/imports', 3);
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed).toEqual(newestFirst(own));
  });

  it('gives the same sequence whatever the page size', async () => {
    for (const limit of [1, 2, 7, 100]) expect(await listAll(ownKey, '/v1/imports', limit)).toEqual(newestFirst(own));
  });

  it("never shows another tenant's imports", async () => {
    expect(await listAll(otherKey, '/v1/imports', 3)).toEqual(newestFirst(other));
  });

  it('refuses a cursor of the previous, millisecond shape with the usual 400', async () => {
    const old = cursorOf({ createdAt: '2024-05-01T12:00:00.123Z', id: own[0]!.id });
    const response = await service.request(`/v1/imports?limit=3&cursor=${old}`, { key: ownKey });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error).toMatchObject({
      code: 'bad_request',
      message: expect.stringContaining('The cursor is not valid'),
    });
  });

  it('refuses a cursor whose time is not a timestamp with 400, not 500', async () => {
    const first = await readJson(await service.request('/v1/imports?limit=3', { key: ownKey }));
    const decoded = JSON.parse(Buffer.from(first.next_cursor, 'base64url').toString('utf8'));
    for (const time of ['yesterday', '2024-13-45T99:00:00Z', 42]) {
      const tampered = cursorOf({ ...decoded, createdAt: time });
      const response = await service.request(`/v1/imports?limit=3&cursor=${tampered}`, { key: ownKey });
      expect(response.status).toBe(400);
    }
  });
});

describe('GET /v1/webhooks/{id}/deliveries pagination', () => {
  let key: string;
  let outsiderKey: string;
  let endpointId: string;
  let siblingId: string;
  let own: Seeded[];
  let sibling: Seeded[];

  async function register(as: string): Promise<string> {
    const response = await service.request('/v1/webhooks', {
      method: 'POST',
      key: as,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://127.0.0.1:9/hooks' }),
    });
    expect(response.status).toBe(201);
    return (await readJson(response)).id;
  }

  beforeAll(async () => {
    const a = await service.createTenant('deliveries');
    key = a.key;
    outsiderKey = (await service.createTenant('deliveries-outsider')).key;
    endpointId = await register(key);
    siblingId = await register(key);
    // Finished deliveries, so no worker ever picks them up; one statement, so now() is shared.
    const endpoints = [...SEED_TIMES.map(() => endpointId), ...SEED_TIMES.slice(0, 10).map(() => siblingId)];
    const times = [...SEED_TIMES, ...SEED_TIMES.slice(0, 10)];
    const { rows } = await service.pool.query<{ id: string; owner: string; us: string }>(
      `insert into webhook_deliveries (endpoint_id, tenant_id, event_id, event_type, body, status, completed_at, created_at)
       select endpoint, $3, 'evt_seeded_' || n, 'import.succeeded', '{}', 'succeeded', now(), coalesce(at, now())
       from unnest($1::uuid[], $2::timestamptz[]) with ordinality as seed (endpoint, at, n)
       returning id, endpoint_id::text as owner, (extract(epoch from created_at) * 1000000)::bigint::text as us`,
      [endpoints, times, await tenantId(a.tenant)],
    );
    const seeded = rows.map((row) => ({ id: row.id, owner: row.owner, us: BigInt(row.us) }));
    own = seeded.filter((row) => row.owner === endpointId);
    sibling = seeded.filter((row) => row.owner === siblingId);
    expect(own).toHaveLength(SEED_TIMES.length);
  });

  it('lists every delivery exactly once, newest first, across pages of 3', async () => {
    const listed = await listAll(key, `/v1/webhooks/${endpointId}/deliveries`, 3);
    expect(new Set(listed).size).toBe(listed.length);
    expect(listed).toEqual(newestFirst(own));
    // Another endpoint of the tenant, its deliveries at the very same created_at values: only its own.
    expect(await listAll(key, `/v1/webhooks/${siblingId}/deliveries`, 3)).toEqual(newestFirst(sibling));
  });

  it('pages the same way with a status filter', async () => {
    expect(await listAll(key, `/v1/webhooks/${endpointId}/deliveries?status=succeeded`, 2)).toEqual(newestFirst(own));
    expect(await listAll(key, `/v1/webhooks/${endpointId}/deliveries?status=pending`, 2)).toEqual([]);
  });

  it("answers 404 for another tenant's endpoint, with or without a cursor", async () => {
    const first = await readJson(await service.request(`/v1/webhooks/${endpointId}/deliveries?limit=3`, { key }));
    for (const query of ['limit=3', `limit=3&cursor=${first.next_cursor}`]) {
      const response = await service.request(`/v1/webhooks/${endpointId}/deliveries?${query}`, { key: outsiderKey });
      expect(response.status).toBe(404);
    }
  });

  it('refuses a cursor of the previous, millisecond shape with the usual 400', async () => {
    const old = cursorOf({ createdAt: '2024-05-01T12:00:00.123Z', id: own[0]!.id });
    const response = await service.request(`/v1/webhooks/${endpointId}/deliveries?limit=3&cursor=${old}`, { key });
    expect(response.status).toBe(400);
    expect((await readJson(response)).error.message).toContain('The cursor is not valid');
  });
});
