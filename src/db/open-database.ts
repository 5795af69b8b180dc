import pg from 'pg';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';

export const EMBEDDED_DATABASE_NAME = 'lading';

export type Database = {
  connectionString: string;
  embedded: boolean;
  /** Stops the embedded server if this process started it; a no-op for DATABASE_URL. */
  close(): Promise<void>;
};

/** DATABASE_URL when set; otherwise the embedded server under DATA_DIR (found running, or started). */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.databaseUrl) {
    return { connectionString: config.databaseUrl, embedded: false, close: async () => {} };
  }
  const server = await startEmbeddedPostgres({ dataDir: config.dataDir, logger });
  await createDatabaseIfMissing(server.serverUrl, EMBEDDED_DATABASE_NAME);
  return {
    connectionString: withDatabaseName(server.serverUrl, EMBEDDED_DATABASE_NAME),
    embedded: true,
    close: () => server.stop(),
  };
}

export async function createDatabaseIfMissing(serverUrl: string, name: string, template?: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount) return;
    const from = template ? ` template ${client.escapeIdentifier(template)}` : '';
    await client.query(`create database ${client.escapeIdentifier(name)}${from}`).catch((error: { code?: string }) => {
      if (error.code !== '42P04') throw error; // created concurrently by another process: fine
    });
  } finally {
    await client.end();
  }
}

export function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(name)}`;
  return parsed.toString();
}
