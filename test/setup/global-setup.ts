import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { createDatabaseIfMissing, withDatabaseName } from '../../src/db/open-database.ts';
import { createPool } from '../../src/db/pool.ts';
import { createLogger } from '../../src/logger.ts';
import { findChromium } from '../helpers/browser.ts';
import { s3ServerAvailable } from '../helpers/s3-server.ts';

export const TEMPLATE_DATABASE = 'lading_template';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseServerUrl: string;
  }
}

/** Starts one throw-away embedded PostgreSQL and a migrated template database for the whole run. */
export default async function setup(project: TestProject) {
  // The console's tests need a real Chromium: required in CI, skipped (saying so) elsewhere.
  if (!findChromium()) {
    if (process.env.CI) throw new Error('CI needs Chromium for the console tests: apt-get install -y chromium (or set CHROMIUM_PATH)');
    process.stdout.write('Browser tests did not run: no Chromium here. Install it (sudo apt-get install chromium) or set CHROMIUM_PATH, then npm test.\n');
  }
  // S3 storage is tested against a real server, OpenStack Swift: required in CI, skipped elsewhere.
  if (!s3ServerAvailable()) {
    if (process.env.CI) throw new Error('CI needs OpenStack Swift for the S3 storage tests: apt-get install -y swift-proxy swift-object swift-container swift-account');
    process.stdout.write(
      'S3 storage tests did not run: no OpenStack Swift here. Install it (sudo apt-get install swift-proxy swift-object swift-container swift-account), then npm test.\n',
    );
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-test-'));
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'warn', format: 'json', fd: 2 });
  const server = await startEmbeddedPostgres({
    dataDir,
    logger,
    // Durability is worthless for a throw-away test server; speed is not.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'],
  });
  await createDatabaseIfMissing(server.serverUrl, TEMPLATE_DATABASE);
  const pool = createPool(withDatabaseName(server.serverUrl, TEMPLATE_DATABASE), 2);
  await migrateDatabase(pool, logger);
  await pool.end();
  project.provide('databaseServerUrl', server.serverUrl);

  return async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
