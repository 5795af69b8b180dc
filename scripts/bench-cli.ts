// `npm run bench:cli [-- --rows N --runs N]`: a CSV imported through `lading import --json` against
// the same file uploaded with curl (streamed, -T) plus waiting for the import's `finished` message.
// Each run is a new tenant (every row an insert); one unmeasured warm-up import first, then the two
// alternate which goes first (the products table grows by one file per import, and autovacuum
// after one import runs into the next); prints each run and the medians.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { createBenchKey, openBenchDatabase, startServiceProcess } from './bench-support.ts';
import { generateProductsCsv } from './generate-products-csv.ts';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '500000' }, runs: { type: 'string', default: '3' } } });
const rows = Number(values.rows);
const runs = Number(values.runs);
const dir = await mkdtemp(path.join(os.tmpdir(), 'lading-bench-cli-'));
const csv = path.join(dir, `products-${rows}.csv`);
if (!existsSync(csv)) await generateProductsCsv(csv, { rows, seed: 42 });
const mb = statSync(csv).size / 1024 ** 2;

const database = await openBenchDatabase('lading_bench_cli');
const service = await startServiceProcess({ DATABASE_URL: database.connectionString, DATA_DIR: path.join(dir, 'service') });

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function viaCli(key: string): Promise<number> {
  const started = performance.now();
  const result = await run(process.execPath, ['bin/lading.js', 'import', csv, '--json', '--url', service.url, '--api-key', key]);
  const seconds = (performance.now() - started) / 1000;
  if (result.code !== 0) throw new Error(`lading import exited ${result.code}: ${result.stderr}`);
  return seconds;
}

async function viaCurl(key: string): Promise<number> {
  const stream = new WebSocket(`${service.url.replace('http', 'ws')}/v1/events`, { headers: { authorization: `Bearer ${key}` } });
  await new Promise((resolve, reject) => stream.once('open', resolve).once('error', reject));
  const finished = new Promise<{ id: string; status: string }>((resolve) => {
    stream.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; import: { id: string; status: string } };
      if (message.type === 'finished') resolve(message.import);
    });
  });
  const started = performance.now();
  const result = await run('curl', ['-sS', '-f', '-X', 'POST', '-T', csv, '-H', `authorization: Bearer ${key}`, '-H', 'content-type: text/csv', `${service.url}/v1/imports`]);
  if (result.code !== 0) throw new Error(`curl exited ${result.code}: ${result.stderr}`);
  const final = await finished;
  const seconds = (performance.now() - started) / 1000;
  stream.close();
  if (final.status !== 'succeeded') throw new Error(`import ${final.id} ${final.status}`);
  return seconds;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const times: Record<'cli' | 'curl', number[]> = { cli: [], curl: [] };
try {
  console.log(`${rows.toLocaleString('en-US')} rows, ${mb.toFixed(1)} MB, ${runs} runs each after a warm-up`);
  await viaCurl(await createBenchKey(database.pool));
  for (let i = 0; i < runs; i++) {
    const pair = [
      ['cli', viaCli],
      ['curl', viaCurl],
    ] as const;
    for (const [name, measure] of i % 2 === 0 ? pair : [...pair].reverse()) {
      const seconds = await measure(await createBenchKey(database.pool));
      times[name].push(seconds);
      console.log(`run ${i + 1} ${name.padEnd(4)} ${seconds.toFixed(2)} s  ${Math.round(rows / seconds).toLocaleString('en-US')} rows/s`);
    }
  }
  for (const name of ['cli', 'curl'] as const) {
    const m = median(times[name]);
    console.log(`median ${name.padEnd(4)} ${m.toFixed(2)} s  ${Math.round(rows / m).toLocaleString('en-US')} rows/s`);
  }
  const ratio = median(times.cli) / median(times.curl);
  console.log(`cli / curl: ${ratio.toFixed(3)} (${ratio > 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)} %)`);
} finally {
  await service.stop();
  await database.stop();
  await rm(dir, { recursive: true, force: true });
}
