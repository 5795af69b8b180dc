import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger.ts';
import { FileLevelError } from './csv-header.ts';
import type { XlsxConversion, XlsxConverted } from './write-xlsx-as-csv.ts';

export type ConvertMessage = ({ type: 'converted' } & XlsxConverted) | { type: 'failed'; message: string };

/** The CSV an .xlsx import reads, next to the upload; the import's checkpoints are offsets in it. */
export const convertedCsvPath = (uploadPath: string) => `${uploadPath}.converted.csv`;
const partialPath = (uploadPath: string) => `${convertedCsvPath(uploadPath)}.partial`;
/** Where the conversion keeps the shared strings past its memory budget (write-xlsx-as-csv.ts). */
const stringsPath = (uploadPath: string) => `${partialPath(uploadPath)}.strings`;

/**
 * Converts an .xlsx upload's worksheet (options.sheet, else the first) to a UTF-8 CSV that the
 * import then reads exactly like an uploaded CSV, and returns its path. The conversion is written
 * under a temporary name and renamed once complete, so the CSV exists only whole: a job that
 * runs again (after a pause, a crash, a retry) reuses it, with or without a checkpoint, and one
 * that crashed mid-conversion converts again. Converting the same workbook gives the same bytes,
 * so a checkpoint stays valid even should the CSV have to be made again.
 * Returns null when the shutdown signal stopped it: the job's continuation converts again.
 */
export async function convertXlsxForImport(
  uploadPath: string,
  options: { sheet: string | null; headerRow: number },
  context: { log: Logger; signal: AbortSignal; compileCacheDir?: string },
): Promise<string | null> {
  const target = convertedCsvPath(uploadPath);
  if (existsSync(target)) {
    context.log.info('reusing the CSV converted from the workbook');
    return target;
  }
  const started = Date.now();
  const partial = partialPath(uploadPath);
  try {
    const converted = await convertInThread({ source: uploadPath, target: partial, ...options }, context);
    if (!converted) return null;
    await rename(partial, target);
    context.log.info({ sheet: converted.sheet, rows: converted.rows, ms: Date.now() - started }, 'workbook converted to CSV');
    return target;
  } finally {
    await rm(partial, { force: true });
    await rm(stringsPath(uploadPath), { force: true }); // left behind by a conversion stopped at shutdown
  }
}

/** Removes what a conversion left next to the upload (the CSV, or a partial one): when the import ends. */
export async function removeConvertedCsv(uploadPath: string): Promise<void> {
  await rm(convertedCsvPath(uploadPath), { force: true });
  await rm(partialPath(uploadPath), { force: true });
  await rm(stringsPath(uploadPath), { force: true });
}

/** Runs write-xlsx-as-csv.ts in a worker thread: the main thread keeps serving while a big sheet converts. */
function convertInThread(
  job: XlsxConversion,
  context: { signal: AbortSignal; compileCacheDir?: string },
): Promise<XlsxConverted | null> {
  if (context.signal.aborted) return Promise.resolve(null);
  const worker = new Worker(new URL('./convert-xlsx-worker.ts', import.meta.url), {
    workerData: job,
    ...(context.compileCacheDir ? { env: { ...process.env, NODE_COMPILE_CACHE: context.compileCacheDir } } : {}),
    // Its live data: a chunk of rows and some shared strings (≤ 8 MB, the rest in a file). Tight
    // limits keep V8 from letting garbage pile up: the conversion's peak stays below the import's.
    resourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 4 },
  });
  const stop = () => void worker.terminate();
  context.signal.addEventListener('abort', stop, { once: true });
  return new Promise<XlsxConverted | null>((resolve, reject) => {
    let outcome: ConvertMessage | undefined;
    let failure: Error | undefined;
    worker.on('message', (message: ConvertMessage) => (outcome = message));
    worker.once('error', (error) => (failure = error));
    worker.once('exit', (code) => {
      context.signal.removeEventListener('abort', stop);
      if (outcome?.type === 'converted') resolve({ sheet: outcome.sheet, rows: outcome.rows });
      else if (outcome?.type === 'failed') reject(new FileLevelError(outcome.message));
      else if (context.signal.aborted) resolve(null);
      else reject(failure ?? new Error(`the workbook conversion thread stopped unexpectedly (exit code ${code})`));
    });
  });
}
