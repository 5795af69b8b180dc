import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, runScript, waitForOutput } from './helpers/child-process.ts';
import { readJson, startTestService, type TestService } from './helpers/test-service.ts';

// `lading import FILE` as a user runs it: child processes against a real service, piped, under a
// pseudo-terminal (`script`), through a proxy that drops the event stream, and interrupted.

type Run = { code: number | null; stdout: string; stderr: string };

const cliEnv = { LADING_URL: undefined, LADING_API_KEY: undefined, DATA_DIR: undefined };

async function lading(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const child = runScript('bin/lading.js', args, { ...cliEnv, ...env });
  const code = await child.exited;
  return { code, stdout: child.stdout(), stderr: child.stderr() };
}

const shellQuote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/** `lading ARGS` under a pseudo-terminal (util-linux `script`), its stdin a pipe the test can type into. */
function ladingInTerminal(args: string[]) {
  // exec: the shell script(1) starts (dash when SHELL is unset, as in CI) must not stay as the parent, or
  // Ctrl-C kills it too and script ends with its 130 while lading is still asking.
  const command = `exec ${[process.execPath, 'bin/lading.js', ...args].map(shellQuote).join(' ')}`;
  const env: Record<string, string | undefined> = { ...process.env, ...cliEnv, COLUMNS: '120', TERM: 'xterm' };
  delete env.DATABASE_URL;
  return collect(spawn('script', ['-qfec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] }));
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences
const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

const HEADER = 'sku,name,description,price,currency,quantity,category,status,updated_at';
function productsCsv(rows: number, prefix = 'BIG'): string {
  const lines = [HEADER];
  for (let i = 0; i < rows; i++) lines.push(`${prefix}-${i},Product ${i},,${(i % 100) + 0.99},EUR,${i % 50},things,active,2024-05-01T12:00:00Z`);
  return `${lines.join('\n')}\n`;
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let service: TestService;
let key: string;
let dir: string;
let big: string; // 50,000 rows
const flags = () => ['--url', service.url, '--api-key', key];

async function importView(id: string) {
  return readJson(await service.request(`/v1/imports/${id}`, { key }));
}

beforeAll(async () => {
  service = await startTestService({ BATCH_SIZE: '500' });
  ({ key } = await service.createTenant('cli-import'));
  dir = await mkdtemp(path.join(os.tmpdir(), 'lading-cli-import-'));
  big = path.join(dir, 'big.csv');
  await writeFile(big, productsCsv(50_000));
});
afterAll(async () => {
  await service?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('lading import: results and exit codes', () => {
  it('--json: rejected rows exit 3 with the counts of GET /v1/imports/ID; --allow-rejects exits 0', async () => {
    const run = await lading(['import', 'fixtures/products-invalid-rows.csv', '--json', ...flags()]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(3);
    const result = JSON.parse(run.stdout);
    expect(result.exit_code).toBe(3);
    const view = await importView(result.import.id);
    expect(view.status).toBe('succeeded');
    expect(view.rows_rejected).toBeGreaterThan(0);
    expect(result.import).toEqual(view);
    expect(view.filename).toBe('products-invalid-rows.csv');

    const allowed = await lading(['import', 'fixtures/products-invalid-rows.csv', '--json', '--allow-rejects', ...flags()]);
    expect(allowed).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(allowed.stdout)).toMatchObject({ exit_code: 0, import: { status: 'succeeded', rows_rejected: view.rows_rejected } });
  });

  it('a clean file exits 0 with a summary', async () => {
    const run = await lading(['import', 'fixtures/products-valid.csv', ...flags()]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const id = run.stdout.match(/^import (\S+) queued$/m)![1]!;
    const view = await importView(id);
    expect(view).toMatchObject({ status: 'succeeded', rows_rejected: 0 });
    expect(run.stdout).toMatch(new RegExp(`^Import ${id} succeeded in \\d+\\.\\d s \\([\\d,]+ rows/s\\)$`, 'm'));
    expect(run.stdout).toContain(
      `  rows: ${view.rows_processed} processed, ${view.rows_inserted} inserted, ${view.rows_updated} updated, ${view.rows_unchanged} unchanged, 0 rejected\n`,
    );
    expect(run.stdout).not.toContain('lading imports errors');
  });

  it('the summary of rejected rows says how to get them', async () => {
    const run = await lading(['import', 'fixtures/products-invalid-rows.csv', ...flags()]);
    expect(run.code).toBe(3);
    const id = run.stdout.match(/^import (\S+) queued$/m)![1]!;
    expect(run.stdout).toContain(`  rejected rows: lading imports errors ${id} -o errors.csv\n`);
  });

  it('a failing import (no sku column) exits 1 with the reason on stderr', async () => {
    const file = path.join(dir, 'no-sku.csv');
    await writeFile(file, 'title,cost\nA,1\n');
    const run = await lading(['import', file, '--json', ...flags()]);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout);
    const view = await importView(result.import.id);
    expect(view.status).toBe('failed');
    expect(view.error).toMatch(/sku/);
    expect(run.stderr).toBe(`lading: import ${view.id} failed: ${view.error}\n`);
  });

  it('usage and connection mistakes exit 2 with a clear message', async () => {
    const missing = await lading(['import', path.join(dir, 'nope.csv'), ...flags()]);
    expect(missing).toEqual({ code: 2, stdout: '', stderr: `lading: Cannot read ${path.join(dir, 'nope.csv')}: no such file\n` });

    const noArgument = await lading(['import', ...flags()]);
    expect(noArgument.code).toBe(2);
    expect(noArgument.stderr).toMatch(/^error: missing required argument 'file'\n/);

    const badMapping = await lading(['import', 'fixtures/products-valid.csv', '--mapping', '{"sku":', ...flags()]);
    expect(badMapping.code).toBe(2);
    expect(badMapping.stderr).toMatch(/^lading: --mapping is not valid JSON: .+\n$/);

    const arrayMapping = await lading(['import', 'fixtures/products-valid.csv', '--mapping', '[1]', ...flags()]);
    expect(arrayMapping).toMatchObject({ code: 2, stderr: 'lading: --mapping must be a JSON object of file column → field (or null)\n' });

    const closed = await closedPort();
    const unreachable = await lading(['import', 'fixtures/products-valid.csv', '--url', `http://127.0.0.1:${closed}`, '--api-key', key]);
    expect(unreachable).toEqual({ code: 2, stdout: '', stderr: `lading: Cannot reach http://127.0.0.1:${closed}: ECONNREFUSED\n` });

    const badKey = await lading(['import', 'fixtures/products-valid.csv', '--url', service.url, '--api-key', 'nope']);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/^lading: .+ \(401 unauthorized, request \S+\)\n$/);
  });

  it('a refusal that comes while the file is still being sent is reported as such (401 on a 4.6 MB file)', async () => {
    const run = await lading(['import', big, '--url', service.url, '--api-key', 'nope']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^lading: .+ \(401 unauthorized, request \S+\)\n$/);
  });
});

describe('lading import: other file types', () => {
  it('an .xlsx workbook is sent as one and imported (no percent: its rows are not counted)', async () => {
    const book = new ExcelJS.Workbook();
    const sheet = book.addWorksheet('Products');
    sheet.addRow(HEADER.split(','));
    for (let i = 0; i < 3; i++) sheet.addRow([`XLSX-${i}`, `Sheet product ${i}`, '', 9.5 + i, 'EUR', i, 'things', 'active', '2024-05-01T12:00:00Z']);
    const file = path.join(dir, 'feed.xlsx');
    await writeFile(file, Buffer.from(await book.xlsx.writeBuffer()));
    const run = await lading(['import', file, '--json', ...flags()]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const result = JSON.parse(run.stdout);
    expect(result.import).toMatchObject({ status: 'succeeded', filename: 'feed.xlsx', rows_inserted: 3, rows_rejected: 0 });
    const product = await readJson(await service.request('/v1/products/XLSX-2', { key }));
    expect(product).toMatchObject({ sku: 'XLSX-2', name: 'Sheet product 2', quantity: 2 });
  });
});

describe('lading import: options reach the import', () => {
  it('--mapping (JSON and @file), --source, --dry-run, --atomic, --max-errors, --template', async () => {
    const file = path.join(dir, 'renamed.csv');
    await writeFile(file, 'Art.-Nr.,Bezeichnung,Preis\nMAP-1,Mapped one,1.50\nMAP-2,Mapped two,2.50\n');
    const mapping = { 'Art.-Nr.': 'sku', Bezeichnung: 'name', Preis: 'price' };
    const run = await lading(['import', file, '--json', '--mapping', JSON.stringify(mapping), '--source', 'acme', '--dry-run', '--atomic', '--max-errors', '7', ...flags()]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const view = await importView(JSON.parse(run.stdout).import.id);
    expect(view).toMatchObject({ status: 'succeeded', source: 'acme', rows_inserted: 2 });
    expect(view.mapping).toEqual(mapping);
    expect(view.options).toMatchObject({ dry_run: true, atomic: true, max_errors: 7, template: null });
    expect(await readJson(await service.request('/v1/products/MAP-1', { key }))).toMatchObject({ error: { code: 'not_found' } }); // dry run

    const mappingFile = path.join(dir, 'mapping.json');
    await writeFile(mappingFile, JSON.stringify(mapping));
    const fromFile = await lading(['import', file, '--json', '--mapping', `@${mappingFile}`, ...flags()]);
    expect(fromFile).toMatchObject({ code: 0, stderr: '' });
    const written = await importView(JSON.parse(fromFile.stdout).import.id);
    expect(written.mapping).toEqual(mapping);
    expect(written.options).toMatchObject({ dry_run: false, atomic: false, max_errors: null });
    expect(written.source).toBeNull();
    expect(await readJson(await service.request('/v1/products/MAP-1', { key }))).toMatchObject({ sku: 'MAP-1', name: 'Mapped one' });

    const template = await service.request('/v1/templates', {
      method: 'POST',
      key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'german', mapping }),
    });
    expect(template.status).toBe(201);
    const viaTemplate = await lading(['import', file, '--json', '--template', 'german', ...flags()]);
    expect(viaTemplate).toMatchObject({ code: 0, stderr: '' });
    const templated = await importView(JSON.parse(viaTemplate.stdout).import.id);
    expect(templated.mapping).toEqual(mapping);
    expect(templated.options).toMatchObject({ template: 'german' });
  });
});

describe('lading import: progress', () => {
  it('piped: a progress line every interval, then the summary', async () => {
    const run = await lading(['import', big, ...flags()], { LADING_PROGRESS_INTERVAL_MS: '100' });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const progress = [...run.stdout.matchAll(/^processed ([\d,]+) rows \((\d+) %\), [\d,]+ rows\/s$/gm)];
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)![0]).toMatch(/^processed 50,000 rows \(100 %\)/);
    expect(run.stdout).toMatch(/^uploaded \d+\.\d MB in \d+\.\d s$/m);
    expect(run.stdout).toMatch(/^ {2}rows: 50,000 processed, 50,000 inserted, 0 updated, 0 unchanged, 0 rejected$/m);
  });

  it('a .gz file is sent as application/octet-stream (the service sniffs gzip); no percent without a line count', async () => {
    const file = path.join(dir, 'feed.csv.gz');
    await writeFile(file, gzipSync(productsCsv(20_000, 'GZ')));
    const run = await lading(['import', file, ...flags()], { LADING_PROGRESS_INTERVAL_MS: '20' });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^processed [\d,]+ rows, [\d,]+ rows\/s$/m);
    expect(run.stdout).not.toMatch(/^processed .* %/m);
    expect(run.stdout).toMatch(/^ {2}rows: 20,000 processed, 20,000 inserted, 0 updated, 0 unchanged, 0 rejected$/m);
  });

  it('on a terminal: the upload bar and the processing bar reaching 100 %', async () => {
    const file = path.join(dir, 'tty.csv');
    await writeFile(file, productsCsv(20_000, 'TTY'));
    const child = ladingInTerminal(['import', file, ...flags()]);
    child.process.stdin!.end();
    expect(await child.exited).toBe(0);
    const screen = stripAnsi(child.stdout());
    expect(screen).toMatch(/upload {5}\[[█░]+\] 100% \| \d+\.\d\/\d+\.\d MB \| [\d.]+ MB\/s/);
    expect(screen).toMatch(/processing \[█+\] 100% \| 20,000\/20,000 rows \| [\d,]+ rows\/s/);
    expect(screen).toMatch(/Import \S+ succeeded in/);
  });
});

/** A TCP proxy to the service that can cut every event-stream connection passing through it. */
async function startProxy(target: string) {
  const { port } = new URL(target);
  const streams = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), '127.0.0.1');
    client.once('data', (first) => {
      if (/^GET \/v1\/imports\/[^/]+\/events /.test(first.toString('latin1'))) streams.add(client);
      upstream.write(first);
      client.pipe(upstream).pipe(client);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      streams.delete(client);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let cut = 0;
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    get cut() {
      return cut;
    },
    dropStreams() {
      for (const socket of streams) {
        socket.destroy();
        cut++;
      }
      streams.clear();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A 50,000-row import through the proxy, once its first progress line is out. */
async function importThroughProxy(proxy: { url: string }, prefix: string) {
  const file = path.join(dir, `${prefix.toLowerCase()}.csv`);
  await writeFile(file, productsCsv(50_000, prefix));
  const child = runScript('bin/lading.js', ['import', file, '--url', proxy.url, '--api-key', key], {
    ...cliEnv,
    LADING_PROGRESS_INTERVAL_MS: '50',
    LADING_RECONNECT_BACKOFF_MS: '20',
  });
  await waitForOutput(child, /^processed [1-9][\d,]* rows/m, 30_000);
  return child;
}

describe('lading import: the event stream', () => {
  it('reconnects when its stream drops and still ends with the right result', async () => {
    const proxy = await startProxy(service.url);
    try {
      const child = await importThroughProxy(proxy, 'RECONNECT');
      proxy.dropStreams();
      expect(proxy.cut).toBeGreaterThan(0);
      expect(await child.exited).toBe(0);
      expect(child.stderr()).toBe('');
      expect(child.stdout()).toMatch(/^event stream lost; reconnecting \(1\/6\)$/m);
      expect(child.stdout()).toMatch(/^ {2}rows: 50,000 processed, 50,000 inserted, 0 updated, 0 unchanged, 0 rejected$/m);
    } finally {
      await proxy.close();
    }
  });

  it('gives up with exit 2 when the service stays unreachable', async () => {
    const proxy = await startProxy(service.url);
    const child = await importThroughProxy(proxy, 'LOST');
    const closing = proxy.close(); // no new connection gets through…
    proxy.dropStreams(); // …and the open one is cut
    await closing;
    expect(await child.exited).toBe(2);
    expect(child.stdout()).toMatch(/^event stream lost; reconnecting \(6\/6\)$/m);
    const id = child.stdout().match(/^import (\S+) queued$/m)![1]!;
    expect(child.stderr()).toBe(
      `lading: Lost the event stream of import ${id} (${proxy.url} unreachable after 6 attempts); the import goes on: see \`lading imports show ${id}\`\n`,
    );
    await service.waitForImport(key, id);
  });

  it('Ctrl-C on a terminal, answered "c": the import is cancelled, exit 1', async () => {
    const file = path.join(dir, 'cancel.csv');
    await writeFile(file, productsCsv(200_000, 'CANCEL'));
    const child = ladingInTerminal(['import', file, ...flags()]);
    await waitForOutput(child, /processing \[/, 30_000);
    child.process.stdin!.write('\x03');
    await waitForOutput(child, /Cancel the import, or just stop watching\? \[c\/w\] /, 10_000);
    child.process.stdin!.write('c\n');
    expect(await child.exited).toBe(1);
    const id = stripAnsi(child.stdout()).match(/import (\S+) queued/)![1]!;
    expect(await importView(id)).toMatchObject({ status: 'cancelled' });
    expect(stripAnsi(child.stdout())).toContain(`lading: import ${id} was cancelled`);
  });
});

describe('lading import: Ctrl-C while uploading', () => {
  it('stops the upload, exits 1, and the service keeps nothing of it', async () => {
    const { key: ownKey } = await service.createTenant('cli-stall');
    const file = path.join(dir, 'stall.csv');
    await writeFile(file, productsCsv(200_000, 'STALL'));
    // A proxy that passes the first chunk of the body on, then stops reading: the upload hangs.
    // Once lading has exited, it passes on what was left in the connection, as a network would.
    const { port } = new URL(service.url);
    const sockets = new Set<net.Socket>();
    const stalled: Array<() => void> = [];
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(port), '127.0.0.1');
      sockets.add(client).add(upstream);
      client.once('data', (first) => {
        upstream.write(first);
        client.pause();
        stalled.push(() => client.pipe(upstream));
      });
      upstream.pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
      const child = runScript('bin/lading.js', ['import', file, '--url', proxyUrl, '--api-key', ownKey], { ...cliEnv, LADING_PROGRESS_INTERVAL_MS: '50' });
      await waitForOutput(child, /^uploaded [\d.]+ of [\d.]+ MB/m, 30_000);
      const deadline = Date.now() + 10_000;
      while ((await service.uploadedFiles()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(await service.uploadedFiles()).not.toEqual([]); // the service is receiving it

      child.process.kill('SIGINT');
      expect(await child.exited).toBe(1);
      expect(child.stderr()).toBe('lading: Upload stopped: the service got part of the file and imported nothing\n');
      for (const release of stalled) release();
      while ((await service.uploadedFiles()).length > 0 && Date.now() < deadline + 10_000) await new Promise((r) => setTimeout(r, 20));
      expect(await service.uploadedFiles()).toEqual([]);
      expect((await readJson(await service.request('/v1/imports', { key: ownKey }))).items).toEqual([]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

describe('lading import: Ctrl-C while following', () => {
  it('answered "w": stops watching with exit 130, and the import goes on to the end', async () => {
    const file = path.join(dir, 'watch.csv');
    await writeFile(file, productsCsv(200_000, 'WATCH'));
    const child = ladingInTerminal(['import', file, ...flags()]);
    await waitForOutput(child, /processing \[/, 30_000);
    child.process.stdin!.write('\x03');
    await waitForOutput(child, /Cancel the import, or just stop watching\? \[c\/w\] /, 10_000);
    child.process.stdin!.write('w\n');
    expect(await child.exited).toBe(130);
    const id = stripAnsi(child.stdout()).match(/import (\S+) queued/)![1]!;
    expect(stripAnsi(child.stdout())).toContain(`Stopped watching; import ${id} goes on. Follow it with \`lading imports show ${id}\`.`);
    expect(await service.waitForImport(key, id)).toMatchObject({ status: 'succeeded', rows_inserted: 200_000 });
  });
});

describe('lading import --help', () => {
  it('describes every option', async () => {
    const run = await lading(['import', '--help']);
    expect(run.code).toBe(0);
    for (const option of ['--template', '--source', '--mapping', '--dry-run', '--atomic', '--max-errors', '--allow-rejects', '--json']) {
      expect(run.stdout).toContain(option);
    }
  });
});
