import { z } from 'zod';
import { ERROR_CODES } from './errors.ts';

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).meta({ description: 'Stable and machine-readable; the message is for people', example: 'not_found' }),
      message: z.string().meta({ example: 'No import with id 4b1c…' }),
      requestId: z.string(),
    }),
  })
  .meta({ id: 'Error' });

const descriptions: Record<number, string> = {
  400: 'The request is invalid',
  401: 'Missing, invalid or revoked API key',
  404: 'Not found (or owned by another tenant)',
  409: 'Conflicts with the current state',
  413: 'The body is larger than its limit: MAX_UPLOAD_BYTES for a CSV upload, MAX_JSON_BODY_BYTES for a JSON body',
  415: 'Unsupported Content-Type',
  426: 'Not a WebSocket upgrade request',
  429: 'Too many requests with this API key (RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_SECONDS): retry after Retry-After seconds',
  503: 'Not ready',
};

const retryAfter = {
  'Retry-After': { schema: { type: 'integer' as const }, description: 'Seconds until the API key may send requests again' },
};

/**
 * The error responses of a route, all with the one error body. A route that answers 401 is behind
 * the API key and so behind the rate limit: it answers 429 too.
 */
export function errorResponses(...statuses: (keyof typeof descriptions)[]) {
  const all = statuses.includes(401) && !statuses.includes(429) ? [...statuses, 429 as const] : statuses;
  return Object.fromEntries(
    all.map((status) => [
      status,
      {
        description: descriptions[status]!,
        ...(status === 429 ? { headers: retryAfter } : {}),
        content: { 'application/json': { schema: errorBodySchema } },
      },
    ]),
  );
}

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    next_cursor: z.string().nullable().meta({ description: 'Pass as ?cursor= for the next page; null on the last page' }),
  });

export const bearerSecurity = [{ bearerAuth: [] }];
