import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureDevApiKey, DEV_TENANT } from './api-keys/dev-api-key.ts';
import { DEV_SERVER_FILE } from './cli/cli-config.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { EmbeddedPostgresAccessError } from './db/check-postgres-user-access.ts';
import { MigrationError } from './db/migrate.ts';
import { createLogger } from './logger.ts';
import { startService } from './start-service.ts';

// `npm start`: the whole service in one process, on the embedded database unless DATABASE_URL is set;
// with LADING_ROLE=api or worker, that part of it (config.ts).

// bin/lading-server.js first runs this module in a child process that only compiles: the imports
// above are compiled by now, then the modules loaded later (S3 storage, the parser thread's: that
// file flushes the compile cache and ends the process once they are).
if (process.env.LADING_COMPILE_ONLY === '1') {
  if (process.env.STORAGE_URL?.startsWith('s3:')) await import('./storage/s3-storage.ts');
  await import('./imports/record-parser-worker.ts');
}
const config = loadConfigOrExit();
const logger = createLogger({ level: config.logLevel, format: config.logFormat });

try {
  const service = await startService(config, logger);
  const devKey = service.database.embedded ? await ensureDevApiKey(service.pool, config.dataDir) : undefined;
  printBanner(service.url, devKey);
  // Tells `npx lading` in this clone where the dev server listens (src/cli/cli-config.ts).
  const devServerFile = path.join(config.dataDir, DEV_SERVER_FILE);
  if (devKey) await writeFile(devServerFile, `${JSON.stringify({ url: service.url, pid: process.pid })}\n`, { mode: 0o600 });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: running batches commit, imports resume on the next start');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown took longer than SHUTDOWN_TIMEOUT_MS; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    if (devKey) await rm(devServerFile, { force: true });
    await service.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
} catch (error) {
  // A problem the user can fix is said in their words; anything else is logged with its stack.
  if (error instanceof EmbeddedPostgresAccessError || error instanceof MigrationError) process.stderr.write(`${error.message}\n`);
  else logger.fatal({ err: error }, 'failed to start');
  process.exit(1);
}

function loadConfigOrExit(): Config {
  try {
    return loadConfig(process.env, { isTerminal: process.stdout.isTTY });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
}

function printBanner(url: string, devKey: { key: string; file: string } | undefined): void {
  if (config.role === 'worker') {
    const jobs = `${config.workerConcurrency} import${config.workerConcurrency === 1 ? '' : 's'} at once`;
    process.stdout.write(`\nLading worker is listening on ${url}   (LADING_ROLE=worker, ${jobs}: /health, /ready and /metrics only)\n\n`);
    return;
  }
  const lines = [
    '',
    `Lading is listening on ${url}${config.role === 'api' ? '   (LADING_ROLE=api: imports run in worker processes)' : ''}`,
    ...(config.consoleEnabled ? [`  Console:     ${url}/   (sign in with an API key)`] : []),
    `  API docs:    ${url}/docs   (OpenAPI: ${url}/openapi.json)`,
  ];
  if (devKey) {
    lines.push(
      `  Dev API key: ${devKey.key}   (tenant "${DEV_TENANT}", kept in ${devKey.file})`,
      '  Try it:',
      `    curl -H "Authorization: Bearer ${devKey.key}" -H "Content-Type: text/csv" \\`,
      `      --data-binary @fixtures/products-valid.csv ${url}/v1/imports`,
    );
  } else {
    lines.push('  Create an API key: npm run apikey -- create --tenant NAME');
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}
