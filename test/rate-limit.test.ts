import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/api-keys/api-keys.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { connectEvents } from './helpers/event-client.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

const LIMIT = 5;
const WINDOW_SECONDS = 3;
let service: TestService;

beforeAll(async () => {
  service = await startTestService({ RATE_LIMIT_REQUESTS: String(LIMIT), RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS) });
});
afterAll(() => service?.stop());

const list = (key: string) => service.request('/v1/products', { key });

/** Sends requests with `key` until one is refused (a window may roll over meanwhile); fails if none is. */
async function exhaust(key: string): Promise<Response> {
  for (let i = 0; i < 4 * LIMIT; i++) {
    const response = await list(key);
    if (response.status === 429) return response;
    expect(response.status).toBe(200);
  }
  throw new Error(`no 429 after ${4 * LIMIT} requests`);
}

describe('rate limit per API key (RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_SECONDS)', () => {
  it('defaults to 600 per 60 s; 0 turns it off', () => {
    expect(loadConfig({}).rateLimit).toEqual({ requests: 600, windowSeconds: 60 });
    expect(loadConfig({ RATE_LIMIT_REQUESTS: '0' }).rateLimit.requests).toBe(0);
    expect(() => loadConfig({ RATE_LIMIT_WINDOW_SECONDS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ RATE_LIMIT_REQUESTS: '-1' })).toThrow(ConfigError);
  });

  it('answers 429 rate_limited with Retry-After once a key passes its limit; other keys are unaffected', async () => {
    const { tenant, key } = await service.createTenant();
    for (let i = 1; i <= LIMIT; i++) {
      const response = await list(key);
      expect(response.status).toBe(200);
      expect(response.headers.get('ratelimit-limit')).toBe(String(LIMIT));
      expect(response.headers.get('ratelimit-remaining')).toBe(String(LIMIT - i));
      expect(response.headers.get('ratelimit-policy')).toBe(`${LIMIT};w=${WINDOW_SECONDS}`);
      expect(Number(response.headers.get('ratelimit-reset'))).toBeGreaterThanOrEqual(1);
    }

    const refused = await list(key);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect((await readJson(refused)).error).toEqual({
      code: 'rate_limited',
      message: `Too many requests with this API key: the limit is ${LIMIT} per ${WINDOW_SECONDS} s (RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_SECONDS); retry in ${retryAfter} s`,
      requestId: expect.any(String),
    });
    // Every route behind the key, whatever its method.
    const post = await service.request('/v1/products', { method: 'POST', key, headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(post.status).toBe(429);

    // Another tenant's key, and another key of the same tenant, have limits of their own.
    const other = await service.createTenant();
    expect((await list(other.key)).status).toBe(200);
    const { key: sameTenantKey } = await createApiKey(service.pool, { tenant });
    expect((await list(sameTenantKey)).status).toBe(200);

    // Routes without a key are not limited.
    for (let i = 0; i < 2 * LIMIT; i++) {
      for (const pathname of ['/health', '/ready', '/openapi.json']) {
        const response = await service.request(pathname);
        expect(response.status, pathname).toBe(200);
        expect(response.headers.get('ratelimit-limit')).toBeNull();
      }
    }
  });

  it('lets the key through again once the window has passed', async () => {
    const { key } = await service.createTenant();
    expect((await exhaust(key)).status).toBe(429);
    const refusedAt = Date.now();
    const deadline = refusedAt + (WINDOW_SECONDS + 5) * 1000;
    let status = 429;
    while (status === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = (await list(key)).status;
    }
    expect(status).toBe(200);
  });

  it('never cuts off an upload or an event stream admitted before the key hit its limit', async () => {
    const { tenant, key } = await service.createTenant();
    const { key: sameTenantKey } = await createApiKey(service.pool, { tenant });
    const events = connectEvents(service.url, '/v1/events', { key });
    await events.opened; // one request, counted when the stream opened

    // An upload, counted once when it starts, streams while the key exhausts its limit.
    const upload = http.request(`${service.url}/v1/imports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' }, // chunked
    });
    const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
      upload.once('response', resolve);
      upload.once('error', reject);
    });
    const rows = (from: number, to: number) => {
      let text = '';
      for (let i = from; i < to; i++) text += `RL-${i},Product ${i}\n`;
      return text;
    };
    upload.write(`sku,name\n${rows(0, 500)}`);
    const deadline = Date.now() + 10_000;
    while ((await service.uploadedFiles()).length === 0) {
      if (Date.now() > deadline) throw new Error('the upload never started writing its file');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    const refused = await exhaust(key);
    expect(refused.status).toBe(429);
    expect((await readJson(refused)).error.code).toBe('rate_limited');

    upload.write(rows(500, 1000));
    upload.end(rows(1000, 1500));
    const response = await answered;
    let text = '';
    for await (const chunk of response) text += chunk;
    expect(response.statusCode, text).toBe(202);
    const { id } = JSON.parse(text);

    const finished = await events.waitFor((message) => message.type === 'finished' && message.import.id === id);
    expect(finished.import).toMatchObject({ status: 'succeeded', rows_inserted: 1500, rows_rejected: 0 });
    const done = await readJson(await service.request(`/v1/imports/${id}`, { key: sameTenantKey }));
    expect(done).toMatchObject({ status: 'succeeded', rows_inserted: 1500 });
    events.socket.close();
    await events.closed;
  });

  it('documents 429 with Retry-After on every route behind the key, and on no other', async () => {
    const doc = await readJson(await service.request('/openapi.json'));
    for (const [pathname, item] of Object.entries(doc.paths) as [string, Record<string, { responses: Record<string, unknown> }>][]) {
      for (const [method, operation] of Object.entries(item)) {
        const limited = operation.responses['429'] as { headers?: Record<string, unknown> } | undefined;
        if (pathname.startsWith('/v1/')) {
          expect(limited, `${method} ${pathname}`).toBeDefined();
          expect(limited!.headers).toHaveProperty('Retry-After');
        } else {
          expect(limited, `${method} ${pathname}`).toBeUndefined();
        }
      }
    }
  });
});
