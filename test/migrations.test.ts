import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase } from '../src/db/migrate.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { createLogger } from '../src/logger.ts';
import { runScript } from './helpers/child-process.ts';
import { createTestDatabase } from './helpers/test-service.ts';

const logger = createLogger({ level: 'silent', format: 'json' });
let files: string[];
let checksums: Record<string, string>;

beforeAll(async () => {
  files = (await readdir('migrations')).filter((file) => /^\d{3}_.+\.sql$/.test(file)).sort();
  checksums = {};
  for (const file of files) checksums[file] = createHash('sha256').update(await readFile(path.join('migrations', file))).digest('hex');
});

// Each test gets databases (and pools) of its own; all are dropped after it.
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function database(options: { empty?: boolean } = {}): Promise<{ pool: Pool; connectionString: string }> {
  const db = await createTestDatabase(options);
  cleanups.push(() => db.drop());
  const pool = createPool(db.connectionString, 3);
  cleanups.push(() => pool.end());
  return { pool, connectionString: db.connectionString };
}

async function recorded(pool: Pool): Promise<Array<{ version: number; name: string; checksum: string | null }>> {
  return (await pool.query('select version, name, checksum from lading_migrations order by version')).rows;
}

async function tables(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query(`select table_name from information_schema.tables where table_schema = 'public' order by 1`);
  return rows.map((row) => row.table_name);
}

/** A migrations directory of our own, named "migrations" like the real one. */
async function migrationsDir(sqlByFile: Record<string, string>): Promise<string> {
  const parent = await mkdtemp(path.join(os.tmpdir(), 'lading-migrations-'));
  cleanups.push(() => rm(parent, { recursive: true, force: true }));
  const dir = path.join(parent, 'migrations');
  await mkdir(dir);
  for (const [file, sql] of Object.entries(sqlByFile)) await writeFile(path.join(dir, file), sql);
  return dir;
}

describe('migrateDatabase', () => {
  it('applies every file to an empty database and records each one with the sha256 of its bytes', async () => {
    const { pool } = await database({ empty: true });
    expect(await migrateDatabase(pool, logger)).toEqual({ applied: files });
    expect(await recorded(pool)).toEqual(
      files.map((file) => ({ version: Number(file.slice(0, 3)), name: file.slice(4, -4), checksum: checksums[file] })),
    );
  });

  it('applies nothing the second time', async () => {
    const { pool } = await database({ empty: true });
    await migrateDatabase(pool, logger);
    const applied = () => pool.query('select version, name, applied_at from lading_migrations order by version');
    const before = (await applied()).rows;
    expect(before).toHaveLength(files.length);
    expect(await migrateDatabase(pool, logger)).toEqual({ applied: [] });
    expect((await applied()).rows).toEqual(before);
  });

  it('lets two processes migrate an empty database at once: both succeed, each file is applied once', async () => {
    const { connectionString } = await database({ empty: true });
    const pools = [createPool(connectionString, 3), createPool(connectionString, 3)];
    cleanups.push(() => Promise.all(pools.map((pool) => pool.end())));
    const results = await Promise.all(pools.map((pool) => migrateDatabase(pool, logger)));
    expect(results.flatMap((result) => result.applied).sort()).toEqual(files);
    const { rows } = await pools[0]!.query('select version from lading_migrations order by version');
    expect(rows.map((row) => row.version)).toEqual(files.map((file) => Number(file.slice(0, 3))));
  });

  it('records the checksums of migrations applied before checksums were kept, once, and applies nothing', async () => {
    const { pool } = await database();
    // A database migrated by the previous version: no checksum column.
    await pool.query('alter table lading_migrations drop column checksum');
    expect(await migrateDatabase(pool, logger)).toEqual({ applied: [] });
    expect((await recorded(pool)).map((row) => row.checksum)).toEqual(files.map((file) => checksums[file]));
  });

  it('refuses when an applied file was changed afterwards, naming it, and changes nothing', async () => {
    const { pool } = await database();
    await pool.query(`update lading_migrations set checksum = repeat('0', 64) where name = 'webhooks'`);
    await pool.query(`update lading_migrations set checksum = null where version = 1`);
    const before = await recorded(pool);
    const tablesBefore = await tables(pool);
    const error = await migrateDatabase(pool, logger).then(() => undefined, (e: Error) => e);
    expect(error?.message).toBe(
      `migrations/003_webhooks.sql was changed after it was applied to this database (checksum 000000000000…, file now ` +
        `${checksums['003_webhooks.sql']!.slice(0, 12)}…); restore it and put the change in a new migration`,
    );
    expect(error?.stack).not.toMatch(/\n\s+at /);
    // Not even the missing checksum of 001 was filled in.
    expect(await recorded(pool)).toEqual(before);
    expect(await tables(pool)).toEqual(tablesBefore);
  });
});

describe('migrateDatabase with a migrations directory of the test', () => {
  const A = 'create table mig_a (id int);\n';
  const B = 'create table mig_b (id int);\n';

  it('applies each file in its own transaction: a failing one is rolled back, those before it stay applied', async () => {
    const { pool } = await database({ empty: true });
    const dir = await migrationsDir({
      '001_a.sql': A,
      '002_b.sql': B,
      '003_bad.sql': 'create table mig_c (id int);\nselect 1 / 0;\n',
      '004_d.sql': 'create table mig_d (id int);\n',
    });
    await expect(migrateDatabase(pool, logger, { migrationsDir: dir })).rejects.toThrow(
      'migrations/003_bad.sql failed and was rolled back (the migrations before it stay applied): division by zero',
    );
    expect((await recorded(pool)).map((row) => row.name)).toEqual(['a', 'b']);
    expect(await tables(pool)).toEqual(['lading_migrations', 'mig_a', 'mig_b']);

    // Fixed (it was never applied, so it may be edited): the next run applies it and what follows.
    await writeFile(path.join(dir, '003_bad.sql'), 'create table mig_c (id int);\n');
    expect(await migrateDatabase(pool, logger, { migrationsDir: dir })).toEqual({ applied: ['003_bad.sql', '004_d.sql'] });
    expect(await tables(pool)).toEqual(['lading_migrations', 'mig_a', 'mig_b', 'mig_c', 'mig_d']);
  });

  it('applies no pending file when an applied one was changed', async () => {
    const { pool } = await database({ empty: true });
    const dir = await migrationsDir({ '001_a.sql': A, '002_b.sql': B });
    await migrateDatabase(pool, logger, { migrationsDir: dir });
    await writeFile(path.join(dir, '001_a.sql'), `${A}create index on mig_a (id);\n`);
    await writeFile(path.join(dir, '003_c.sql'), 'create table mig_c (id int);\n');
    const before = await recorded(pool);
    await expect(migrateDatabase(pool, logger, { migrationsDir: dir })).rejects.toThrow(
      /^migrations\/001_a\.sql was changed after it was applied to this database \(checksum [0-9a-f]{12}…, file now [0-9a-f]{12}…\); restore it and put the change in a new migration$/,
    );
    expect(await recorded(pool)).toEqual(before);
    expect(await tables(pool)).toEqual(['lading_migrations', 'mig_a', 'mig_b']);
  });

  it('refuses when an applied file is missing, or when the database was migrated by a newer version', async () => {
    const { pool } = await database({ empty: true });
    const dir = await migrationsDir({ '001_a.sql': A, '002_b.sql': B, '003_c.sql': 'create table mig_c (id int);\n' });
    await migrateDatabase(pool, logger, { migrationsDir: dir });

    await unlink(path.join(dir, '002_b.sql'));
    await expect(migrateDatabase(pool, logger, { migrationsDir: dir })).rejects.toThrow(
      'migrations/002_b.sql is applied to this database but is missing from migrations/; restore it',
    );
    await writeFile(path.join(dir, '002_b.sql'), B);
    await unlink(path.join(dir, '003_c.sql'));
    await expect(migrateDatabase(pool, logger, { migrationsDir: dir })).rejects.toThrow(
      "migrations/003_c.sql is applied to this database but is not in this copy's migrations/: the database was " +
        'migrated by a newer version of Lading; run that version (or a later one)',
    );
    // Renamed, same number and content: still the same migration.
    await writeFile(path.join(dir, '003_c_renamed.sql'), 'create table mig_c (id int);\n');
    expect(await migrateDatabase(pool, logger, { migrationsDir: dir })).toEqual({ applied: [] });
  });
});

describe('start-up with an applied migration changed', () => {
  const message = (file: string) => `migrations/003_webhooks.sql was changed after it was applied to this database (checksum 000000000000…, file now ${checksums[file]!.slice(0, 12)}…); restore it and put the change in a new migration`;

  it('npm run migrate refuses with exit code 1 and the message', async () => {
    const { pool, connectionString } = await database();
    await pool.query(`update lading_migrations set checksum = repeat('0', 64) where version = 3`);
    const child = runScript('src/cli/migrate.ts', [], { DATABASE_URL: connectionString });
    expect(await child.exited).toBe(1);
    expect(child.stdout()).toBe('');
    expect(child.stderr()).toBe(`${message('003_webhooks.sql')}\n`);
  });

  it('the service does not start, and says why in one line', async () => {
    const { pool, connectionString } = await database();
    await pool.query(`update lading_migrations set checksum = repeat('0', 64) where version = 3`);
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lading-data-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const child = runScript('bin/lading-server.js', [], { DATABASE_URL: connectionString, DATA_DIR: dataDir, PORT: '0' });
    expect(await child.exited).toBe(1);
    expect(child.stderr()).toBe(`${message('003_webhooks.sql')}\n`);
    expect(child.stdout()).not.toContain('listening');
  });
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
