import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import iconv from 'iconv-lite';
import { UploadRejectedError } from '../errors.ts';
import type { Encoding } from './import-options.ts';
import { classifyUtf8 } from './utf8-scan.ts';

// The stages an upload goes through between the network and the disk, so the stored file is
// always UTF-8 text (or a ZIP archive, kept as sent): gunzip (gzipStage), then decoding to UTF-8
// (decodeStage). Both are pipeline stages over Buffers with the stream's backpressure: memory stays
// bounded whatever the file, a gzip bomb included.

export type UploadFormat = 'csv' | 'xlsx';

/** What decodeStage decided and wrote: `encoding` is the one applied ('utf-8', 'windows-1252' …). */
export type DecodedUpload = { format: UploadFormat; encoding: string; warnings: string[]; storedBytes: number };

type Stage = (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>;

/** How much of the start of a file `encoding=auto` looks at. */
export const DETECT_BYTES = 64 * 1024;
/** How much of the decoded start must be free of NUL bytes (a CSV is text). */
const SNIFF_BYTES = 1024;

export const NOT_UTF8_WARNING = 'The file is not UTF-8; it was read as Windows-1252 (send encoding=… if it is another encoding)';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const startsWith = (head: Uint8Array, magic: number[]) => magic.every((byte, i) => head[i] === byte);

/**
 * Gunzips what passes when `force` (Content-Encoding: gzip) or when it starts with the gzip magic
 * bytes; passes it through untouched otherwise. Corrupt or cut-short gzip data is a 400.
 */
export function gzipStage(options: { force: boolean; onGzip?: () => void }): Stage {
  return async function* gunzipIfCompressed(source) {
    const iterator = source[Symbol.asyncIterator]();
    const first: Buffer[] = [];
    let firstBytes = 0;
    let ended = false;
    while (firstBytes < GZIP_MAGIC.length) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        break;
      }
      first.push(next.value);
      firstBytes += next.value.length;
    }
    async function* everything() {
      yield* first;
      if (ended) return;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    }
    if (!options.force && !startsWith(Buffer.concat(first), GZIP_MAGIC)) {
      yield* everything();
      return;
    }
    options.onGzip?.();
    const gunzip = createGunzip();
    const feeding = pipeline(everything(), gunzip);
    feeding.catch(() => {}); // its failure surfaces through gunzip, read below
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
      await feeding;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('Z_')) {
        throw new UploadRejectedError('malformed', `The gzip data is corrupt or cut short (${(error as Error).message}): nothing was imported`);
      }
      throw error;
    } finally {
      gunzip.destroy();
    }
  };
}

/**
 * Decides the text encoding from the first DETECT_BYTES (or the whole file if shorter) and
 * converts to UTF-8 from there on. `auto`: a BOM decides (UTF-8, UTF-16 LE/BE); else text that is
 * valid UTF-8, or UTF-8 with some broken bytes (left for the parser to reject, record by record),
 * is stored as sent; else (high bytes, none in a valid UTF-8 sequence) it is read as Windows-1252,
 * with a warning. An explicit encoding is applied as given. A ZIP archive (an .xlsx candidate) is
 * stored as sent. Known binary signatures and NUL bytes in the first KiB are refused (415): for
 * UTF-16, NUL bytes are looked for in the decoded text. More than `maxBytes` written is a 413.
 */
export function decodeStage(options: { encoding: Encoding; maxBytes: number; tooLarge: () => Error }): {
  stage: Stage;
  result: DecodedUpload;
} {
  const result: DecodedUpload = { format: 'csv', encoding: 'utf-8', warnings: [], storedBytes: 0 };
  let converter: Converter | undefined;
  let sniffed = false;
  let unsniffed: Buffer[] = [];

  /** Output in the order it must be written, once its start has been checked; counts it against maxBytes. */
  const release = (out: Buffer, atEnd: boolean): Buffer[] => {
    if (out.length > 0) {
      result.storedBytes += out.length;
      if (result.storedBytes > options.maxBytes) throw options.tooLarge();
    }
    if (sniffed) return out.length > 0 ? [out] : [];
    unsniffed.push(out);
    const head = Buffer.concat(unsniffed);
    if (head.length < SNIFF_BYTES && !atEnd) return [];
    sniffed = true;
    unsniffed = [];
    const refusal = refuseNul(head.subarray(0, SNIFF_BYTES), { hintUtf16: false });
    if (refusal) throw refusal;
    return head.length > 0 ? [head] : [];
  };

  const decide = (head: Buffer, atEnd: boolean): Converter => {
    if (startsWith(head, ZIP_MAGIC)) {
      // An .xlsx workbook is a ZIP archive: kept as sent, converted to CSV by the import's job.
      result.format = 'xlsx';
      result.encoding = options.encoding;
      sniffed = true;
      return PASS_THROUGH;
    }
    const known = SIGNATURES.find(([, magic]) => startsWith(head, magic));
    if (known) throw notCsv(known[0]);
    const encoding = options.encoding === 'auto' ? detectEncoding(head, atEnd) : options.encoding;
    if (encoding !== 'utf-16le' && encoding !== 'utf-16be') {
      // Single-byte text keeps its NUL bytes when decoded: checked here, where UTF-16 sent without
      // a BOM can still be told apart by where they fall.
      const refusal = refuseNul(head.subarray(0, SNIFF_BYTES), { hintUtf16: true });
      if (refusal) throw refusal;
      sniffed = true;
    }
    if (options.encoding === 'auto' && encoding === 'windows-1252') result.warnings.push(NOT_UTF8_WARNING);
    result.encoding = encoding;
    return encoding === 'utf-8' ? PASS_THROUGH : iconvConverter(encoding);
  };

  async function* decodeToUtf8(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let head: Buffer[] = [];
    let headBytes = 0;
    for await (const chunk of source) {
      if (converter) {
        yield* release(converter.write(chunk), false);
        continue;
      }
      head.push(chunk);
      headBytes += chunk.length;
      if (headBytes < DETECT_BYTES) continue;
      const start = Buffer.concat(head);
      head = [];
      converter = decide(start, false);
      yield* release(converter.write(start), false);
    }
    if (!converter) {
      const start = Buffer.concat(head);
      converter = decide(start, true);
      yield* release(converter.write(start), false);
    }
    yield* release(converter.end(), true);
  }

  return { stage: decodeToUtf8, result };
}

function detectEncoding(head: Buffer, atEnd: boolean): Exclude<Encoding, 'auto'> {
  if (startsWith(head, [0xef, 0xbb, 0xbf])) return 'utf-8';
  if (startsWith(head, [0xff, 0xfe])) return 'utf-16le';
  if (startsWith(head, [0xfe, 0xff])) return 'utf-16be';
  return classifyUtf8(head, atEnd) === 'not-utf8' ? 'windows-1252' : 'utf-8';
}

type Converter = { write(chunk: Buffer): Buffer; end(): Buffer };
const EMPTY = Buffer.alloc(0);
const PASS_THROUGH: Converter = { write: (chunk) => chunk, end: () => EMPTY };

const ICONV_NAMES = { 'windows-1252': 'windows1252', 'iso-8859-1': 'iso88591', 'utf-16le': 'utf16le', 'utf-16be': 'utf16be' } as const;

/**
 * iconv-lite's streaming decoder, then UTF-8. What cannot be decoded (the five bytes Windows-1252
 * leaves undefined, which iconv-lite reads as U+FFFD; unpaired UTF-16 surrogates) is written as
 * the byte 0xFF, never valid in UTF-8: the parser rejects the record holding it with its line, as
 * it does for a UTF-8 file's broken bytes, so no U+FFFD reaches products. A high surrogate ending
 * a chunk waits for its pair in the next one.
 */
function iconvConverter(encoding: keyof typeof ICONV_NAMES): Converter {
  const decoder = iconv.getDecoder(ICONV_NAMES[encoding]); // strips a BOM
  const replacementIsUndecodable = encoding === 'windows-1252';
  let held = '';
  const toUtf8 = (decoded: string, atEnd: boolean): Buffer => {
    let text = held + decoded;
    held = '';
    const last = text.charCodeAt(text.length - 1);
    if (!atEnd && last >= 0xd800 && last <= 0xdbff) {
      held = text.slice(-1);
      text = text.slice(0, -1);
    }
    return encodeUtf8(text, replacementIsUndecodable);
  };
  return { write: (chunk) => toUtf8(decoder.write(chunk), false), end: () => toUtf8(decoder.end() ?? '', true) };
}

const UNDECODABLE = Buffer.from([0xff]);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_OR_REPLACEMENT = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\uFFFD/;

function encodeUtf8(text: string, replacementIsUndecodable: boolean): Buffer {
  const clean = text.isWellFormed() && !(replacementIsUndecodable && text.includes('\uFFFD'));
  if (clean) return Buffer.from(text, 'utf8');
  const parts = text.split(replacementIsUndecodable ? LONE_SURROGATE_OR_REPLACEMENT : LONE_SURROGATE);
  return Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [Buffer.from(part, 'utf8')] : [UNDECODABLE, Buffer.from(part, 'utf8')])));
}

const SIGNATURES: [string, number[]][] = [
  ['a gzip archive', GZIP_MAGIC],
  ['an old Excel .xls file', [0xd0, 0xcf, 0x11, 0xe0]],
  ['a PDF document', [0x25, 0x50, 0x44, 0x46]],
  ['a PNG image', [0x89, 0x50, 0x4e, 0x47]],
  ['a bzip2 archive', [0x42, 0x5a, 0x68]],
  ['a 7-Zip archive', [0x37, 0x7a, 0xbc, 0xaf]],
];

/**
 * NUL bytes mean binary data; in undecoded bytes, NULs making up a quarter or more of them, all at
 * even or all at odd offsets, mean UTF-16 (mostly Latin text) sent without a BOM.
 */
function refuseNul(head: Buffer, { hintUtf16 }: { hintUtf16: boolean }): UploadRejectedError | null {
  if (!head.includes(0)) return null;
  if (!hintUtf16) return notCsv('binary data (it contains NUL bytes)');
  let even = 0;
  let odd = 0;
  for (let i = 0; i < head.length; i++) if (head[i] === 0) i % 2 === 0 ? even++ : odd++;
  const utf16 = even + odd >= head.length / 4 && (even === 0 || odd === 0);
  if (utf16) return notCsv(`UTF-16 text without a byte order mark (send encoding=${odd > 0 ? 'utf-16le' : 'utf-16be'})`);
  return notCsv('binary data (it contains NUL bytes)');
}

function notCsv(kind: string): UploadRejectedError {
  return new UploadRejectedError('not_csv', `The file is not a CSV text file: it looks like ${kind}`);
}
