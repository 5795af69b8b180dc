import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createApiKey } from '../src/api-keys/api-keys.ts';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { migrateDatabase } from '../src/db/migrate.ts';
import { createDatabaseIfMissing, withDatabaseName } from '../src/db/open-database.ts';
import { createPool, type Pool } from '../src/db/pool.ts';
import { createLogger } from '../src/logger.ts';
import { generateProductsCsv, type Shape } from './generate-products-csv.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

export type BenchDatabase = { connectionString: string; pool: Pool; stop(): Promise<void> };

/** DATABASE_URL when set, else a fresh embedded server in a temp directory; migrated either way. */
export async function openBenchDatabase(name: string): Promise<BenchDatabase> {
  const logger = createLogger({ level: 'warn', format: 'json', fd: 2 });
  let connectionString = process.env.DATABASE_URL;
  let stopServer = async () => {};
  if (!connectionString) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), `lading-${name}-`));
    const server = await startEmbeddedPostgres({ dataDir, logger });
    await createDatabaseIfMissing(server.serverUrl, name);
    connectionString = withDatabaseName(server.serverUrl, name);
    // The embedded server's files (2–4 GB after a bench) go with it.
    stopServer = async () => {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
  }
  const pool = createPool(connectionString, 4);
  await migrateDatabase(pool, logger);
  return {
    connectionString,
    pool,
    async stop() {
      await pool.end();
      await stopServer();
    },
  };
}

/**
 * A bench's generated file under benchDir, made once (seed 42) and reused by every bench after:
 * variant 1 is the same skus with other values (scripts/generate-products-csv.ts).
 */
export async function ensureBenchFile(benchDir: string, file: { shape: Shape; rows: number; variant: number }): Promise<string> {
  const { shape, rows, variant } = file;
  const target = path.join(benchDir, `products-${shape === 'default' ? '' : `${shape}-`}${rows}${variant ? '-changed' : ''}.csv`);
  if (!existsSync(target)) {
    process.stdout.write(`generating ${rows} rows (${shape}) into ${target}…\n`);
    await generateProductsCsv(target, { rows, seed: 42, variant, shape });
  }
  return target;
}

export async function createBenchKey(pool: Pool): Promise<string> {
  return (await createApiKey(pool, { tenant: `bench-${Date.now()}` })).key;
}

export type ServiceProcess = {
  url: string;
  child: ChildProcess;
  /** VmHWM: the highest RSS since start, or since resetPeakRss(). */
  peakRssMb(): number;
  rssMb(): number;
  /** Linux: writing 5 to clear_refs resets VmHWM, so each run's peak is its own. */
  resetPeakRss(): void;
  stop(): Promise<void>;
};

/**
 * `npm start`'s command (its Node flags too, read from package.json) as a child process, so its
 * memory is measured apart from the bench's; by default this checkout's, else `root`'s.
 */
export async function startServiceProcess(env: Record<string, string>, options: { root?: string } = {}): Promise<ServiceProcess> {
  const cwd = options.root ?? root; // another checkout's service (bench:compare)
  const start = (JSON.parse(readFileSync(path.join(cwd, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [, ...args] = start.split(/\s+/); // "node --flag … bin/lading-server.js"
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Lading (?:worker )?is listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`service exited with ${code}: ${output}`)));
  });
  const status = (field: string) => {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : NaN;
  };
  return {
    url,
    child,
    peakRssMb: () => status('VmHWM'),
    rssMb: () => status('VmRSS'),
    resetPeakRss: () => writeFileSync(`/proc/${child.pid}/clear_refs`, '5'),
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** POST /v1/imports streaming the file as the body, as a CLI uploader would (undici's fetch of a Blob was ~40% slower here). */
export async function uploadCsvFile(serviceUrl: string, apiKey: string, csv: string, query = ''): Promise<unknown> {
  const request = http.request(`${serviceUrl}/v1/imports${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'text/csv', 'content-length': statSync(csv).size },
  });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => request.once('response', resolve).once('error', reject));
  await pipeline(createReadStream(csv, { highWaterMark: 256 * 1024 }), request);
  let body = '';
  for await (const chunk of await response) body += chunk;
  return JSON.parse(body);
}

/**
 * Uploads a file and waits for the import's `finished` message on the tenant's event stream (so
 * no polling delay is counted): the time from the first byte sent, the upload's share, and the
 * service's peak RSS meanwhile.
 */
export async function timeImport<Final extends { id: string; status: string }>(
  target: ServiceProcess,
  apiKey: string,
  file: string,
  query = '',
): Promise<{ final: Final; seconds: number; uploadSeconds: number; peakRssMb: number }> {
  const stream = new WebSocket(`${target.url.replace('http', 'ws')}/v1/events`, { headers: { authorization: `Bearer ${apiKey}` } });
  await new Promise((resolve, reject) => stream.once('open', resolve).once('error', reject));
  target.resetPeakRss();
  const started = performance.now();
  const { id } = (await uploadCsvFile(target.url, apiKey, file, query)) as { id: string };
  const uploaded = performance.now();
  const final = await new Promise<Final>((resolve) => {
    stream.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; import: Final };
      if (message.type === 'finished' && message.import.id === id) resolve(message.import);
    });
  });
  const seconds = (performance.now() - started) / 1000;
  stream.close();
  return { final, seconds, uploadSeconds: (uploaded - started) / 1000, peakRssMb: target.peakRssMb() };
}

/** Seconds the service has spent on imports so far, per stage (its /metrics; counters only grow). */
export type Stages = { parse: number; validate: number; database: number };

export async function scrapeStages(serviceUrl: string): Promise<Stages> {
  const text = await (await fetch(`${serviceUrl}/metrics`)).text();
  const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
  return {
    parse: value(/^lading_import_stage_seconds_total\{stage="parse"\} (\S+)$/m),
    validate: value(/^lading_import_stage_seconds_total\{stage="validate"\} (\S+)$/m),
    database: value(/^lading_import_batch_duration_seconds_sum (\S+)$/m),
  };
}
