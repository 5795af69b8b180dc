import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

// WEBHOOK_ALLOW_PRIVATE is left at its default (false) here.
let service: TestService;
let receiver: WebhookReceiver;
let key: string;

beforeAll(async () => {
  service = await startTestService({ WEBHOOK_RETRY_SCHEDULE: '0' });
  receiver = await startWebhookReceiver();
  ({ key } = await service.createTenant());
});
afterAll(async () => {
  await receiver?.close();
  await service?.stop();
});

const register = (url: string) =>
  service.request('/v1/webhooks', {
    method: 'POST',
    key,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url }),
  });

async function deliveriesOf(endpointId: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { items } = await readJson(await service.request(`/v1/webhooks/${endpointId}/deliveries`, { key }));
    if (items.length > 0 && items.every((d: { status: string }) => d.status !== 'pending')) return items;
    if (Date.now() > deadline) throw new Error('delivery still pending');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('SSRF protection (private delivery off)', () => {
  it.each([
    'http://127.0.0.1/hook',
    'http://10.0.0.1/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://0.0.0.0/hook',
  ])('refuses to register %s', async (url) => {
    const response = await register(url);
    expect(response.status).toBe(400);
    expect((await readJson(response)).error.message).toContain('private, loopback, link-local or reserved address');
  });

  it('refuses non-http schemes', async () => {
    const response = await register('file:///etc/passwd');
    expect(response.status).toBe(400);
    expect((await readJson(response)).error.message).toBe('url must use http or https, not file');
  });

  it('checks the address a host name resolves to at delivery time, sending nothing', async () => {
    // localhost passes registration (it is a name) but resolves to loopback when delivering.
    const response = await register(`http://localhost:${receiver.port}/hook`);
    expect(response.status).toBe(201);
    const endpoint = await readJson(response);
    expect((await service.request(`/v1/webhooks/${endpoint.id}/test`, { method: 'POST', key })).status).toBe(202);
    const [delivery] = await deliveriesOf(endpoint.id);
    expect(delivery.status).toBe('failed');
    for (const attempt of delivery.attempts) {
      expect(attempt.status_code).toBeNull();
      expect(attempt.error).toMatch(/^refused: localhost is a private, loopback, link-local or reserved address/);
    }
    expect(receiver.received).toEqual([]);
  });

  it('refuses at delivery time a literal address stored before private delivery was turned off', async () => {
    const endpoint = await readJson(await register('https://example.com/hook'));
    await service.pool.query('update webhook_endpoints set url = $1 where id = $2', [`http://127.0.0.1:${receiver.port}/hook`, endpoint.id]);
    await service.request(`/v1/webhooks/${endpoint.id}/test`, { method: 'POST', key });
    const [delivery] = await deliveriesOf(endpoint.id);
    expect(delivery.attempts[0].error).toMatch(/^refused: 127\.0\.0\.1 is a private/);
    expect(receiver.received).toEqual([]);
  });
});
