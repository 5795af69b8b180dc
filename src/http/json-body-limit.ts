import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './app-env.ts';
import { ApiError } from './errors.ts';

/**
 * Every /v1 request with a body, except the CSV upload (which streams to disk under its own
 * MAX_UPLOAD_BYTES), is refused with 413 once its body passes `maxBytes`: at once from
 * Content-Length, or as soon as a chunked body has passed the limit, never buffering more.
 */
export function jsonBodyLimit(maxBytes: number) {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: (c) => {
      // The rest of the body is not read: the client must not send its next request on this connection.
      c.header('Connection', 'close');
      throw new ApiError('payload_too_large', `The request body is larger than the limit of ${maxBytes} bytes (MAX_JSON_BODY_BYTES)`);
    },
  });
  return createMiddleware<AppEnv>((c, next) => {
    const { method, path } = c.req;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
    if (method === 'POST' && /^\/v1\/imports(\/preview)?\/?$/.test(path)) return next(); // CSV bodies: their own limits
    return limit(c, next);
  });
}

