import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service?.stop());

// /health and /ready: test/health.test.ts.

describe('API description', () => {
  it('serves an OpenAPI 3.1 document built from the zod schemas', async () => {
    const doc = await readJson(await service.request('/openapi.json'));
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/health',
      '/metrics',
      '/ready',
      '/v1/alerts',
      '/v1/alerts/{id}',
      '/v1/alerts/{id}/acknowledge',
      '/v1/audit',
      '/v1/events',
      '/v1/events/ticket',
      '/v1/imports',
      '/v1/imports/preview',
      '/v1/imports/{id}',
      '/v1/imports/{id}/cancel',
      '/v1/imports/{id}/errors',
      '/v1/imports/{id}/errors.csv',
      '/v1/imports/{id}/events',
      '/v1/imports/{id}/events/ticket',
      '/v1/products',
      '/v1/products/{sku}',
      '/v1/stats',
      '/v1/templates',
      '/v1/templates/{name}',
      '/v1/webhooks',
      '/v1/webhooks/{id}',
      '/v1/webhooks/{id}/deliveries',
      '/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver',
      '/v1/webhooks/{id}/test',
    ]);
    expect(doc.paths['/v1/imports/{id}/events'].get.responses).toHaveProperty('101');
    expect(Object.keys(doc.paths['/v1/imports'].post.requestBody.content)).toEqual(['text/csv', 'multipart/form-data']);
    expect(doc.components.schemas.Import.properties.rows_rejected.type).toBe('integer');
    expect(doc.components.schemas.ProductInput.required).toEqual(['sku', 'name']);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('serves interactive docs whose assets come from this server, not a CDN', async () => {
    const page = await (await service.request('/docs')).text();
    const sources = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(source.startsWith('/docs/assets/')).toBe(true);
      const asset = await service.request(source);
      expect(asset.status).toBe(200);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    expect(page).not.toMatch(/https?:\/\//);
  });
});

describe('errors', () => {
  it('answers an unknown route with the one error shape', async () => {
    const response = await service.request('/v2/nothing');
    expect(response.status).toBe(404);
    expect(await readJson(response)).toEqual({
      error: { code: 'not_found', message: 'No route for GET /v2/nothing', requestId: response.headers.get('x-request-id') },
    });
  });
});
