import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from '../db/pool.ts';
import { authenticateApiKey, createApiKey } from './api-keys.ts';

export const DEV_TENANT = 'dev';

/**
 * The key `npm start` prints for the embedded database. Only its hash is in the database, so the
 * plaintext is kept in DATA_DIR (mode 600) to print the same key on every start.
 */
export async function ensureDevApiKey(pool: Pool, dataDir: string): Promise<{ key: string; file: string }> {
  const file = path.join(dataDir, 'dev-api-key');
  if (existsSync(file)) {
    const key = (await readFile(file, 'utf8')).trim();
    if (await authenticateApiKey(pool, key)) return { key, file };
  }
  const created = await createApiKey(pool, { tenant: DEV_TENANT, name: 'dev key printed by npm start' });
  await writeFile(file, `${created.key}\n`, { mode: 0o600 });
  return { key: created.key, file };
}
