import { Hono, type MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { IMPORT_MAP_HASH, readConsoleAsset, readConsolePage } from '../../console/console-assets.ts';
import type { AppEnv } from '../app-env.ts';
import { ApiError } from '../errors.ts';

/**
 * The web console (src/console/browser/) at `/`, its files under /console/. A strict policy:
 * scripts only from this origin plus the one inline import map (by hash), no inline styles or
 * event handlers, no framing; the API is called on the same origin, WebSockets included.
 */
export function consoleRoutes() {
  const app = new Hono<AppEnv>();
  // Only the console's own paths: mounted at '/', a bare app.use would wrap every API request too.
  const headers: MiddlewareHandler<AppEnv> = async (c, next) => {
    const host = c.req.header('host') ?? '';
    return secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", `'${IMPORT_MAP_HASH}'`],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        // 'self' covers ws: and wss: in current browsers; named too for older ones.
        connectSrc: ["'self'", ...(host ? [`ws://${host}`, `wss://${host}`] : [])],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
      crossOriginEmbedderPolicy: false,
    })(c, next);
  };
  app.use('/', headers);
  app.use('/console/*', headers);
  app.get('/', async (c) => {
    c.header('cache-control', 'no-cache');
    return c.html(await readConsolePage());
  });
  app.get('/console/*', async (c) => {
    const asset = await readConsoleAsset(c.req.path.slice('/console/'.length));
    if (!asset) throw new ApiError('not_found', `No console file at ${c.req.path}`);
    c.header('content-type', asset.type);
    c.header('cache-control', 'no-cache');
    return c.body(typeof asset.body === 'string' ? asset.body : new Uint8Array(asset.body));
  });
  return app;
}
