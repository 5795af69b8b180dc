import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import { ShuttingDownError, UploadRejectedError } from '../errors.ts';

export type UploadFormat = 'csv' | 'xlsx';

/** `fields`: multipart form fields sent before the file (upload options), as text. */
export type StoredUpload = {
  path: string;
  bytes: number;
  sha256: string;
  filename: string | null;
  format: UploadFormat;
  fields: Record<string, string>;
};

/**
 * The request, and under @hono/node-server the Node request it came from. The body is read from
 * the Node request when there is one: the web-stream wrapping (Node stream → web stream → Node
 * stream) cost a 75 MB upload ~70 MB of extra peak memory in buffers awaiting collection.
 */
export type UploadRequest = { request: Request; incoming?: IncomingMessage };

const RAW_CSV_TYPES = ['text/csv', 'text/plain', 'application/csv', 'application/octet-stream'];

/**
 * Streams an uploaded CSV (raw body or multipart field `file`) to `filePath`, hashing it on the
 * way, never holding it in memory. Whatever goes wrong (too large, client gone, bad form), the
 * partial file is removed before the error propagates.
 */
export async function storeUpload(
  { request, incoming }: UploadRequest,
  options: { filePath: string; maxBytes: number; signal?: AbortSignal },
): Promise<StoredUpload> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > options.maxBytes) throw tooLarge(options.maxBytes);
  // (Touching request.body would start the web-stream wrapping; a zero-byte body is refused below.)
  if (!incoming && !request.body) throw emptyUpload();

  const contentType = (request.headers.get('content-type') ?? '').toLowerCase();
  const mediaType = contentType.split(';')[0]!.trim();
  await mkdir(path.dirname(options.filePath), { recursive: true });
  const body = incoming ? readWithoutOwning(incoming) : Readable.fromWeb(request.body as WebReadableStream<Uint8Array>);
  // On shutdown an upload in progress is cut short with 503: the client can retry elsewhere.
  const onAbort = () => body.destroy(new ShuttingDownError('The server is shutting down: retry the upload shortly'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (mediaType === 'multipart/form-data') {
      return await storeMultipartFile(body, request.headers, options);
    }
    if (mediaType !== '' && !RAW_CSV_TYPES.includes(mediaType)) {
      throw new UploadRejectedError(
        'not_csv',
        `Content-Type ${mediaType} is not accepted: send text/csv, or multipart/form-data with a "file" field`,
      );
    }
    const stored = await writeHashed(body, options.filePath, options.maxBytes);
    return { ...stored, filename: sanitizeFilename(request.headers.get('x-filename')), fields: {} };
  } catch (error) {
    body.destroy();
    await rm(options.filePath, { force: true });
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The Node request's body as a stream the upload may destroy on failure without destroying the
 * request, whose socket still has to carry the error response. What the client still sends after
 * a failure is read and discarded; the server closes the connection once the response is out
 * (a test holds a client that never stops sending to that).
 */
function readWithoutOwning(incoming: IncomingMessage): Readable {
  const body = new PassThrough();
  incoming.pipe(body);
  incoming.once('error', (error) => body.destroy(error));
  body.once('close', () => {
    if (incoming.readableEnded) return;
    incoming.unpipe(body);
    incoming.resume();
  });
  return body;
}

async function storeMultipartFile(
  body: Readable,
  headers: Headers,
  options: { filePath: string; maxBytes: number },
): Promise<StoredUpload> {
  const parser = busboy({
    headers: Object.fromEntries(headers),
    limits: { files: 1, fileSize: options.maxBytes, fields: 20, parts: 25 },
  });
  let filePart: Readable | undefined;
  let writing: Promise<StoredUpload> | undefined;
  parser.on('file', (field, stream, info) => {
    if (field !== 'file' || filePart) {
      stream.resume(); // drain parts we do not use
      return;
    }
    filePart = stream;
    stream.on('limit', () => stream.destroy(tooLarge(options.maxBytes)));
    writing = writeHashed(stream, options.filePath, options.maxBytes).then((result) => ({
      ...result,
      filename: sanitizeFilename(info.filename),
      fields: {},
    }));
    writing.catch(() => {}); // awaited below
  });
  try {
    await pipeline(body, parser);
  } catch (error) {
    // Stop writing the file part, and let its write end, before the caller removes the file.
    filePart?.destroy();
    await writing?.catch(() => {});
    if (error instanceof UploadRejectedError || error instanceof ShuttingDownError) throw error;
    throw new UploadRejectedError('malformed', `Malformed multipart body: ${(error as Error).message}`);
  }
  if (!writing) throw new UploadRejectedError('malformed', 'The multipart form has no "file" field holding the CSV');
  return writing;
}

async function writeHashed(
  source: Readable,
  filePath: string,
  maxBytes: number,
): Promise<{ path: string; bytes: number; sha256: string; format: UploadFormat }> {
  const hash = createHash('sha256');
  let format: UploadFormat = 'csv';
  let bytes = 0;
  let collectedAt = 0;
  let head: Buffer | null = Buffer.alloc(0); // the first KiB, until it has been sniffed
  const meter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      bytes += chunk.length;
      if (bytes > maxBytes) return callback(tooLarge(maxBytes));
      if (head) {
        head = Buffer.concat([head, chunk]);
        if (head.length >= SNIFF_BYTES) {
          const refusal = refuseBinary(head);
          if (refusal) return callback(refusal);
          if (isZip(head)) format = 'xlsx';
          head = null;
        }
      }
      hash.update(chunk);
      if (bytes - collectedAt >= COLLECT_EVERY_BYTES) {
        collectedAt = bytes;
        collectYoungGarbage();
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      if (head && isZip(head)) format = 'xlsx';
      callback(head ? refuseBinary(head) : null);
    },
  });
  await pipeline(source, meter, createWriteStream(filePath));
  if (bytes === 0) throw emptyUpload();
  return { path: filePath, bytes, sha256: hash.digest('hex'), format };
}

/**
 * Each network read of an upload is a fresh 64 KiB buffer, dead once written to disk, but V8 only
 * frees such buffers at a collection, and an upload allocates too little else to cause one soon:
 * a 75 MB upload left ~50 MB of written chunks waiting. `npm start` runs Node with --expose-gc so
 * a young-generation collection (about a millisecond) can run every few MB; elsewhere (tests,
 * other launchers) this does nothing.
 */
const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;
function collectYoungGarbage(): void {
  (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc?.({ type: 'minor' });
}

const SNIFF_BYTES = 1024;
const SIGNATURES: [string, number[]][] = [
  ['a gzip archive', [0x1f, 0x8b]],
  ['an old Excel .xls file', [0xd0, 0xcf, 0x11, 0xe0]],
  ['a PDF document', [0x25, 0x50, 0x44, 0x46]],
  ['a PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['a bzip2 archive', [0x42, 0x5a, 0x68]],
  ['a 7-Zip archive', [0x37, 0x7a, 0xbc, 0xaf]],
  ['UTF-16 text (save it as UTF-8)', [0xff, 0xfe]],
  ['UTF-16 text (save it as UTF-8)', [0xfe, 0xff]],
];

// An .xlsx workbook is a ZIP archive: accepted, and converted to CSV by the import's job.
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const isZip = (head: Buffer) => ZIP_MAGIC.every((byte, i) => head[i] === byte);

/**
 * A CSV is text: known binary signatures, or any NUL byte, in the first KiB mean it is not one.
 * A ZIP archive passes here as a candidate .xlsx (the job says so if it is not a workbook).
 */
function refuseBinary(head: Buffer): UploadRejectedError | null {
  if (isZip(head)) return null;
  const start = head.subarray(0, SNIFF_BYTES);
  const known = SIGNATURES.find(([, magic]) => magic.every((byte, i) => start[i] === byte));
  if (!known && !start.includes(0)) return null;
  const kind = known ? known[0] : 'binary data (it contains NUL bytes)';
  return new UploadRejectedError('not_csv', `The file is not a CSV text file: it looks like ${kind}`);
}

function emptyUpload(): UploadRejectedError {
  return new UploadRejectedError('empty', 'The uploaded file is empty: expected a header line with at least sku and name');
}

function tooLarge(maxBytes: number): UploadRejectedError {
  return new UploadRejectedError('too_large', `The upload is larger than the limit of ${maxBytes} bytes (MAX_UPLOAD_BYTES)`);
}

/** Keeps the display name only: no directories, no control characters, at most 255 characters. */
export function sanitizeFilename(raw: string | null | undefined): string | null {
  if (!raw) return null;
  let name = raw;
  try {
    name = decodeURIComponent(raw);
  } catch {
    // not percent-encoded: use as sent
  }
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const clean = base.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim().slice(0, 255);
  return clean === '' || clean === '.' || clean === '..' ? null : clean;
}
