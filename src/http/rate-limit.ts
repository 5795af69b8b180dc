import { createMiddleware } from 'hono/factory';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { AppEnv } from './app-env.ts';
import { ApiError } from './errors.ts';

export type RateLimit = { requests: number; windowSeconds: number };

/**
 * After requireApiKeyOrTicket: at most `requests` per API key in each fixed window of `windowSeconds`
 * (all of them at once if the client likes: bursts are allowed), counted in this process's memory.
 * A request is counted once, when it is admitted; nothing admitted is cut off later, so an upload
 * streaming for minutes or an open event stream is never interrupted by the limit.
 * Answers carry RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset (seconds) and RateLimit-Policy;
 * a refusal is 429 rate_limited with Retry-After (seconds).
 */
export function rateLimitPerApiKey(limit: RateLimit) {
  const limiter = limit.requests > 0 ? new RateLimiterMemory({ points: limit.requests, duration: limit.windowSeconds }) : null;
  const policy = `${limit.requests};w=${limit.windowSeconds}`;
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!limiter) return next();
    let state: RateLimiterRes;
    let refused = false;
    try {
      state = await limiter.consume(c.var.principal.apiKeyId);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      state = rejection;
      refused = true;
    }
    const resetSeconds = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
    c.header('RateLimit-Limit', String(limit.requests));
    c.header('RateLimit-Remaining', String(state.remainingPoints));
    c.header('RateLimit-Reset', String(resetSeconds));
    c.header('RateLimit-Policy', policy);
    if (refused) {
      c.header('Retry-After', String(resetSeconds));
      throw new ApiError(
        'rate_limited',
        `Too many requests with this API key: the limit is ${limit.requests} per ${limit.windowSeconds} s ` +
          `(RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_SECONDS); retry in ${resetSeconds} s`,
      );
    }
    await next();
  });
}
