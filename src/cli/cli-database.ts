import { ConfigError, loadConfig, type Config } from '../config.ts';
import { EmbeddedPostgresAccessError } from '../db/check-postgres-user-access.ts';
import { MigrationError, migrateDatabase } from '../db/migrate.ts';
import { openDatabase, type Database } from '../db/open-database.ts';
import { createPool, type Pool } from '../db/pool.ts';
import { createLogger, type Logger } from '../logger.ts';

/**
 * Runs a CLI command against the same database as `npm start`: DATABASE_URL, or the embedded
 * server of DATA_DIR (the running one, or started for the command and stopped after it).
 */
export async function runWithDatabase(
  command: (context: { pool: Pool; logger: Logger; applied: string[] }) => Promise<void>,
): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env, { isTerminal: process.stderr.isTTY });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, format: config.logFormat, fd: 2 });
  let database: Database;
  try {
    database = await openDatabase(config, logger);
  } catch (error) {
    if (!(error instanceof EmbeddedPostgresAccessError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const pool = createPool(database.connectionString, 2);
  let exitCode = 0;
  try {
    const { applied } = await migrateDatabase(pool, logger);
    await command({ pool, logger, applied });
  } catch (error) {
    // The user's mistake, or a migrations/ copy that disagrees with the database: said as is, no stack.
    if (error instanceof UsageError || error instanceof MigrationError) process.stderr.write(`${error.message}\n`);
    else logger.error({ err: error }, 'command failed');
    exitCode = error instanceof UsageError ? 2 : 1;
  } finally {
    await pool.end();
    await database.close();
  }
  process.exit(exitCode);
}

/** A mistake in how the command was called: printed as is, exit code 2. */
export class UsageError extends Error {}
