import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import { InvalidInputError, ShuttingDownError, UploadRejectedError } from '../errors.ts';
import { decodeStage, gzipStage, type UploadFormat } from './decode-upload.ts';
import type { Encoding } from './import-options.ts';
import type { Storage } from '../storage/storage.ts';
import { ChunkBoundaryScanner, type ChunkScanOptions, type ChunkStart } from './chunk-boundaries.ts';

export type { UploadFormat } from './decode-upload.ts';

/**
 * `bytes` and `sha256` describe the file as sent (compressed, in its own encoding); what is stored
 * at `location` is its text decompressed and in UTF-8 (or a ZIP archive as sent: `format` xlsx).
 * `encoding`: the one applied ('utf-8', 'windows-1252', 'utf-16le' …); `warnings` say what the
 * import should know (a file read as Windows-1252). `fields`: multipart form fields sent before
 * the file (upload options), as text; `lateFields`: names of the fields sent after it.
 */
export type StoredUpload = {
  location: string;
  bytes: number;
  sha256: string;
  filename: string | null;
  format: UploadFormat;
  encoding: string;
  warnings: string[];
  fields: Record<string, string>;
  lateFields: string[];
  /** Where chunks after the first start (a CSV longer than the chunk size; else none). */
  chunkStarts: ChunkStart[];
};

/**
 * Called once the form fields before the file are known (none for a raw body), before a byte of
 * the file is stored: checks them (throwing refuses the upload, nothing kept) and says which
 * encoding to read the file in.
 */
export type ResolveEncoding = (fields: Record<string, string>) => Encoding | Promise<Encoding>;

/** `location`: where in `storage` the file goes (storage.locate). */
type StoreOptions = {
  storage: Storage;
  location: string;
  maxBytes: number;
  signal?: AbortSignal;
  resolveEncoding?: ResolveEncoding;
  /** Asked once the options are resolved: cut the stored CSV into chunks (chunk-boundaries.ts), or not. */
  chunking?: () => ChunkScanOptions | undefined;
};

/**
 * The request, and under @hono/node-server the Node request it came from. The body is read from
 * the Node request when there is one: the web-stream wrapping (Node stream → web stream → Node
 * stream) cost a 75 MB upload ~70 MB of extra peak memory in buffers awaiting collection.
 */
export type UploadRequest = { request: Request; incoming?: IncomingMessage };

// Raw bodies: CSV text, or an .xlsx workbook (converted by the job).
const RAW_CSV_TYPES = [
  'text/csv',
  'text/plain',
  'application/csv',
  'application/octet-stream',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
];

/**
 * Streams an uploaded CSV (raw body or multipart field `file`) into storage, hashing it on the
 * way, never holding it in memory; a gzip body (Content-Encoding: gzip, or the gzip magic bytes)
 * is decompressed and text in another encoding converted to UTF-8 on the way (decode-upload.ts).
 * MAX_UPLOAD_BYTES (`maxBytes`) caps both what is received and what is stored. Whatever goes
 * wrong (too large, client gone, bad form, corrupt gzip), the partial file is removed before the
 * error propagates.
 */
export async function storeUpload({ request, incoming }: UploadRequest, options: StoreOptions): Promise<StoredUpload> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > options.maxBytes) throw tooLarge(options.maxBytes);
  // (Touching request.body would start the web-stream wrapping; a zero-byte body is refused below.)
  if (!incoming && !request.body) throw emptyUpload();

  const contentType = (request.headers.get('content-type') ?? '').toLowerCase();
  const mediaType = contentType.split(';')[0]!.trim();
  const gzipped = gzipContentEncoding(request.headers.get('content-encoding'));
  const body = incoming ? readWithoutOwning(incoming) : Readable.fromWeb(request.body as WebReadableStream<Uint8Array>);
  // On shutdown an upload in progress is cut short with 503: the client can retry elsewhere.
  const onAbort = () => body.destroy(new ShuttingDownError('The server is shutting down: retry the upload shortly'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (mediaType === 'multipart/form-data') {
      return await storeMultipartFile(body, request.headers, { ...options, gzipped });
    }
    if (mediaType !== '' && !RAW_CSV_TYPES.includes(mediaType)) {
      throw new UploadRejectedError(
        'not_csv',
        `Content-Type ${mediaType} is not accepted: send text/csv, or multipart/form-data with a "file" field`,
      );
    }
    const encoding = (await options.resolveEncoding?.({})) ?? 'auto';
    const stored = await writeDecoded(body, options, { maxBytes: options.maxBytes, encoding, gunzip: gzipped, chunking: options.chunking?.() });
    return { ...stored, filename: sanitizeFilename(request.headers.get('x-filename')), fields: {}, lateFields: [] };
  } catch (error) {
    body.destroy();
    await options.storage.remove(options.location).catch(() => {}); // the error to report is the first one
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
  options: StoreOptions & { gzipped: boolean },
): Promise<StoredUpload> {
  const parser = busboy({
    headers: Object.fromEntries(headers),
    limits: { files: 1, fileSize: options.maxBytes, fields: 20, parts: 25 },
  });
  const fields: Record<string, string> = {};
  const lateFields: string[] = [];
  let filePart: Readable | undefined;
  let writing: Promise<StoredUpload> | undefined;
  let writeFailure: unknown;
  parser.on('field', (name, value) => {
    if (filePart) lateFields.push(name);
    else fields[name] = value;
  });
  parser.on('file', (field, stream, info) => {
    if (field !== 'file' || filePart) {
      stream.resume(); // drain parts we do not use
      return;
    }
    filePart = stream;
    stream.on('limit', () => stream.destroy(tooLarge(options.maxBytes)));
    const sentFields = { ...fields };
    writing = (async () => {
      // busboy holds the rest of the body back until the file part is read
      const encoding = (await options.resolveEncoding?.(sentFields)) ?? 'auto';
      const stored = await writeDecoded(stream, options, { maxBytes: options.maxBytes, encoding, gunzip: false, chunking: options.chunking?.() });
      return { ...stored, filename: sanitizeFilename(info.filename), fields: sentFields, lateFields };
    })();
    // A refused file stops the form at once (nothing else would read the rest of the body).
    writing.catch((error) => {
      writeFailure = error;
      parser.destroy(error);
    });
  });
  try {
    // Content-Encoding: gzip on a form compresses the whole body.
    await (options.gzipped ? pipeline(body, gzipStage({ force: true }), parser) : pipeline(body, parser));
  } catch (error) {
    // Stop writing the file part, and let its write end, before the caller removes the file.
    filePart?.destroy();
    await writing?.catch(() => {});
    if (isRefusal(error) || error === writeFailure) throw error;
    throw new UploadRejectedError('malformed', `Malformed multipart body: ${(error as Error).message}`);
  }
  if (!writing) throw new UploadRejectedError('malformed', 'The multipart form has no "file" field holding the CSV');
  return writing;
}

const isRefusal = (error: unknown) =>
  error instanceof UploadRejectedError || error instanceof ShuttingDownError || error instanceof InvalidInputError;

/** `Content-Encoding`: none, identity or gzip; anything else is refused (415). */
export function gzipContentEncoding(header: string | null): boolean {
  const codings = (header ?? '').toLowerCase().split(',').map((coding) => coding.trim()).filter((coding) => coding && coding !== 'identity');
  if (codings.length === 0) return false;
  if (codings.length === 1 && (codings[0] === 'gzip' || codings[0] === 'x-gzip')) return true;
  throw new UploadRejectedError('not_csv', `Content-Encoding ${header} is not accepted: send the file as it is, or gzip-compressed (Content-Encoding: gzip)`);
}

/**
 * Received bytes are counted (at most maxBytes) and hashed as sent, then gunzipped (when asked, or
 * when they start with the gzip magic bytes) and decoded to UTF-8; what is written is at most
 * maxBytes too (so a gzip bomb ends in a 413 however small it is).
 */
async function writeDecoded(
  source: Readable,
  target: { storage: Storage; location: string },
  options: { maxBytes: number; encoding: Encoding; gunzip: boolean; chunking: ChunkScanOptions | undefined },
): Promise<Omit<StoredUpload, 'filename' | 'fields' | 'lateFields'>> {
  const { maxBytes } = options;
  const hash = createHash('sha256');
  let bytes = 0;
  let collectedAt = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      bytes += chunk.length;
      if (bytes > maxBytes) return callback(tooLarge(maxBytes));
      hash.update(chunk);
      if (bytes - collectedAt >= COLLECT_EVERY_BYTES) {
        collectedAt = bytes;
        collectGarbage();
      }
      callback(null, chunk);
    },
  });
  let gzipped = false;
  const decoded = decodeStage({
    encoding: options.encoding,
    maxBytes,
    tooLarge: () => tooLarge(maxBytes, gzipped ? 'once decompressed' : 'once converted to UTF-8'),
  });
  const gunzip = gzipStage({ force: options.gunzip, onGzip: () => (gzipped = true) });
  // The stored bytes, as the parser will read them, are where chunk boundaries are found.
  const scanner = options.chunking && new ChunkBoundaryScanner(options.chunking);
  const scan = async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      scanner!.push(chunk);
      yield chunk;
    }
  };
  const file = await target.storage.create(target.location);
  try {
    await (scanner
      ? pipeline(source, meter, gunzip, decoded.stage, scan, file.stream)
      : pipeline(source, meter, gunzip, decoded.stage, file.stream));
    await file.finish();
  } catch (error) {
    await file.abort();
    throw error;
  }
  if (bytes === 0 || decoded.result.storedBytes === 0) throw emptyUpload();
  const { format, encoding, warnings } = decoded.result;
  const chunkStarts = format === 'csv' && scanner ? scanner.starts : [];
  return { location: target.location, bytes, sha256: hash.digest('hex'), format, encoding, warnings, chunkStarts };
}

/**
 * Each network read of an upload is a fresh 64 KiB buffer, dead once written to disk, but V8 only
 * frees such buffers at a collection, and an upload allocates too little else to cause one soon:
 * a 75 MB upload left ~50 MB of written chunks waiting. `npm start` runs Node with --expose-gc so
 * a young-generation collection (about a millisecond) can run every few MB; elsewhere (tests,
 * other launchers) this does nothing. Buffers that stayed queued across two young collections have
 * moved to the old generation, where only a full collection (~15-25 ms) frees them: one every
 * 32 MB took an import's peak RSS from a median of 157 MB to 144 MB (ten imports each, session 6).
 * Young ones every 2 MB, not 8: the waiting chunks are malloc's, and the most that ever waited
 * stays the process's malloc heap for its life (glibc keeps it). After one 114 MB upload that heap
 * was 14 MB in 7 processes of 7 at 2 MB, 16–38 MB at 8 (session 9, docs/performance.md).
 */
const COLLECT_EVERY_BYTES = 2 * 1024 * 1024;
const FULL_COLLECTION_EVERY = 16; // every 32 MB
let collections = 0;
function collectGarbage(): void {
  const type = ++collections % FULL_COLLECTION_EVERY === 0 ? 'major' : 'minor';
  (globalThis as { gc?: (options: { type: 'minor' | 'major' }) => void }).gc?.({ type });
}

function emptyUpload(): UploadRejectedError {
  return new UploadRejectedError('empty', 'The uploaded file is empty: expected a header line with at least sku and name');
}

function tooLarge(maxBytes: number, when?: string): UploadRejectedError {
  const size = when ? `The upload, ${when}, is` : 'The upload is';
  return new UploadRejectedError('too_large', `${size} larger than the limit of ${maxBytes} bytes (MAX_UPLOAD_BYTES)`);
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
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const clean = base.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim().slice(0, 255);
  return clean === '' || clean === '.' || clean === '..' ? null : clean;
}
