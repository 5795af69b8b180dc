import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMigrations } from 'graphile-worker';
import type { Logger } from '../logger.ts';
import { toGraphileLogger } from '../worker/graphile-logger.ts';
import type pg from 'pg';
import { withTransaction } from './pool.ts';

const migrationsDir = fileURLToPath(new URL('../../migrations/', import.meta.url));
// Any constant works; it only has to be the same for every process migrating this database.
const MIGRATION_LOCK_ID = 7_461_329;

type Migration = { version: number; name: string; file: string };

export async function listMigrations(): Promise<Migration[]> {
  const files = (await readdir(migrationsDir)).filter((file) => /^\d{3}_.+\.sql$/.test(file)).sort();
  return files.map((file) => ({ version: Number(file.slice(0, 3)), name: file.slice(4, -4), file }));
}

/**
 * Applies migrations/NNN_name.sql files not yet recorded in lading_migrations, each in its own
 * transaction, then graphile-worker's own schema. Safe to run from several processes at once.
 */
export async function migrateDatabase(pool: pg.Pool, logger: Logger): Promise<{ applied: string[] }> {
  const applied: string[] = [];
  await withTransaction(pool, async (client) => {
    await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query(`
      create table if not exists lading_migrations (
        version integer primary key,
        name text not null,
        applied_at timestamptz not null default now()
      )`);
    const { rows } = await client.query<{ version: number }>('select version from lading_migrations');
    const done = new Set(rows.map((row) => row.version));
    for (const migration of await listMigrations()) {
      if (done.has(migration.version)) continue;
      const sql = await readFile(path.join(migrationsDir, migration.file), 'utf8');
      await client.query(sql);
      await client.query('insert into lading_migrations (version, name) values ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.file);
    }
  });
  await runMigrations({ pgPool: pool, logger: toGraphileLogger(logger) });
  return { applied };
}
