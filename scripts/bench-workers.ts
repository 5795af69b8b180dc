// npm run bench -- --workers 1,2,4 [--rows 2000000 --runs 3]
// One big file, more workers (issue 17): an `api` process (uploads cut into 16 MiB chunks) and N
// `worker` processes (WORKER_CONCURRENCY 2 each) on one database and one uploads folder, the
// default-shape file imported into an empty table, per worker count. Prints the time (upload →
// succeeded, medians) and where the time went: the worker processes' CPU (all their threads, from
// /proc), the parser threads' busy time (parse and validate, lading_import_stage_seconds_total:
// wall time in threads that run at nice 5), the import's job writing the batches in order (the
// serial merge: lading_import_batch_duration_seconds, wall), and PostgreSQL's processes' CPU (from
// /proc; backends that exit meanwhile are missed). Linux only. docs/scaling.md reads it.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createBenchKey, ensureBenchFile, median, openBenchDatabase, startServiceProcess, timeImport, type ServiceProcess } from './bench-support.ts';

export async function benchWorkers(options: { benchDir: string; rows: number; runs: number; counts: number[] }): Promise<void> {
  const file = await ensureBenchFile(options.benchDir, { shape: 'default', rows: options.rows, variant: 0 });
  const database = await openBenchDatabase('lading_bench');
  const uploads = await mkdtemp(path.join(os.tmpdir(), 'lading-bench-workers-'));
  const table: Record<string, Record<string, string>> = {};
  try {
    const key = await createBenchKey(database.pool);
    for (const count of options.counts) {
      const env = {
        DATABASE_URL: database.connectionString,
        STORAGE_URL: `file://${uploads}/files`,
        MAX_UPLOAD_BYTES: String(16 * 1024 ** 3),
        IMPORT_CHUNK_BYTES: String(16 * 1024 ** 2),
      };
      const api = await startServiceProcess({ ...env, LADING_ROLE: 'api', DATA_DIR: path.join(uploads, 'api') });
      const workers: ServiceProcess[] = [];
      for (let n = 0; n < count; n++) {
        workers.push(
          await startServiceProcess({ ...env, LADING_ROLE: 'worker', PUBLIC_BASE_URL: api.url, WORKER_CONCURRENCY: '2', DATA_DIR: path.join(uploads, `worker-${n}`) }),
        );
      }
      const runs: { seconds: number; workersCpu: number; parse: number; validate: number; merge: number; database: number }[] = [];
      try {
        for (let run = 0; run < options.runs; run++) {
          await database.pool.query('truncate products');
          const before = await cpu(workers);
          const { final, seconds } = await timeImport<{ id: string; status: string; rows_inserted: number }>(api, key, file);
          if (final.status !== 'succeeded' || final.rows_inserted !== options.rows) throw new Error(`import ended ${JSON.stringify(final)}`);
          const after = await cpu(workers);
          runs.push({
            seconds,
            workersCpu: after.workers - before.workers,
            parse: after.parse - before.parse,
            validate: after.validate - before.validate,
            merge: after.merge - before.merge,
            database: after.postgres - before.postgres,
          });
          process.stdout.write(`${count} worker${count === 1 ? '' : 's'}, run ${run + 1}/${options.runs}: ${seconds.toFixed(2)} s\n`);
        }
      } finally {
        await Promise.all([api, ...workers].map((service) => service.stop()));
      }
      const m = (pick: (r: (typeof runs)[number]) => number) => median(runs.map(pick));
      table[`${count} worker process${count === 1 ? '' : 'es'}`] = {
        'median s': m((r) => r.seconds).toFixed(2),
        'min–max s': `${Math.min(...runs.map((r) => r.seconds)).toFixed(2)}–${Math.max(...runs.map((r) => r.seconds)).toFixed(2)}`,
        'rows/s': Math.round(options.rows / m((r) => r.seconds)).toLocaleString('en'),
        'workers CPU s': m((r) => r.workersCpu).toFixed(1),
        'parse busy s': m((r) => r.parse).toFixed(1),
        'validate busy s': m((r) => r.validate).toFixed(1),
        'merge (writing) s': m((r) => r.merge).toFixed(1),
        'PostgreSQL CPU s': m((r) => r.database).toFixed(1),
      };
    }
  } finally {
    await database.stop();
    await rm(uploads, { recursive: true, force: true });
  }
  console.log(`\n${options.rows.toLocaleString('en')} rows (default shape), ${options.runs} runs, ${os.cpus().length} cores, chunks of 16 MiB`);
  console.table(table);
  console.log(
    'workers CPU: every thread of the worker processes (/proc); parse, validate: the parser threads\' busy time (wall, nice 5); ' +
      'merge: the batches\' write transactions, two at a time (wall); PostgreSQL: its processes\' CPU (/proc)',
  );
}

/** So far: the workers' CPU, their parser threads' busy time and batch writing time, PostgreSQL's CPU. */
async function cpu(workers: ServiceProcess[]) {
  let parse = 0;
  let validate = 0;
  let merge = 0;
  for (const worker of workers) {
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    parse += Number(/^lading_import_stage_seconds_total\{stage="parse"\} (\S+)$/m.exec(text)?.[1] ?? 0);
    validate += Number(/^lading_import_stage_seconds_total\{stage="validate"\} (\S+)$/m.exec(text)?.[1] ?? 0);
    merge += Number(/^lading_import_batch_duration_seconds_sum (\S+)$/m.exec(text)?.[1] ?? 0);
  }
  return {
    parse,
    validate,
    merge,
    workers: workers.reduce((sum, worker) => sum + processCpuSeconds(worker.child.pid!), 0),
    postgres: postgresCpuSeconds(),
  };
}

const TICKS = 100; // USER_HZ on Linux

function processCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime
  } catch {
    return 0;
  }
}

/** Every process named postgres (the server and its backends); backends that exited meanwhile are not counted. */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.includes('(postgres)')) total += processCpuSeconds(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}
