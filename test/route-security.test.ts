import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { revokeApiKeys } from '../src/api-keys/api-keys.ts';
import { readJson, startTestService } from './helpers/test-service.ts';

// Every operation in /openapi.json, discovered from the document itself: a route is covered the
// day it is documented, with nothing to add here (unless it needs a body or a new kind of path
// parameter, and then a test below fails until it is added). Each protected (bearerAuth) operation
// must answer a missing, malformed, unknown or revoked key with 401 in the one error shape, and
// another tenant's ids with 404, leaving the owner's resources as they were. An operation without
// security must be on PUBLIC_OPERATIONS: a route cannot go public without someone saying so here.

/** Documented operations anyone may call. Everything else in /openapi.json must require bearerAuth. */
const PUBLIC_OPERATIONS = ['GET /health', 'GET /ready', 'GET /metrics'];
/** Public routes that are not operations of the document (the document itself and its viewer). */
const PUBLIC_UNDOCUMENTED = ['GET /openapi.json', 'GET /docs'];

/**
 * Operations where another tenant's key on the owner's path is not a lookup but a write into the
 * caller's own namespace: PUT /v1/products/{sku} creates or replaces the caller's product with that
 * sku (skus are per tenant). The caller must get its own product and the owner's must not change.
 */
const OWN_NAMESPACE_UPSERTS = ['PUT /v1/products/{sku}'];

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const MISSING_KEY = 'Missing API key: send the header "Authorization: Bearer <key>"';

type SecurityRequirement = Record<string, string[]>;
type OpenApiOperation = { security?: SecurityRequirement[]; requestBody?: unknown; responses?: Record<string, unknown> };
type OpenApiDocument = {
  paths: Record<string, Record<string, OpenApiOperation>>;
  security?: SecurityRequirement[];
  components?: { securitySchemes?: Record<string, { type?: string; scheme?: string }> };
};
type Operation = {
  /** "METHOD /path/{param}", as in the document */
  key: string;
  method: string;
  path: string;
  params: string[];
  hasBody: boolean;
  isProtected: boolean;
  /** Answers 101: a WebSocket stream, also tested through a real upgrade */
  isWebSocket: boolean;
};
/** Resources one tenant owns, created through the API. */
type Owned = { tenant: string; key: string; importId: string; sku: string; endpointId: string; deliveryId: string; templateName: string; alertId: string };
type Outcome = { status: number; requestId: string | null; body: unknown };

/** Which resource of its owner each path parameter names, by parameter and path. */
const PATH_VALUES: Record<string, (path: string, owner: Owned) => string | undefined> = {
  id: (path, owner) =>
    path.startsWith('/v1/imports/') ? owner.importId
    : path.startsWith('/v1/webhooks/') ? owner.endpointId
    : path.startsWith('/v1/alerts/') ? owner.alertId
    : undefined,
  sku: (path, owner) => (path.startsWith('/v1/products/') ? owner.sku : undefined),
  deliveryId: (path, owner) => (path.startsWith('/v1/webhooks/') ? owner.deliveryId : undefined),
  name: (path, owner) => (path.startsWith('/v1/templates/') ? owner.templateName : undefined),
};

const csv = await readFile(new URL('../fixtures/products-invalid-rows.csv', import.meta.url), 'utf8');
const receiver = await startReceiver();
const json = (value: unknown) => ({ contentType: 'application/json', body: JSON.stringify(value) });

/** A minimal valid body for every operation that documents a requestBody. */
const BODIES: Record<string, () => { contentType: string; body: string }> = {
  'POST /v1/imports': () => ({ contentType: 'text/csv', body: csv }),
  'POST /v1/imports/preview': () => ({ contentType: 'text/csv', body: csv }),
  'POST /v1/products': () => json({ sku: 'RS-CREATED', name: 'Created by route-security', price: '1.00' }),
  'PUT /v1/products/{sku}': () => json({ name: 'Replaced by route-security', price: '2.00' }),
  'POST /v1/webhooks': () => json({ url: `${receiver.url}/created` }),
  'PATCH /v1/webhooks/{id}': () => json({ description: 'Changed by route-security' }),
  'POST /v1/templates': () => json({ name: 'RS created', mapping: { Title: 'name' } }),
  'PUT /v1/templates/{name}': () => json({ mapping: { Title: 'name' }, options: { header_row: 2 } }),
};

const service = await startTestService({ WEBHOOK_ALLOW_PRIVATE: 'true' });
afterAll(async () => {
  await service.stop();
  await receiver.close();
});
const doc = (await readJson(await service.request('/openapi.json'))) as OpenApiDocument;
const operations = listOperations(doc);
const protectedOperations = operations.filter((op) => op.isProtected);
const withPathParams = protectedOperations.filter((op) => op.params.length > 0);

let alice: Owned;
let bob: Owned;
let aliceTenantId: string;
let revokedKey: string;

beforeAll(async () => {
  alice = await createOwned('rs-alice', 'RS-ALICE');
  bob = await createOwned('rs-bob', 'RS-BOB');
  aliceTenantId = (await service.pool.query('select id from tenants where name = $1', [alice.tenant])).rows[0].id;
  const revoked = await service.createTenant('rs-revoked');
  expect((await service.request('/v1/imports', { key: revoked.key })).status).toBe(200);
  expect(await revokeApiKeys(service.pool, revoked.key.slice(0, 12))).toBe(1);
  revokedKey = revoked.key;
});

describe('the document', () => {
  it('lists operations and defines bearerAuth as an HTTP bearer scheme', () => {
    expect(protectedOperations.length).toBeGreaterThan(0);
    expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('has no operation without bearerAuth that is not on the public allow-list', () => {
    const unlisted = operations.filter((op) => !op.isProtected && !PUBLIC_OPERATIONS.includes(op.key)).map((op) => op.key);
    expect(unlisted, 'public operations nobody allowed: add bearerSecurity, or PUBLIC_OPERATIONS if it must be public').toEqual([]);
  });

  it('has every allow-listed operation, and none of the lists here is stale', () => {
    const keys = operations.map((op) => op.key);
    expect(PUBLIC_OPERATIONS.filter((key) => !keys.includes(key)), 'PUBLIC_OPERATIONS not in the document').toEqual([]);
    expect(OWN_NAMESPACE_UPSERTS.filter((key) => !keys.includes(key)), 'OWN_NAMESPACE_UPSERTS not in the document').toEqual([]);
    expect(Object.keys(BODIES).filter((key) => !keys.includes(key)), 'BODIES for operations not in the document').toEqual([]);
  });

  it('has a body in BODIES for every operation with a requestBody', () => {
    const missing = operations.filter((op) => op.hasBody && !BODIES[op.key]).map((op) => op.key);
    expect(missing, 'add a minimal valid body to BODIES').toEqual([]);
  });

  it('has a value in PATH_VALUES for every path parameter', () => {
    const missing = protectedOperations.flatMap((op) =>
      op.params.filter((param) => PATH_VALUES[param]?.(op.path, alice) === undefined).map((param) => `{${param}} in ${op.key}`),
    );
    expect(missing, 'say in PATH_VALUES which resource the parameter names').toEqual([]);
  });

  it.each([...PUBLIC_OPERATIONS, ...PUBLIC_UNDOCUMENTED])('%s answers without a key', async (key) => {
    const [method, path] = key.split(' ') as [string, string];
    const response = await service.request(path, { method });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  });
});

describe('without a valid key, every protected operation answers 401 in the error shape and does nothing', () => {
  const credentials = (): [string, Record<string, string>][] => [
    ['no Authorization header', {}],
    ['a Basic header', { authorization: 'Basic YWxpY2U6c2VjcmV0' }],
    ['"Bearer" and no key', { authorization: 'Bearer' }],
    ['two tokens after Bearer', { authorization: `Bearer ${alice.key} ${alice.key}` }],
    ['an unknown key', { authorization: 'Bearer ldg_not-a-real-key' }],
    ["a valid key's prefix with a wrong secret", { authorization: `Bearer ${alice.key}x` }],
    ['a revoked key', { authorization: `Bearer ${revokedKey}` }],
  ];

  it.each(protectedOperations.map((op) => [op.key, op] as const))('%s', async (_key, op) => {
    const path = fillPath(op, () => alice);
    const before = await snapshotOfAlice();
    for (const [label, headers] of credentials()) {
      const outcome = await send(op, path, headers);
      expect.soft(outcome, `${op.key} with ${label}`).toEqual(errorOutcome(401, 'unauthorized', outcome.requestId));
      if (label === 'no Authorization header') expect.soft(outcome.body, op.key).toMatchObject({ error: { message: MISSING_KEY } });
      if (op.isWebSocket) {
        const upgraded = await upgrade(path, headers);
        expect.soft(upgraded, `${op.key} WebSocket upgrade with ${label}`).toEqual(refusedUpgrade(401));
      }
    }
    expect(await snapshotOfAlice(), `${op.key} without a valid key changed something`).toEqual(before);
  });
});

describe("with another tenant's key, every operation on the owner's ids answers 404 and changes nothing", () => {
  it.each(withPathParams.map((op) => [op.key, op] as const))('%s', async (_key, op) => {
    const before = await snapshotOfAlice();
    // All of alice's ids; and when there are several, each of alice's ids with bob's own for the rest.
    const variants: ((param: string) => Owned)[] = [() => alice];
    if (op.params.length > 1) for (const own of op.params) variants.push((param) => (param === own ? alice : bob));
    for (const ownerOf of variants) {
      const path = fillPath(op, ownerOf);
      const headers = { authorization: `Bearer ${bob.key}` };
      if (OWN_NAMESPACE_UPSERTS.includes(op.key)) {
        const outcome = await send(op, path, headers);
        expect(outcome.status, `${op.key} as bob: creates bob's own`).toBe(201);
        expect(outcome.body, `${op.key} as bob: bob's own`).toMatchObject({ sku: alice.sku, name: 'Replaced by route-security' });
        expect((await service.request(path, { method: 'DELETE', key: bob.key })).status).toBe(204);
        continue;
      }
      const outcome = await send(op, path, headers);
      expect.soft(outcome, `${op.key} as bob on ${path}`).toEqual(errorOutcome(404, 'not_found', outcome.requestId));
      if (op.isWebSocket) {
        const upgraded = await upgrade(path, headers);
        expect.soft(upgraded, `${op.key} WebSocket upgrade as bob on ${path}`).toEqual(refusedUpgrade(404));
      }
    }
    expect(await snapshotOfAlice(), `${op.key} as bob changed alice's resources`).toEqual(before);
  });
});

describe("with the owner's key, every protected operation gets through (so the 401s and 404s above are about the key)", () => {
  // Deletes last: they remove what the others need.
  const ordered = [...protectedOperations.filter((op) => op.method !== 'DELETE'), ...protectedOperations.filter((op) => op.method === 'DELETE')];

  it.each(ordered.map((op) => [op.key, op] as const))('%s', async (_key, op) => {
    const path = fillPath(op, () => alice);
    const headers = { authorization: `Bearer ${alice.key}` };
    const outcome = await send(op, path, headers);
    if (op.isWebSocket) {
      expect(outcome, `${op.key} as alice without an upgrade`).toEqual(errorOutcome(426, 'upgrade_required', outcome.requestId));
      expect((await upgrade(path, headers)).status, `${op.key} WebSocket upgrade as alice`).toBe(101);
    } else {
      expect(outcome.status, `${op.key} as alice: ${JSON.stringify(outcome.body)}`).toBeLessThan(500);
      expect([401, 403, 404], `${op.key} as alice: ${JSON.stringify(outcome.body)}`).not.toContain(outcome.status);
    }
    // An upload queues an import: let it end before the service stops.
    if (op.key === 'POST /v1/imports') await service.waitForImport(alice.key, (outcome.body as { id: string }).id);
  });
});

function listOperations(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, operation]) => {
        const security = operation.security ?? document.security ?? [];
        return {
          key: `${method.toUpperCase()} ${path}`,
          method: method.toUpperCase(),
          path,
          params: [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!),
          hasBody: operation.requestBody !== undefined,
          // An empty requirement ({}) in the list would make the key optional: that is public.
          isProtected: security.length > 0 && security.every((requirement) => 'bearerAuth' in requirement),
          isWebSocket: Object.keys(operation.responses ?? {}).includes('101'),
        };
      }),
  );
}

function fillPath(op: Operation, ownerOf: (param: string) => Owned): string {
  return op.path.replace(/\{([^}]+)\}/g, (_match, param: string) => {
    const value = PATH_VALUES[param]?.(op.path, ownerOf(param));
    if (value === undefined) throw new Error(`No value for {${param}} in ${op.key}: add it to PATH_VALUES`);
    return encodeURIComponent(value);
  });
}

async function send(op: Operation, path: string, headers: Record<string, string>): Promise<Outcome> {
  const body = BODIES[op.key]?.();
  const response = await service.request(path, {
    method: op.method,
    headers: body ? { ...headers, 'content-type': body.contentType } : headers,
    body: body?.body,
  });
  return toOutcome(response.status, response.headers.get('x-request-id'), await response.text());
}

/** A real WebSocket handshake: 101 when accepted, otherwise the status and body of the refusal. */
function upgrade(path: string, headers: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(service.url.replace(/^http/, 'ws') + path, { headers });
    socket.once('open', () => {
      socket.once('close', () => resolve({ status: 101, requestId: null, body: null }));
      socket.close();
    });
    socket.once('unexpected-response', (request, response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        request.destroy();
        const requestId = response.headers['x-request-id'];
        resolve(toOutcome(response.statusCode ?? 0, typeof requestId === 'string' ? requestId : null, text));
      });
    });
    socket.once('error', reject);
  });
}

function toOutcome(status: number, requestId: string | null, text: string): Outcome {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: compared as text, so the failure shows what came back
  }
  return { status, requestId, body };
}

/** The one error shape, with the request id the x-request-id header carries. */
function errorOutcome(status: number, code: string, requestId: string | null): Outcome {
  return {
    status,
    requestId: expect.stringMatching(/\S/),
    body: { error: { code, message: expect.stringMatching(/\S/), requestId: requestId ?? '(no x-request-id header)' } },
  };
}

/**
 * A refused WebSocket handshake carries the status and headers but no body: @hono/node-server
 * answers every refused upgrade with Content-Length: 0 (rejectUpgradeRequest), so the error shape
 * is checked on the plain GET and only the status and request id here.
 */
function refusedUpgrade(status: number): Outcome {
  return { status, requestId: expect.stringMatching(/\S/), body: '' };
}

/** Alice's resources as her key sees them, and the row counts of every resource table. */
async function snapshotOfAlice(): Promise<unknown> {
  const reads = [
    `/v1/imports/${alice.importId}`,
    `/v1/imports/${alice.importId}/errors`,
    `/v1/imports/${alice.importId}/errors.csv`,
    '/v1/imports',
    `/v1/products/${alice.sku}`,
    '/v1/products',
    `/v1/webhooks/${alice.endpointId}`,
    '/v1/webhooks',
    `/v1/webhooks/${alice.endpointId}/deliveries`,
    `/v1/templates/${encodeURIComponent(alice.templateName)}`,
    '/v1/templates',
    '/v1/audit',
    `/v1/alerts/${alice.alertId}`,
    '/v1/alerts',
  ];
  const views: Record<string, unknown> = {};
  for (const path of reads) {
    const response = await service.request(path, { key: alice.key });
    views[path] = { status: response.status, body: await response.text() };
  }
  const { rows } = await service.pool.query(
    `select (select count(*) from imports)::int as imports,
            (select count(*) from import_errors)::int as import_errors,
            (select count(*) from products)::int as products,
            (select count(*) from event_tickets)::int as event_tickets,
            (select count(*) from webhook_endpoints)::int as webhook_endpoints,
            (select count(*) from webhook_deliveries)::int as webhook_deliveries,
            (select count(*) from webhook_attempts)::int as webhook_attempts,
            (select count(*) from idempotency_keys)::int as idempotency_keys,
            (select count(*) from import_templates)::int as import_templates,
            (select count(*) from alerts where status = 'open')::int as open_alerts,
            (select count(*) from audit_log where tenant_id = $1)::int as alice_audit_entries`,
    [aliceTenantId],
  );
  return { views, counts: rows[0], uploads: await service.uploadedFiles() };
}

/** A tenant with one of each resource: a finished import, a product, a webhook endpoint, a finished delivery. */
async function createOwned(prefix: string, sku: string): Promise<Owned> {
  const { tenant, key } = await service.createTenant(prefix);
  const upload = await service.uploadCsv(key, csv);
  expect(upload.status).toBe(202);
  const imported = await service.waitForImport(key, (await readJson(upload)).id);
  expect(imported.status).toBe('succeeded');

  const post = async (path: string, body: unknown) => {
    const response = await service.request(path, {
      method: 'POST',
      key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status, `POST ${path}`).toBeLessThan(300);
    return readJson(response);
  };
  await post('/v1/products', { sku, name: `${prefix} product`, price: '3.00' });
  const endpoint = await post('/v1/webhooks', { url: `${receiver.url}/${prefix}` });
  const delivery = await post(`/v1/webhooks/${endpoint.id}/test`, {});
  const template = await post('/v1/templates', { name: `${prefix} template`, mapping: { SKU: 'sku' } });
  // An alert: two imports of one source with different columns (schema drift).
  for (const columns of ['sku,name,Notes\nRS-1,x,y\n', 'sku,name\nRS-1,x\n']) {
    const drifting = await service.request('/v1/imports?source=rs', { method: 'POST', key, body: columns, headers: { 'content-type': 'text/csv' } });
    expect(drifting.status).toBe(202);
    await service.waitForImport(key, (await readJson(drifting)).id);
  }
  const [alert] = (await readJson(await service.request('/v1/alerts', { key }))).items;
  expect(alert, 'the drift alert').toBeDefined();

  // The delivery must be finished so that nothing about it changes while the tests compare.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const page = await readJson(await service.request(`/v1/webhooks/${endpoint.id}/deliveries`, { key }));
    const found = (page.items as { id: string; status: string }[]).find((item) => item.id === delivery.id);
    if (found && found.status !== 'pending') break;
    if (Date.now() > deadline) throw new Error(`delivery ${delivery.id} still pending: ${JSON.stringify(page.items)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { tenant, key, importId: imported.id, sku, endpointId: endpoint.id, deliveryId: delivery.id, templateName: template.name, alertId: alert.id };
}

/** A webhook receiver on loopback that accepts everything with 204. */
async function startReceiver() {
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
