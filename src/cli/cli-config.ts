import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CliError, EXIT } from './exit-codes.ts';

/** Where the client talks to, and with which key. */
export type ClientConfig = { url: string; apiKey: string; source: 'flags' | 'environment' | 'local dev server' };

/** Written by `npm start` on the embedded database (DATA_DIR/dev-server.json), removed when it stops. */
export const DEV_SERVER_FILE = 'dev-server.json';

/**
 * Flags first, then LADING_URL / LADING_API_KEY, then the dev server of this clone: `npm start`
 * on the embedded database writes its URL next to the dev key in DATA_DIR, so `npx lading import
 * file.csv` works right after the quick start.
 */
export function resolveClientConfig(flags: { url?: string; apiKey?: string }, env: NodeJS.ProcessEnv, cwd = process.cwd()): ClientConfig {
  let url = flags.url ?? env.LADING_URL;
  let apiKey = flags.apiKey ?? env.LADING_API_KEY;
  const source = flags.url || flags.apiKey ? 'flags' : env.LADING_URL || env.LADING_API_KEY ? 'environment' : 'local dev server';
  if (!url || !apiKey) {
    const dev = readDevServer(path.resolve(cwd, env.DATA_DIR || '.data'));
    url ??= dev?.url;
    apiKey ??= dev?.apiKey;
  }
  if (!url || !apiKey) {
    throw new CliError(
      'No Lading service to talk to: pass --url and --api-key, set LADING_URL and LADING_API_KEY, or run `npm start` in this clone first',
      EXIT.usage,
    );
  }
  if (!/^https?:\/\//.test(url)) throw new CliError(`--url must be an http(s) URL, not "${url}"`, EXIT.usage);
  return { url: url.replace(/\/$/, ''), apiKey, source };
}

/** The running dev server of a clone (its process still alive), or undefined. */
function readDevServer(dataDir: string): { url: string; apiKey: string } | undefined {
  const file = path.join(dataDir, DEV_SERVER_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const { url, pid } = JSON.parse(readFileSync(file, 'utf8')) as { url: string; pid: number };
    process.kill(pid, 0); // throws when that process is gone: a stale file
    const apiKey = readFileSync(path.join(dataDir, 'dev-api-key'), 'utf8').trim();
    return { url, apiKey };
  } catch {
    return undefined;
  }
}
