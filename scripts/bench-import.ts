// npm run bench [-- --rows 500000 --runs 3]
// The physical limit (a bare COPY of the file into an empty keyed table) against the service end
// to end (HTTP upload → succeeded), into an empty table and again as updates, with the service's
// peak RSS per run. Prints a table and writes the figures as JSON under DATA_DIR/bench/.
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../src/config.ts';
import { createBenchKey, openBenchDatabase, startServiceProcess, timeImport, type ServiceProcess } from './bench-support.ts';
import { generateProductsCsv } from './generate-products-csv.ts';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '500000' }, runs: { type: 'string', default: '3' } },
});
const rows = Number(values.rows);
const runs = Number(values.runs);
const config = loadConfig(process.env);
const benchDir = path.join(config.dataDir, 'bench');
await mkdir(benchDir, { recursive: true });

// The file, and a variant with the same skus but other prices and quantities (every row an update).
const file = await ensureFile(`products-${rows}.csv`, 0);
const changed = await ensureFile(`products-${rows}-changed.csv`, 1);
const bytes = statSync(file).size;

async function ensureFile(name: string, variant: number): Promise<string> {
  const target = path.join(benchDir, name);
  if (!existsSync(target)) {
    process.stdout.write(`generating ${rows} rows into ${target}…\n`);
    await generateProductsCsv(target, { rows, seed: 42, variant });
  }
  return target;
}

const database = await openBenchDatabase('lading_bench');
const service = await startServiceProcess({ DATABASE_URL: database.connectionString, DATA_DIR: path.join(benchDir, 'service') });
try {
  const key = await createBenchKey(database.pool);
  const limit: number[] = [];
  const insert: Run[] = [];
  const unchanged: Run[] = [];
  const update: Run[] = [];
  const atomicInsert: Run[] = [];
  const atomicUpdate: Run[] = [];
  for (let run = 0; run < runs; run++) {
    limit.push(await measureCopyLimit(database.connectionString, file));
    await database.pool.query('truncate products');
    insert.push(await measureImport(service, key, file, 'rows_inserted'));
    unchanged.push(await measureImport(service, key, file, 'rows_unchanged'));
    update.push(await measureImport(service, key, changed, 'rows_updated'));
    // atomic=true: the same two imports, all or nothing (rows held until the end, then one upsert).
    await database.pool.query('truncate products');
    atomicInsert.push(await measureImport(service, key, file, 'rows_inserted', '?atomic=true'));
    atomicUpdate.push(await measureImport(service, key, changed, 'rows_updated', '?atomic=true'));
    process.stdout.write(
      `run ${run + 1}/${runs}: COPY ${limit.at(-1)!.toFixed(2)} s · new ${insert.at(-1)!.seconds.toFixed(2)} s ` +
        `(upload ${insert.at(-1)!.uploadSeconds.toFixed(2)} s) · ` +
        `same file ${unchanged.at(-1)!.seconds.toFixed(2)} s · every row changed ${update.at(-1)!.seconds.toFixed(2)} s · ` +
        `atomic new ${atomicInsert.at(-1)!.seconds.toFixed(2)} s · atomic changed ${atomicUpdate.at(-1)!.seconds.toFixed(2)} s\n`,
    );
  }

  const limitMedian = median(limit);
  const describe = (label: string, samples: number[], extra: Record<string, string> = {}) => ({
    [label]: {
      'median s': samples.length ? median(samples).toFixed(2) : '',
      'min–max s': `${Math.min(...samples).toFixed(2)}–${Math.max(...samples).toFixed(2)}`,
      'rows/s': Math.round(rows / median(samples)).toLocaleString('en'),
      'ratio to limit': (median(samples) / limitMedian).toFixed(2),
      ...extra,
    },
  });
  const rss = (list: Run[]) => ({ 'peak RSS MB': String(Math.round(Math.max(...list.map((r) => r.peakRssMb)))) });
  console.log(`\nbench: ${rows.toLocaleString('en')} rows, ${(bytes / 1e6).toFixed(1)} MB, ${runs} runs, ${os.cpus().length} cores, limit by ${limitTool()}`);
  console.table({
    ...describe('limit: COPY into an empty keyed table', limit),
    ...describe('service: upload → succeeded, empty table', insert.map((r) => r.seconds), rss(insert)),
    ...describe('service: every row an update (new prices)', update.map((r) => r.seconds), rss(update)),
    ...describe('service: the same file again (all unchanged)', unchanged.map((r) => r.seconds), rss(unchanged)),
    ...describe('service, atomic=true: empty table', atomicInsert.map((r) => r.seconds), rss(atomicInsert)),
    ...describe('service, atomic=true: every row an update', atomicUpdate.map((r) => r.seconds), rss(atomicUpdate)),
  });
  console.log(
    `atomic / plain: new rows ${(median(atomicInsert.map((r) => r.seconds)) / median(insert.map((r) => r.seconds))).toFixed(2)}×, ` +
      `every row changed ${(median(atomicUpdate.map((r) => r.seconds)) / median(update.map((r) => r.seconds))).toFixed(2)}×`,
  );

  const result = {
    at: new Date().toISOString(),
    rows,
    bytes,
    runs,
    cores: os.cpus().length,
    limitTool: limitTool(),
    limit: { seconds: limit, median: limitMedian },
    insert: summarize(insert, limitMedian),
    update: summarize(update, limitMedian),
    unchanged: summarize(unchanged, limitMedian),
    atomicInsert: summarize(atomicInsert, limitMedian),
    atomicUpdate: summarize(atomicUpdate, limitMedian),
  };
  const out = path.join(benchDir, `results-${rows}-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`figures written to ${out}`);
} finally {
  await service.stop();
  await database.stop();
}

/** seconds: upload → succeeded; uploadSeconds: the upload's share (until the 202 response). */
type Run = { seconds: number; uploadSeconds: number; peakRssMb: number };

function summarize(list: Run[], limitMedian: number) {
  const seconds = list.map((r) => r.seconds);
  return {
    seconds,
    median: median(seconds),
    rowsPerSecond: rows / median(seconds),
    ratioToLimit: median(seconds) / limitMedian,
    peakRssMb: list.map((r) => r.peakRssMb),
    uploadSeconds: list.map((r) => r.uploadSeconds),
  };
}

/** Upload → `finished` (seen on the tenant's event stream, so no polling delay is counted). */
async function measureImport(
  target: ServiceProcess,
  apiKey: string,
  csv: string,
  expect: 'rows_inserted' | 'rows_updated' | 'rows_unchanged',
  query = '',
): Promise<Run> {
  type Final = { id: string; status: string } & Record<typeof expect, number>;
  const { final, ...run } = await timeImport<Final>(target, apiKey, csv, query);
  if (final.status !== 'succeeded' || final[expect] !== rows) throw new Error(`unexpected outcome: ${JSON.stringify(final)}`);
  return run;
}

function limitTool(): string {
  return spawnSync('psql', ['--version']).status === 0 ? 'psql \\copy' : 'pg-copy-streams';
}

/** The same file into an empty table with the same columns and key: what the hardware allows. */
async function measureCopyLimit(connectionString: string, csv: string): Promise<number> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  await client.query(`drop table if exists copy_limit;
    create table copy_limit (sku text primary key, name text not null, description text, price numeric(14, 2),
      currency text, quantity integer, category text, status text, updated_at timestamptz)`);
  const started = performance.now();
  if (limitTool() === 'psql \\copy') {
    execFileSync('psql', [connectionString, '-q', '-c', `\\copy copy_limit from '${csv}' with (format csv, header true)`]);
  } else {
    await pipeline(createReadStream(csv), client.query(copyFrom('copy copy_limit from stdin with (format csv, header true)')));
  }
  const seconds = (performance.now() - started) / 1000;
  await client.query('drop table copy_limit');
  await client.end();
  return seconds;
}

function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
