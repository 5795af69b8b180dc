// npm run bench [-- --rows 500000 --runs 3 --shape default|text|wide|mixed|all]
// npm run bench -- --workers 1,2,4 [--rows 2000000]: one big file by more worker processes (bench-workers.ts)
// The physical limit (psql \copy of the same file into an empty keyed table) against the service
// end to end (HTTP upload → succeeded), into an empty table and again as updates, per file shape
// (scripts/generate-products-csv.ts), with the service's peak RSS and where the time went (upload,
// and from the service's metrics: parse, validate, database). The default shape also measures the
// same file again and atomic=true. Prints tables and writes the figures as JSON under DATA_DIR/bench/.
// Against DATABASE_URL when set (a durable server), else an embedded PostgreSQL.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../src/config.ts';
import { createBenchKey, ensureBenchFile, median, openBenchDatabase, scrapeStages, startServiceProcess, timeImport, type ServiceProcess, type Stages } from './bench-support.ts';
import { parseShape, SHAPES, type Shape } from './generate-products-csv.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string' },
    runs: { type: 'string', default: '3' },
    shape: { type: 'string', default: 'default' },
    workers: { type: 'string' },
  },
});
if (values.workers) {
  const { benchWorkers } = await import('./bench-workers.ts');
  const counts = values.workers.split(',').map(Number);
  await benchWorkers({ benchDir: path.join(loadConfig(process.env).dataDir, 'bench'), rows: Number(values.rows ?? 2_000_000), runs: Number(values.runs), counts });
  process.exit(0);
}
const rows = Number(values.rows ?? 500_000);
const runs = Number(values.runs);
const shapes: Shape[] = values.shape === 'all' ? [...SHAPES] : [parseShape(values.shape, ' or all')];
const config = loadConfig(process.env);
const benchDir = path.join(config.dataDir, 'bench');
await mkdir(benchDir, { recursive: true });

const ensureFile = (shape: Shape, variant: number) => ensureBenchFile(benchDir, { shape, rows, variant });

/** What a measured import must end with: every row inserted, updated or unchanged, or the mixed file's split. */
type Expected = Partial<Record<'rows_inserted' | 'rows_updated' | 'rows_unchanged', number>>;

const database = await openBenchDatabase('lading_bench');
// 5M `text` rows are 1.1 GB, over the default MAX_UPLOAD_BYTES (1 GiB).
const service = await startServiceProcess({
  DATABASE_URL: database.connectionString,
  DATA_DIR: path.join(benchDir, 'service'),
  MAX_UPLOAD_BYTES: String(16 * 1024 ** 3),
});
const results: Record<string, unknown> = {};
try {
  const key = await createBenchKey(database.pool);
  for (const shape of shapes) {
    const file = await ensureFile(shape, 0);
    const changed = await ensureFile(shape, 1);
    const bytes = statSync(file).size;
    const limit: number[] = [];
    const series: Record<string, Run[]> = {};
    const measure = async (label: string, csv: string, expected: Expected, query = '') => {
      const run = await measureImport(service, key, csv, expected, query);
      series[label] = [...(series[label] ?? []), run];
      return run;
    };
    // The mixed file: half its skus new, 40 % with other values, 10 % unchanged.
    const updated: Expected =
      shape === 'mixed' ? { rows_inserted: rows / 2, rows_updated: (rows / 2) * 0.8, rows_unchanged: (rows / 2) * 0.2 } : { rows_updated: rows };
    const updateLabel = shape === 'mixed' ? 'mixed: half new, 40 % updated, 10 % unchanged' : 'every row an update';
    for (let run = 0; run < runs; run++) {
      limit.push(await measureCopyLimit(database.connectionString, file));
      await database.pool.query('truncate products');
      const fresh = await measure('empty table', file, { rows_inserted: rows });
      if (shape === 'default') await measure('the same file again (all unchanged)', file, { rows_unchanged: rows });
      const update = await measure(updateLabel, changed, updated);
      if (shape === 'default') {
        // atomic=true: the same two imports, all or nothing (rows held until the end, then one upsert).
        await database.pool.query('truncate products');
        await measure('atomic=true: empty table', file, { rows_inserted: rows }, '?atomic=true');
        await measure('atomic=true: every row an update', changed, { rows_updated: rows }, '?atomic=true');
      }
      process.stdout.write(
        `${shape} run ${run + 1}/${runs}: COPY ${limit.at(-1)!.toFixed(2)} s · new ${fresh.seconds.toFixed(2)} s ` +
          `(upload ${fresh.uploadSeconds.toFixed(2)} s) · ${updateLabel} ${update.seconds.toFixed(2)} s\n`,
      );
    }
    const limitMedian = median(limit);
    const row = (samples: number[], extra: Record<string, string> = {}) => ({
      'median s': median(samples).toFixed(2),
      'min–max s': `${Math.min(...samples).toFixed(2)}–${Math.max(...samples).toFixed(2)}`,
      'rows/s': Math.round(rows / median(samples)).toLocaleString('en'),
      'ratio to limit': (median(samples) / limitMedian).toFixed(2),
      ...extra,
    });
    const stageText = (list: Run[]) => {
      const m = (pick: (r: Run) => number) => median(list.map(pick)).toFixed(2);
      return `upload ${m((r) => r.uploadSeconds)}, parse ${m((r) => r.stages.parse)}, validate ${m((r) => r.stages.validate)}, database ${m((r) => r.stages.database)}`;
    };
    console.log(`\nshape ${shape}: ${rows.toLocaleString('en')} rows, ${(bytes / 1e6).toFixed(1)} MB, ${runs} runs, ${os.cpus().length} cores, limit by ${limitTool()}`);
    const table: Record<string, ReturnType<typeof row>> = { 'limit: COPY into an empty keyed table': row(limit) };
    for (const [label, list] of Object.entries(series)) {
      table[`service: ${label}`] = row(
        list.map((r) => r.seconds),
        { 'peak RSS MB': String(Math.round(Math.max(...list.map((r) => r.peakRssMb)))) },
      );
    }
    console.table(table);
    console.log('where the time went (medians, s; parse and validate run alongside the database; database: the batches\' times, two of which overlap when upserting):');
    for (const [label, list] of Object.entries(series)) console.log(`  ${label}: ${stageText(list)}`);
    if (shape === 'default') {
      const ratio = (a: string, b: string) => (median(series[a]!.map((r) => r.seconds)) / median(series[b]!.map((r) => r.seconds))).toFixed(2);
      console.log(`atomic / plain: new rows ${ratio('atomic=true: empty table', 'empty table')}×, every row changed ${ratio('atomic=true: every row an update', 'every row an update')}×`);
    }
    results[shape] = {
      bytes,
      limit: { seconds: limit, median: limitMedian },
      ...Object.fromEntries(Object.entries(series).map(([label, list]) => [label, summarize(list, limitMedian)])),
    };
  }
  const result = { at: new Date().toISOString(), rows, runs, cores: os.cpus().length, limitTool: limitTool(), shapes: results };
  const out = path.join(benchDir, `results-${rows}-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`figures written to ${out}`);
} finally {
  await service.stop();
  await database.stop();
}

/** seconds: upload → succeeded; uploadSeconds: the upload's share (until the 202 response); stages: from /metrics. */
type Run = { seconds: number; uploadSeconds: number; peakRssMb: number; stages: Stages };

function summarize(list: Run[], limitMedian: number) {
  const seconds = list.map((r) => r.seconds);
  return {
    seconds,
    median: median(seconds),
    rowsPerSecond: rows / median(seconds),
    ratioToLimit: median(seconds) / limitMedian,
    peakRssMb: list.map((r) => r.peakRssMb),
    uploadSeconds: list.map((r) => r.uploadSeconds),
    stages: list.map((r) => r.stages),
  };
}

/** Upload → `finished` (seen on the tenant's event stream, so no polling delay is counted). */
async function measureImport(target: ServiceProcess, apiKey: string, csv: string, expected: Expected, query = ''): Promise<Run> {
  type Final = { id: string; status: string } & Record<keyof Expected, number>;
  const before = await scrapeStages(target.url);
  const { final, ...run } = await timeImport<Final>(target, apiKey, csv, query);
  const after = await scrapeStages(target.url);
  for (const [field, count] of Object.entries(expected) as [keyof Expected, number][]) {
    if (final.status !== 'succeeded' || final[field] !== count) throw new Error(`unexpected outcome (${field} ≠ ${count}): ${JSON.stringify(final)}`);
  }
  const stages = { parse: after.parse - before.parse, validate: after.validate - before.validate, database: after.database - before.database };
  return { ...run, stages };
}

function limitTool(): string {
  return spawnSync('psql', ['--version']).status === 0 ? 'psql \\copy' : 'pg-copy-streams';
}

/** The same file into an empty table with the file's columns and the same key: what the hardware allows. */
async function measureCopyLimit(connectionString: string, csv: string): Promise<number> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const known: Record<string, string> = {
    sku: 'text primary key', name: 'text not null', description: 'text', price: 'numeric(14, 2)', currency: 'text',
    quantity: 'integer', category: 'text', status: 'text', updated_at: 'timestamptz',
  };
  const start = Buffer.alloc(4096);
  const fd = openSync(csv, 'r');
  readSync(fd, start, 0, start.length, 0);
  closeSync(fd);
  const header = start.toString('utf8').split('\n')[0]!.split(',');
  const columns = header.map((name) => `"${name}" ${known[name] ?? 'text'}`).join(', ');
  await client.query(`drop table if exists copy_limit; create table copy_limit (${columns})`);
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
