import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The web console's files: its own (src/console/browser/, plain ES modules typed with JSDoc and
// checked by `npm run typecheck`) and the few vendor modules it imports, served straight from
// their installed packages. No build step and no CDN: the console works offline, from a clone.

const BROWSER_DIR = fileURLToPath(new URL('./browser/', import.meta.url));
const require = createRequire(import.meta.url);
/** An installed package's folder (found from its entry point: not every package exports package.json). */
function packageDir(name: string): string {
  const entry = require.resolve(name);
  const marker = `${path.sep}node_modules${path.sep}${name}${path.sep}`;
  return entry.slice(0, entry.lastIndexOf(marker) + marker.length - 1);
}

/** The vendor files the console may load, by the URL name the import map gives them. */
const VENDOR: Record<string, string> = {
  'preact.mjs': path.join(packageDir('preact'), 'dist/preact.mjs'),
  'preact-hooks.mjs': path.join(packageDir('preact'), 'hooks/dist/hooks.mjs'),
  'htm.mjs': path.join(packageDir('htm'), 'dist/htm.mjs'),
  'htm-preact.mjs': path.join(packageDir('htm'), 'preact/index.mjs'),
  'uplot.mjs': path.join(packageDir('uplot'), 'dist/uPlot.esm.js'),
  'uplot.css': path.join(packageDir('uplot'), 'dist/uPlot.min.css'),
};

/** Bare module names as the console's modules (and the vendor modules) import them. */
const IMPORT_MAP = JSON.stringify({
  imports: {
    preact: '/console/vendor/preact.mjs',
    'preact/hooks': '/console/vendor/preact-hooks.mjs',
    htm: '/console/vendor/htm.mjs',
    'htm/preact': '/console/vendor/htm-preact.mjs',
    uplot: '/console/vendor/uplot.mjs',
  },
});

/**
 * An import map must be inline (browsers do not load one from a URL); the Content-Security-Policy
 * allows exactly this script by its hash, and no other inline script.
 */
export const IMPORT_MAP_HASH = `sha256-${createHash('sha256').update(IMPORT_MAP).digest('base64')}`;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
};

export type ConsoleAsset = { body: Buffer | string; type: string };

const cache = new Map<string, ConsoleAsset>();

/** The console's page: every route of the single-page app answers with it. */
export async function readConsolePage(): Promise<string> {
  const template = await readFile(path.join(BROWSER_DIR, 'index.html'), 'utf8');
  return template.replace('<!-- import map -->', `<script type="importmap">${IMPORT_MAP}</script>`);
}

/**
 * A file of the console by its path under /console/ ("app.js", "pages/upload.js",
 * "vendor/preact.mjs"), or undefined. Only .js, .css and .svg files under the browser folder and
 * the listed vendor files are served: no path leaves them.
 */
export async function readConsoleAsset(name: string): Promise<ConsoleAsset | undefined> {
  const cached = cache.get(name);
  if (cached) return cached;
  let file: string | undefined;
  if (name.startsWith('vendor/')) file = VENDOR[name.slice('vendor/'.length)];
  else if (/^[a-z0-9-]+(\/[a-z0-9-]+)*\.(js|css|svg)$/.test(name)) file = path.join(BROWSER_DIR, name);
  if (!file) return undefined;
  const type = TYPES[path.extname(file)];
  if (!type) return undefined;
  const body = await readFile(file).catch(() => undefined);
  if (!body) return undefined;
  const asset = { body, type };
  cache.set(name, asset);
  return asset;
}
