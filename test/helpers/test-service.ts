import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { createApiKey } from '../../src/api-keys/api-keys.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { withDatabaseName } from '../../src/db/open-database.ts';
import type { Pool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/logger.ts';
import { startService } from '../../src/start-service.ts';

const TEMPLATE_DATABASE = 'lading_template';

export type TestService = {
  url: string;
  /** Where GET /metrics is served when METRICS_PORT is set. */
  metricsUrl: string | undefined;
  pool: Pool;
  config: Config;
  connectionString: string;
  /** A new tenant (unique name) with one API key. */
  createTenant(prefix?: string): Promise<{ tenant: string; key: string }>;
  request(pathname: string, init?: RequestInit & { key?: string }): Promise<Response>;
  uploadCsv(key: string, body: NonNullable<RequestInit['body']>, headers?: Record<string, string>): Promise<Response>;
  /** Polls GET /v1/imports/:id until the import ends and its file is removed, or fails the test at the deadline. */
  waitForImport(key: string, id: string, timeoutMs?: number): Promise<ImportBody>;
  uploadedFiles(): Promise<string[]>;
  stop(): Promise<void>;
};

export type ImportBody = {
  id: string;
  status: string;
  filename: string | null;
  bytes: number;
  sha256: string;
  rows_processed: number;
  rows_inserted: number;
  rows_updated: number;
  rows_unchanged: number;
  rows_rejected: number;
  batches_committed: number;
  warnings: string[];
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
};

/**
 * Creates a database cloned from the migrated template (fast); each test file gets its own.
 * `empty: true` clones template0 instead: a database no migration has touched.
 */
export async function createTestDatabase(
  options: { empty?: boolean } = {},
): Promise<{ connectionString: string; drop(): Promise<void> }> {
  const serverUrl = inject('databaseServerUrl');
  const name = `test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const template = options.empty ? 'template0' : TEMPLATE_DATABASE;
  await admin.query(`create database ${name} template ${template} strategy file_copy`);
  await admin.end();
  return {
    connectionString: withDatabaseName(serverUrl, name),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

/** The real service (startService: migrations, worker, HTTP on a free port) on a fresh database. */
export async function startTestService(env: Record<string, string> = {}): Promise<TestService> {
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-data-'));
  const config = loadConfig({
    DATABASE_URL: database.connectionString,
    DATA_DIR: dataDir,
    PORT: '0',
    WORKER_POLL_INTERVAL_MS: '100',
    // Tests poll every few ms with one key; rate-limit.test.ts turns the limit on for itself.
    RATE_LIMIT_REQUESTS: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const logger = createLogger({ level: config.logLevel, format: 'json', fd: 2 });
  const service = await startService(config, logger);
  let tenants = 0;

  const request = (pathname: string, init: RequestInit & { key?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key) headers.set('authorization', `Bearer ${init.key}`);
    return fetch(`${service.url}${pathname}`, { ...init, headers });
  };

  return {
    url: service.url,
    metricsUrl: service.metricsUrl,
    pool: service.pool,
    config,
    connectionString: database.connectionString,
    async createTenant(prefix = 'tenant') {
      const tenant = `${prefix}-${++tenants}-${randomUUID().slice(0, 8)}`;
      const { key } = await createApiKey(service.pool, { tenant });
      return { tenant, key };
    },
    request,
    uploadCsv(key, body, headers = {}) {
      return request('/v1/imports', {
        method: 'POST',
        key,
        body,
        headers: body instanceof FormData ? headers : { 'content-type': 'text/csv', ...headers },
      });
    },
    async waitForImport(key, id, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const response = await request(`/v1/imports/${id}`, { key });
        const body = (await response.json()) as ImportBody;
        // An import has ended once its final status is committed and then its upload removed.
        const file = path.join(dataDir, 'uploads', `${id}.csv`);
        if (!['queued', 'processing'].includes(body.status) && !existsSync(file)) return body;
        if (Date.now() > deadline) throw new Error(`import ${id} is ${body.status} and its file ${existsSync(file) ? 'still there' : 'gone'} after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async uploadedFiles() {
      return readdir(path.join(dataDir, 'uploads')).catch(() => []);
    },
    async stop() {
      // A stop that hangs is a job that never ends: say what the database sessions are waiting on.
      const slow = setTimeout(() => void reportDatabaseActivity(database.connectionString, 'the service is slow to stop'), 15_000);
      try {
        await service.stop();
      } finally {
        clearTimeout(slow);
      }
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Writes to stderr what each session of the database is doing, waiting on and blocked by (for a hang). */
export async function reportDatabaseActivity(connectionString: string, why: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
    const { rows } = await client.query(
      `select pid, application_name, state, wait_event_type, wait_event, pg_blocking_pids(pid) as blocked_by,
              round(extract(epoch from now() - xact_start)::numeric, 1) as xact_seconds, left(query, 200) as query
       from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() order by pid`,
    );
    process.stderr.write(`${why}; database sessions:\n${JSON.stringify(rows, null, 1)}\n`);
  } catch (error) {
    process.stderr.write(`${why}; the database sessions could not be read: ${String(error)}\n`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Response bodies in tests are read loosely typed; the assertions say what they must hold. */
// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely; assertions say what they hold
export async function readJson(response: Response): Promise<any> {
  return response.json();
}

/** The products of the tenant that owns `key`, by sku, as tests compare them (price as text, updated_at to the second, UTC). */
export async function productsOfKey(pool: Pool, key: string) {
  const { rows } = await pool.query(
    `select p.sku, p.name, p.description, p.price::text, p.currency, p.quantity, p.category, p.status,
            to_char(p.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') as updated_at
     from products p join api_keys k on k.tenant_id = p.tenant_id
     where k.key_hash = sha256(convert_to($1, 'UTF8'))
     order by p.sku`,
    [key],
  );
  return rows;
}
