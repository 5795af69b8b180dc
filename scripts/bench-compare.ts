// npm run bench:compare -- --against <git ref> [--shape mixed] [--pairs 4] [--rows 500000]
// This working tree's service against another commit's, in alternation. For each pair both run in
// turn (which goes first swaps every pair), each a freshly started service (npm start's command):
// the shape's file into an emptied table, then its variant (every row changed; for `mixed`, half
// new). Prints every run and the medians. This machine's speed drifts by ±15 % from one minute to
// the next, more than most changes worth measuring: only runs in alternation tell two versions
// apart. The other commit is checked out once under the system's temporary folder (a git worktree
// sharing this node_modules; outside this tree, whose linter would take its files for its own).
// Against DATABASE_URL when set, else an embedded PostgreSQL.
import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import pg from 'pg';
import { createPool } from '../src/db/pool.ts';
import { withDatabaseName } from '../src/db/open-database.ts';
import { createBenchKey, ensureBenchFile, median, openBenchDatabase, startServiceProcess, timeImport } from './bench-support.ts';
import { parseShape } from './generate-products-csv.ts';

const { values } = parseArgs({
  options: {
    against: { type: 'string' },
    shape: { type: 'string', default: 'mixed' },
    pairs: { type: 'string', default: '4' },
    rows: { type: 'string', default: '500000' },
  },
});
if (!values.against) {
  process.stderr.write('usage: npm run bench:compare -- --against <git ref> [--shape S] [--pairs N] [--rows N]\n');
  process.exit(2);
}
const shape = parseShape(values.shape);
const rows = Number(values.rows);
const pairs = Number(values.pairs);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = path.join(loadConfig(process.env).dataDir, 'bench');
await mkdir(benchDir, { recursive: true });

const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' }).trim();
const commit = git('rev-parse', '--verify', `${values.against}^{commit}`);
const other = path.join(os.tmpdir(), 'lading-compare', commit.slice(0, 12));
if (!existsSync(other)) {
  git('worktree', 'prune');
  git('worktree', 'add', '--detach', other, commit);
  symlinkSync(path.join(root, 'node_modules'), path.join(other, 'node_modules'));
}
const sides = [
  { name: 'this tree', root },
  { name: `${values.against} (${commit.slice(0, 8)})`, root: other },
];

const files = [await ensureBenchFile(benchDir, { shape, rows, variant: 0 }), await ensureBenchFile(benchDir, { shape, rows, variant: 1 })];
const database = await openBenchDatabase('lading_bench');
// The other commit gets a database of its own, which its service migrates itself when it starts:
// a commit from before one of this tree's migrations refuses a database that has it.
const otherDatabase = await freshDatabase(database.connectionString, `lading_bench_${commit.slice(0, 12)}`);
const databases = [database, otherDatabase];
const keys: (string | undefined)[] = [];
const results = sides.map(() => ({ fresh: [] as number[], changed: [] as number[], peak: [] as number[] }));

/** One fresh service of `side`: the file into an emptied table, then its variant. */
async function run(side: number): Promise<{ fresh: number; changed: number; peak: number }> {
  const service = await startServiceProcess(
    { DATABASE_URL: databases[side]!.connectionString, DATA_DIR: path.join(benchDir, 'compare', `service-${side}`), MAX_UPLOAD_BYTES: String(16 * 1024 ** 3) },
    { root: sides[side]!.root },
  );
  try {
    const pool = databases[side]!.pool;
    keys[side] ??= await createBenchKey(pool); // once the service has migrated its database
    const key = keys[side];
    await pool.query('truncate products');
    const fresh = await timeImport<{ id: string; status: string }>(service, key, files[0]!);
    const changed = await timeImport<{ id: string; status: string }>(service, key, files[1]!);
    for (const { final } of [fresh, changed]) if (final.status !== 'succeeded') throw new Error(`import ${final.id} ${final.status}`);
    return { fresh: fresh.seconds, changed: changed.seconds, peak: Math.max(fresh.peakRssMb, changed.peakRssMb) };
  } finally {
    await service.stop();
  }
}

try {
  // A first start after a source change compiles (and strips types) with no compile cache: one
  // unmeasured run per side.
  for (let side = 0; side < sides.length; side++) await run(side);
  for (let pair = 0; pair < pairs; pair++) {
    for (const side of pair % 2 === 0 ? [0, 1] : [1, 0]) {
      const result = await run(side);
      results[side]!.fresh.push(result.fresh);
      results[side]!.changed.push(result.changed);
      results[side]!.peak.push(result.peak);
      console.log(`pair ${pair + 1}, ${sides[side]!.name}: new ${result.fresh.toFixed(2)} s, changed ${result.changed.toFixed(2)} s, peak ${Math.round(result.peak)} MB`);
    }
  }
  console.log(`\nshape ${shape}, ${rows.toLocaleString('en')} rows, ${pairs} pairs (medians, min–max):`);
  const span = (list: number[], digits: number) =>
    `${median(list).toFixed(digits)} (${Math.min(...list).toFixed(digits)}–${Math.max(...list).toFixed(digits)})`;
  console.table(
    Object.fromEntries(
      sides.map((side, i) => [
        side.name,
        { 'new rows s': span(results[i]!.fresh, 2), 'changed rows s': span(results[i]!.changed, 2), 'peak RSS MB': span(results[i]!.peak, 0) },
      ]),
    ),
  );
} finally {
  await otherDatabase.stop();
  await database.stop();
}

/** An empty database `name` on the server of `connectionString` (dropped first if there), not migrated. */
async function freshDatabase(connectionString: string, name: string) {
  const admin = new pg.Client({ connectionString: withDatabaseName(connectionString, 'postgres') });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = withDatabaseName(connectionString, name);
  const pool = createPool(url, 2);
  return { connectionString: url, pool, stop: () => pool.end() };
}
