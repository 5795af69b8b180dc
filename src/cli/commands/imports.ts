import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.ts';
import { cell, clientOf, collectPages, positiveInteger, printFields, printJson, printTable } from './output.ts';

const STATUSES = ['queued', 'processing', 'succeeded', 'failed', 'cancelled'];

// biome-ignore lint/suspicious/noExplicitAny: an import as GET /v1/imports/{id} returns it
type ImportView = Record<string, any>;

export function registerImportsCommands(program: Command): void {
  const imports = program
    .command('imports')
    .description('List, inspect and cancel imports; download their rejected rows')
    .addHelpText('after', '\nExamples:\n  lading imports list --status failed\n  lading imports show 0b9c…\n  lading imports errors 0b9c… -o errors.csv');

  imports
    .command('list')
    .description('The imports of your tenant, newest first')
    .option('--status <status>', `only imports with this status (${STATUSES.join(', ')})`)
    .option('--source <source>', 'only imports of this source (upload option --source)')
    .option('--limit <n>', 'show at most this many imports (default: 20); with --all, how many per request', positiveInteger)
    .option('--all', 'show every import (follows the pages to the end)')
    .option('--json', 'print {items, next_cursor} as JSON')
    .action(async (options: { status?: string; source?: string; limit?: number; all?: boolean; json?: boolean }, command: Command) => {
      const client = clientOf(command);
      const page = await collectPages<ImportView>(
        client,
        '/v1/imports',
        { status: options.status, source: options.source },
        { limit: options.limit, all: Boolean(options.all), pageMax: 100 },
      );
      if (options.json) return printJson(page);
      if (page.items.length === 0) {
        process.stdout.write('No imports.\n');
        return;
      }
      printTable(
        ['ID', 'STATUS', 'CREATED', 'ROWS', 'INSERTED', 'UPDATED', 'REJECTED', 'SOURCE', 'FILE'],
        page.items.map((imp) => [
          imp.id,
          imp.status,
          imp.created_at,
          String(imp.rows_processed),
          String(imp.rows_inserted),
          String(imp.rows_updated),
          String(imp.rows_rejected),
          cell(imp.source),
          cell(imp.filename),
        ]),
      );
      if (page.next_cursor) process.stdout.write(`More imports: raise --limit or pass --all.\n`);
    });

  imports
    .command('show')
    .description('One import: status, counts, options and timing')
    .argument('<id>', 'the import id')
    .option('--json', 'print the import as the API returns it')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const imp = (await clientOf(command).json(`/v1/imports/${encodeURIComponent(id)}`)) as ImportView;
      if (options.json) return printJson(imp);
      printImport(imp);
    });

  imports
    .command('cancel')
    .description('Cancel a queued or processing import (rows already committed stay); exit 1 if it has already ended')
    .argument('<id>', 'the import id')
    .option('--json', 'print the cancelled import as JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const imp = (await clientOf(command).json(`/v1/imports/${encodeURIComponent(id)}/cancel`, { method: 'POST' })) as ImportView;
      if (options.json) return printJson(imp);
      process.stdout.write(`Cancelled import ${imp.id}: ${imp.rows_inserted + imp.rows_updated + imp.rows_unchanged} rows committed before it stopped.\n`);
    });

  imports
    .command('errors')
    .description("Download an import's rejected rows as CSV (its columns plus `error`), streamed to a file or stdout")
    .argument('<id>', 'the import id')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(async (id: string, options: { output?: string }, command: Command) => {
      const response = await clientOf(command).fetch(`/v1/imports/${encodeURIComponent(id)}/errors.csv`);
      const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
      if (!options.output) {
        await pipeline(body, stdoutWithoutEnd());
        return;
      }
      const file = options.output;
      let bytes = 0;
      body.on('data', (chunk: Buffer) => (bytes += chunk.length));
      try {
        await pipeline(body, createWriteStream(file));
      } catch (error) {
        await rm(file, { force: true });
        const code = (error as NodeJS.ErrnoException).code;
        throw new CliError(`Cannot write ${file}: ${code ?? (error as Error).message}`, EXIT.failed);
      }
      process.stderr.write(`Wrote the rejected rows of import ${id} to ${file} (${bytes} bytes).\n`);
    });
}

/** stdout as a pipeline's end that is never closed (and honours back-pressure). */
function stdoutWithoutEnd(): Writable {
  return new Writable({
    write(chunk, _encoding, callback) {
      if (process.stdout.write(chunk)) callback();
      else process.stdout.once('drain', () => callback());
    },
  });
}

function printImport(imp: ImportView): void {
  const seconds = imp.started_at && imp.finished_at ? (Date.parse(imp.finished_at) - Date.parse(imp.started_at)) / 1000 : undefined;
  printFields([
    ['id', imp.id],
    ['status', imp.status],
    ['file', imp.filename],
    ['bytes', imp.bytes],
    ['source', imp.source],
    ['rows processed', imp.rows_processed],
    ['inserted', imp.rows_inserted],
    ['updated', imp.rows_updated],
    ['unchanged', imp.rows_unchanged],
    ['rejected', imp.rows_rejected],
    ['error', imp.error],
    ['warnings', imp.warnings],
    ['options', imp.options && Object.keys(imp.options).length ? imp.options : null],
    ['encoding', imp.encoding],
    ['delimiter', imp.delimiter],
    ['created', imp.created_at],
    ['started', imp.started_at],
    ['finished', imp.finished_at],
    ['duration', seconds === undefined ? null : `${seconds.toFixed(1)} s`],
  ]);
  if (imp.rows_rejected > 0) process.stdout.write(`\nRejected rows: lading imports errors ${imp.id} -o errors.csv\n`);
}
