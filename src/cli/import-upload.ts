import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { CliClient } from './cli-client.ts';
import { CliError, EXIT } from './exit-codes.ts';

// `lading import` step 1: stream the file to POST /v1/imports (never read whole), counting bytes
// and, for plain CSV, lines on the way: the server does not know how many rows a file has, so the
// processing bar takes its total from this count.

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** The Content-Type of an upload by its extension, as the console sends it (the server sniffs gzip). */
export function contentTypeOf(file: string): string {
  const name = file.toLowerCase();
  if (name.endsWith('.xlsx')) return XLSX_TYPE;
  if (name.endsWith('.gz')) return 'application/octet-stream';
  return 'text/csv';
}

export type UploadProgress = { bytes: number; total: number };

export type UploadResult = {
  // biome-ignore lint/suspicious/noExplicitAny: the API's import view, read loosely
  view: any;
  bytes: number;
  /** Data rows of a plain CSV (lines after the header), or undefined when it cannot be counted cheaply (.gz, .xlsx). */
  rows: number | undefined;
  ms: number;
};

/** The size of FILE, or a usage error (exit 2) saying why it cannot be read. */
export async function fileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new CliError(`${file} is not a file`, EXIT.usage);
    return info.size;
  } catch (error) {
    if (error instanceof CliError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(`Cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : ((error as Error).message ?? code)}`, EXIT.usage);
  }
}

export async function uploadFile(
  client: CliClient,
  file: string,
  query: URLSearchParams,
  onProgress: (progress: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<UploadResult> {
  const total = await fileSize(file);
  const type = contentTypeOf(file);
  const countLines = type === 'text/csv';
  let bytes = 0;
  let newlines = 0;
  let lastByte = 0x0a;
  // Bounded to the size sent as content-length, should the file grow while it uploads.
  const stream = createReadStream(file, { highWaterMark: 256 * 1024, ...(total > 0 ? { end: total - 1 } : {}) });
  stream.on('data', (chunk) => {
    const buffer = chunk as Buffer;
    bytes += buffer.length;
    if (countLines && buffer.length > 0) {
      let at = buffer.indexOf(0x0a);
      while (at !== -1) {
        newlines++;
        at = buffer.indexOf(0x0a, at + 1);
      }
      lastByte = buffer[buffer.length - 1]!;
    }
    onProgress({ bytes, total });
  });
  const started = performance.now();
  const view = await client.upload(`/v1/imports${query.size ? `?${query}` : ''}`, { 'content-type': type, 'content-length': String(total), 'x-filename': path.basename(file) }, stream, signal);
  // Lines after the header; a last line without its newline is a row too.
  const lines = newlines + (lastByte === 0x0a ? 0 : 1);
  return { view, bytes, rows: countLines ? Math.max(0, lines - 1) : undefined, ms: performance.now() - started };
}
