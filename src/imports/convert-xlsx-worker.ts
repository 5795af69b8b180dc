import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ConvertMessage } from './convert-xlsx.ts';
import { WorkbookError, writeXlsxAsCsv, type XlsxConversion } from './write-xlsx-as-csv.ts';

// Worker thread: converts an .xlsx upload's worksheet to CSV (write-xlsx-as-csv.ts), off the main
// thread like the CSV parser. A problem with the file is reported as a message; anything else
// (a disk error) is thrown, and the job retries.

// Bulk work at a lower priority than the API (see record-parser-worker.ts); Linux only.
try {
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), 5);
} catch {
  // elsewhere, or not permitted: the same work at the same priority
}

const port = parentPort!;
try {
  const converted = await writeXlsxAsCsv(workerData as XlsxConversion);
  port.postMessage({ type: 'converted', ...converted } satisfies ConvertMessage);
} catch (error) {
  if (!(error instanceof WorkbookError)) throw error;
  port.postMessage({ type: 'failed', message: error.message } satisfies ConvertMessage);
}
