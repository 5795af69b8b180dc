import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

const MESSAGE =
  'url must not contain credentials (user:password@); put a secret in the URL path or query, or verify our signature instead';
const WITH_CREDENTIALS = [
  'https://user:pw@hooks.example.com/lading',
  'https://user@hooks.example.com/lading',
  'https://:pw@hooks.example.com/lading',
  'http://user:p%40ss@hooks.example.com:8443/lading?x=1',
];

let service: TestService;
let key: string;

beforeAll(async () => {
  service = await startTestService();
  ({ key } = await service.createTenant());
});
afterAll(() => service?.stop());

const send = (pathname: string, method: string, body: unknown) =>
  service.request(pathname, { method, key, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const listing = async () => readJson(await service.request('/v1/webhooks', { key }));

async function expectRefused(response: Response): Promise<void> {
  expect(response.status).toBe(400);
  expect((await readJson(response)).error).toEqual({ code: 'validation_failed', message: MESSAGE, requestId: expect.any(String) });
}

describe('webhook URLs with credentials', () => {
  it('are refused at registration, storing nothing', async () => {
    for (const url of WITH_CREDENTIALS) await expectRefused(await send('/v1/webhooks', 'POST', { url }));
    expect(await listing()).toEqual({ items: [] });
    const { rows } = await service.pool.query('select count(*)::int as n from webhook_endpoints');
    expect(rows[0].n).toBe(0);
  });

  it('are refused when an endpoint is changed, leaving it as it was', async () => {
    const created = await send('/v1/webhooks', 'POST', { url: 'https://hooks.example.com/lading', description: 'orders' });
    expect(created.status).toBe(201);
    const { id } = await readJson(created);
    const before = await listing();
    expect(before.items).toHaveLength(1);

    for (const url of WITH_CREDENTIALS) {
      await expectRefused(await send(`/v1/webhooks/${id}`, 'PATCH', { url, description: 'changed' }));
    }
    expect(await listing()).toEqual(before);
    expect(before.items[0].url).toBe('https://hooks.example.com/lading');
  });

  it('still accept a secret in the path or query', async () => {
    const response = await send('/v1/webhooks', 'POST', { url: 'https://hooks.example.com/lading/s3cr3t?token=abc' });
    expect(response.status).toBe(201);
    expect((await readJson(response)).url).toBe('https://hooks.example.com/lading/s3cr3t?token=abc');
  });
});
