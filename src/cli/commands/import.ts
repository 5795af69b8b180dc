import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { CliClient } from '../cli-client.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { createDisplay, type Display, formatCount } from '../import-display.ts';
import { followImport, type ImportView } from '../import-follow.ts';
import { uploadFile } from '../import-upload.ts';
import { clientOf, positiveInteger } from './output.ts';

// `lading import FILE`: upload (bar: bytes, MB/s, ETA), follow the import's event stream (bar:
// rows, rows/s, ETA), then a summary; the exit code says how it ended (0, 1, 2, 3: see EXIT).

type ImportFlags = {
  template?: string;
  source?: string;
  mapping?: string;
  dryRun?: boolean;
  atomic?: boolean;
  maxErrors?: number;
  allowRejects?: boolean;
  json?: boolean;
};

/** Ctrl-C while following: stop watching and leave the import running. */
export const EXIT_INTERRUPTED = 130;

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('Upload a CSV, .csv.gz or .xlsx file, follow the import live and print a summary')
    .argument('<file>', 'the file to import (.csv, .gz or .xlsx; streamed, never read whole)')
    .option('--template <name>', "apply a saved template's mapping and options (options given here win)")
    .option('--source <name>', 'the supplier or feed the file comes from (compared with its previous import for schema drift)')
    .option('--mapping <json|@file>', 'column mapping as JSON ({"file column": "field" | null}), or @path of a JSON file')
    .option('--dry-run', 'check everything and count what would change; no product is written')
    .option('--atomic', 'all or nothing: no product changes unless the whole import succeeds')
    .option('--max-errors <n>', 'fail the import once more than N records are rejected', positiveInteger)
    .option('--allow-rejects', 'exit 0 (not 3) when the import succeeded with rejected rows')
    .option('--json', 'print one JSON document at the end ({import, exit_code}) and no progress')
    .addHelpText(
      'after',
      `
On a terminal two bars show the upload and the processing; piped, a progress line is printed every
few seconds. Ctrl-C while following asks whether to cancel the import or just stop watching
(without a terminal it stops watching); stopping watching exits ${EXIT_INTERRUPTED}, the import goes on.

Exit codes: 0 succeeded with no rejected rows (or --allow-rejects), 1 failed or cancelled,
2 wrong usage or the service could not be reached, 3 succeeded with rejected rows.

Examples:
  lading import products.csv
  lading import feed.csv.gz --source acme --mapping '{"Art.-Nr.": "sku"}'
  lading import feed.xlsx --template acme --dry-run --json | jq .import.rows_rejected`,
    )
    .action(async (file: string, flags: ImportFlags, command: Command) => {
      const code = await runImport(clientOf(command), file, flags);
      process.exit(code);
    });
}

function parseMapping(value: string): string {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (error) {
      throw new CliError(`Cannot read the --mapping file ${value.slice(1)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, EXIT.usage);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError(`--mapping is not valid JSON: ${(error as Error).message}`, EXIT.usage);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError('--mapping must be a JSON object of file column → field (or null)', EXIT.usage);
  }
  return JSON.stringify(parsed);
}

function queryOf(flags: ImportFlags): URLSearchParams {
  const query = new URLSearchParams();
  if (flags.template !== undefined) query.set('template', flags.template);
  if (flags.source !== undefined) query.set('source', flags.source);
  if (flags.mapping !== undefined) query.set('mapping', parseMapping(flags.mapping));
  if (flags.dryRun) query.set('dry_run', 'true');
  if (flags.atomic) query.set('atomic', 'true');
  if (flags.maxErrors !== undefined) query.set('max_errors', String(flags.maxErrors));
  return query;
}

export function exitCodeOf(view: ImportView, allowRejects: boolean): number {
  if (view.status !== 'succeeded') return EXIT.failed;
  return view.rows_rejected > 0 && !allowRejects ? EXIT.rejected : EXIT.ok;
}

async function runImport(client: CliClient, file: string, flags: ImportFlags): Promise<number> {
  const query = queryOf(flags); // usage mistakes before anything is sent
  const mode = flags.json ? 'quiet' : process.stdout.isTTY ? 'bars' : 'lines';
  const interval = Number(process.env.LADING_PROGRESS_INTERVAL_MS) || 2000;
  const display = createDisplay(mode, process.stdout, interval);

  let upload: Awaited<ReturnType<typeof uploadFile>>;
  let started = false;
  // Ctrl-C while uploading stops the upload (nothing is imported: exit 1). Once the whole file is
  // sent the import may exist already: the interruption is then handled like one while following
  // (a test presses Ctrl-C as soon as the processing bar shows, before following has begun).
  const stopUpload = new AbortController();
  const interruptUpload = () => stopUpload.abort();
  process.on('SIGINT', interruptUpload);
  try {
    upload = await uploadFile(
      client,
      file,
      query,
      ({ bytes, total }) => {
        if (!started) {
          started = true;
          display.uploadStarted(total);
        }
        display.uploaded(bytes);
      },
      stopUpload.signal,
    );
  } catch (error) {
    process.off('SIGINT', interruptUpload);
    throw error;
  } finally {
    display.stop();
  }
  display.uploadDone(upload.bytes, upload.ms);
  const id: string = upload.view.id;
  display.say(`import ${id} queued`);

  display.processingStarted(upload.rows);
  const follower = followImport(client.config, id, {
    onUpdate: (view) => display.processing(view),
    backoffMs: Number(process.env.LADING_RECONNECT_BACKOFF_MS) || undefined,
    onReconnect: (attempt, max) => {
      if (mode === 'lines') display.say(`event stream lost; reconnecting (${attempt}/${max})`);
    },
  });
  const interrupted = onInterrupt(client, id, display, follower.stop, mode);
  // Until here a Ctrl-C only aborted stopUpload (there is no moment without a handler, in which
  // Ctrl-C would kill the process): it is answered now.
  process.off('SIGINT', interruptUpload);
  if (stopUpload.signal.aborted) interrupted.now();
  let view: ImportView;
  try {
    view = await Promise.race([follower.done, interrupted.promise]);
  } finally {
    interrupted.dispose();
    display.stop();
  }
  if (view === STOPPED_WATCHING) {
    display.say(`Stopped watching; import ${id} goes on. Follow it with \`lading imports show ${id}\`.`);
    if (mode === 'quiet') process.stdout.write(`${JSON.stringify({ import: { id }, exit_code: EXIT_INTERRUPTED, watching: false }, null, 2)}\n`);
    return EXIT_INTERRUPTED;
  }
  display.processingDone(view);
  const code = exitCodeOf(view, flags.allowRejects ?? false);
  if (flags.json) process.stdout.write(`${JSON.stringify({ import: view, exit_code: code }, null, 2)}\n`);
  else printSummary(display, view);
  if (view.status === 'failed') process.stderr.write(`lading: import ${id} failed: ${view.error ?? 'no reason given'}\n`);
  if (view.status === 'cancelled') process.stderr.write(`lading: import ${id} was cancelled\n`);
  return code;
}

function printSummary(display: Display, view: ImportView): void {
  const started = view.started_at ? Date.parse(view.started_at) : Date.parse(view.created_at);
  const seconds = Math.max((Date.parse(view.finished_at ?? new Date().toISOString()) - started) / 1000, 0.001);
  const rate = formatCount(view.rows_processed / seconds);
  display.say(`Import ${view.id} ${view.status} in ${seconds.toFixed(1)} s (${rate} rows/s)${view.options?.dry_run ? ' — dry run: no product was written' : ''}`);
  display.say(
    `  rows: ${formatCount(view.rows_processed)} processed, ${formatCount(view.rows_inserted)} inserted, ${formatCount(view.rows_updated)} updated, ${formatCount(view.rows_unchanged)} unchanged, ${formatCount(view.rows_rejected)} rejected`,
  );
  for (const warning of view.warnings ?? []) display.say(`  warning: ${warning}`);
  if (view.rows_rejected > 0) display.say(`  rejected rows: lading imports errors ${view.id} -o errors.csv`);
}

const STOPPED_WATCHING = Symbol('stopped watching');

/**
 * SIGINT while following. On a terminal: ask "cancel or just stop watching?"; `c` cancels the
 * import (following goes on until its `finished`: cancelled), `w` stops watching. Without a
 * terminal (or with --json, or a second Ctrl-C): stop watching.
 */
function onInterrupt(client: CliClient, id: string, display: Display, stopFollowing: () => void, mode: string) {
  let resolveStopped: (value: typeof STOPPED_WATCHING) => void = () => {};
  const promise = new Promise<typeof STOPPED_WATCHING>((resolve) => (resolveStopped = resolve));
  let asking = false;
  const stopWatching = () => {
    stopFollowing();
    resolveStopped(STOPPED_WATCHING);
  };
  const handler = async () => {
    if (asking || !process.stdin.isTTY || mode === 'quiet') {
      stopWatching();
      return;
    }
    asking = true;
    display.stop();
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      for (;;) {
        const answer = (await rl.question('\nCancel the import, or just stop watching? [c/w] ')).trim().toLowerCase();
        if (answer.startsWith('c')) {
          await client.json(`/v1/imports/${id}/cancel`, { method: 'POST' }).catch((error: Error) => {
            process.stderr.write(`lading: ${error.message}\n`);
          });
          display.say(`Cancelling import ${id}…`);
          break;
        }
        if (answer.startsWith('w')) {
          stopWatching();
          break;
        }
      }
    } finally {
      rl.close();
      asking = false;
    }
  };
  process.on('SIGINT', handler);
  return { promise, now: () => void handler(), dispose: () => process.off('SIGINT', handler) };
}
