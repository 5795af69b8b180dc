import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMigrations } from 'graphile-worker';
import type pg from 'pg';
import type { Logger } from '../logger.ts';
import { toGraphileLogger } from '../worker/graphile-logger.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
// Any constant works; it only has to be the same for every process migrating this database.
const MIGRATION_LOCK_ID = 7_461_329;

type Migration = { version: number; name: string; file: string; sql: string; checksum: string };
type AppliedRow = { version: number; name: string; checksum: string | null };

/**
 * The database and this copy's migrations/ disagree (a file edited or removed after it was
 * applied), or a migration failed. The message says which file and what to do; the stack would
 * add nothing, so the error carries none (the service logs it as it fails to start).
 */
export class MigrationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MigrationError';
    this.stack = `${this.name}: ${message}`;
  }
}

/** The NNN_name.sql files of a migrations directory, in order, each with its text and sha256. */
export async function listMigrations(migrationsDir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(migrationsDir)).filter((file) => /^\d{3}_.+\.sql$/.test(file)).sort();
  return Promise.all(
    files.map(async (file) => {
      const bytes = await readFile(path.join(migrationsDir, file));
      return {
        version: Number(file.slice(0, 3)),
        name: file.slice(4, -4),
        file,
        sql: bytes.toString('utf8'),
        checksum: createHash('sha256').update(bytes).digest('hex'),
      };
    }),
  );
}

/**
 * Applies migrations/NNN_name.sql files not yet recorded in lading_migrations, each in its own
 * transaction (a failing one is rolled back; those before it stay applied), then graphile-worker's
 * own schema. First it checks that every applied file is still there, unchanged (sha256 recorded
 * when it was applied), and refuses to migrate or start otherwise.
 *
 * Safe to run from several processes at once: a session-level advisory lock, taken on one
 * dedicated connection, is held from reading lading_migrations until the last file is applied, so
 * only one process checks and applies at a time and the others, once they get the lock, find
 * everything applied. (A transaction-level lock taken again for each file would need every check
 * repeated inside each transaction; one lock around the loop keeps check and apply in one place.)
 * Closing the connection frees the lock, so a process that dies while migrating blocks no one.
 */
export async function migrateDatabase(
  pool: pg.Pool,
  logger: Logger,
  options: { migrationsDir?: string } = {},
): Promise<{ applied: string[] }> {
  const migrationsDir = options.migrationsDir ?? MIGRATIONS_DIR;
  const migrations = await listMigrations(migrationsDir);
  const client = await pool.connect();
  let applied: string[];
  try {
    const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [MIGRATION_LOCK_ID]);
    if (!rows[0]!.locked) {
      logger.info('waiting for another process to finish migrating the database');
      await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    }
    applied = await checkAndApply(client, migrations, path.basename(migrationsDir), logger);
  } finally {
    // Unlock before the connection goes back to the pool; one that cannot be unlocked is closed instead.
    const unlocked = await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).then(
      () => true,
      () => false,
    );
    client.release(!unlocked);
  }
  await runMigrations({ pgPool: pool, logger: toGraphileLogger(logger) });
  return { applied };
}

async function checkAndApply(client: pg.PoolClient, migrations: Migration[], dirName: string, logger: Logger): Promise<string[]> {
  await client.query(`
    create table if not exists lading_migrations (
      version integer primary key,
      name text not null,
      applied_at timestamptz not null default now(),
      checksum text
    )`);
  // Databases migrated before checksums were recorded: their rows get a null checksum here.
  await client.query('alter table lading_migrations add column if not exists checksum text');
  const { rows } = await client.query<AppliedRow>('select version, name, checksum from lading_migrations order by version');

  const byVersion = new Map(migrations.map((migration) => [migration.version, migration]));
  const newest = migrations.at(-1)?.version ?? 0;
  const problems: string[] = [];
  for (const row of rows) {
    const migration = byVersion.get(row.version);
    const recordedFile = `${dirName}/${String(row.version).padStart(3, '0')}_${row.name}.sql`;
    if (!migration) {
      problems.push(
        row.version > newest
          ? `${recordedFile} is applied to this database but is not in this copy's ${dirName}/: the database was migrated ` +
              'by a newer version of Lading; run that version (or a later one)'
          : `${recordedFile} is applied to this database but is missing from ${dirName}/; restore it (an applied ` +
              'migration must stay, unchanged)',
      );
    } else if (row.checksum !== null && row.checksum !== migration.checksum) {
      problems.push(
        `${dirName}/${migration.file} was changed after it was applied to this database (checksum ` +
          `${row.checksum.slice(0, 12)}…, file now ${migration.checksum.slice(0, 12)}…); restore it and put the change ` +
          'in a new migration',
      );
    }
  }
  // Refuse before changing anything: no checksum recorded, no pending file applied.
  if (problems.length > 0) throw new MigrationError(problems.join('\n'));

  // Rows applied before checksums were recorded get the checksum of the file as it is now, the
  // first time this runs; edits from then on are caught.
  const unrecorded = rows.filter((row) => row.checksum === null).map((row) => byVersion.get(row.version)!);
  if (unrecorded.length > 0) {
    await client.query(
      `update lading_migrations m set checksum = v.checksum
         from unnest($1::int[], $2::text[]) as v(version, checksum)
        where m.version = v.version and m.checksum is null`,
      [unrecorded.map((migration) => migration.version), unrecorded.map((migration) => migration.checksum)],
    );
    logger.info({ migrations: unrecorded.map((migration) => migration.file) }, 'recorded checksums of migrations applied earlier');
  }

  const done = new Set(rows.map((row) => row.version));
  const applied: string[] = [];
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;
    try {
      await client.query('begin');
      await client.query(migration.sql);
      await client.query('insert into lading_migrations (version, name, checksum) values ($1, $2, $3)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw new MigrationError(
        `${dirName}/${migration.file} failed and was rolled back (the migrations before it stay applied): ` +
          (error as Error).message,
        { cause: error },
      );
    }
    applied.push(migration.file);
  }
  return applied;
}
