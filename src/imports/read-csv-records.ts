import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { CsvError, parse, type Parser } from 'csv-parse';
import { FileLevelError } from './csv-header.ts';
import { findInvalidUtf8 } from './utf8-scan.ts';

export type CsvRecord = {
  fields: string[];
  /** Physical line where the record starts; the header is line 1. */
  line: number;
  /** Line where whatever follows this record starts: the checkpoint after it. */
  nextLine: number;
  /** Byte offset in the file just past this record: where a resumed read starts. */
  endByte: number;
  /** Some of the record's bytes are not UTF-8; its decoded text holds U+FFFD and must not be stored. */
  invalidUtf8: boolean;
};

/**
 * Where a file's bytes come from: a local path, or a function that opens a stream of them from a
 * byte offset (a file in S3 storage, src/storage/).
 */
export type ByteSource = string | ((start: number, end: number | undefined) => Readable);

/** The bytes from `start` to `end` (exclusive; the end of the file when undefined). */
export function openBytes(source: ByteSource, start: number, highWaterMark: number, end?: number): Readable {
  if (typeof source !== 'string') return source(start, end);
  return createReadStream(source, { start, highWaterMark, ...(end !== undefined ? { end: end - 1 } : {}) });
}

export type ReadOptions = {
  delimiter: string;
  /** Longest record csv-parse accepts, in characters: bounds memory whatever the file holds. */
  maxRecordSize: number;
  /** Resume point: a checkpoint's byte offset and line (0 and 1 from the start). */
  startByte?: number;
  startLine?: number;
  /** Where to stop reading (a chunk's end, a record boundary); the end of the file when absent. */
  endByte?: number;
  /** The record delimiter already found (csv-parse finds it at the first line end otherwise). */
  recordDelimiter?: string;
};

/**
 * Yields the records of a CSV file, chunk by chunk, each with the physical line it starts on.
 * Records are taken in csv-parse's on_record hook rather than from its readable side: a stream
 * that errors drops what it had buffered, and every record before a syntax error must still be
 * loaded. csv-parse's own line counter miscounts CRLF inside quoted fields, so lines are counted
 * here: skipped empty lines from the record's context, line breaks inside fields from the values.
 * Bytes that are not UTF-8 are found before parsing and pinned on the records that hold them.
 */
export async function* readCsvRecords(source: ByteSource, options: ReadOptions): AsyncGenerator<CsvRecord[]> {
  const startByte = options.startByte ?? 0;
  let pending: CsvRecord[] = [];
  let nextLine = options.startLine ?? 1;
  let emptyLinesSeen = 0;
  let previousEnd = startByte;
  const invalidOffsets: number[] = []; // absolute, ascending
  const parser: Parser = parse({
    bom: startByte === 0,
    delimiter: options.delimiter,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: options.maxRecordSize,
    ...(options.recordDelimiter ? { record_delimiter: options.recordDelimiter } : {}),
    on_record: (fields: string[], context) => {
      const line = nextLine + (context.empty_lines - emptyLinesSeen);
      emptyLinesSeen = context.empty_lines;
      nextLine = line + countLineBreaks(fields) + 1;
      const endByte = startByte + context.bytes;
      let invalidUtf8 = false;
      while (invalidOffsets.length > 0 && invalidOffsets[0]! < endByte) {
        if (invalidOffsets.shift()! >= previousEnd) invalidUtf8 = true;
      }
      previousEnd = endByte;
      pending.push({ fields, line, nextLine, endByte, invalidUtf8 });
      return null; // handled here; nothing goes to the readable side
    },
  });
  parser.on('error', () => {}); // surfaced through the write/end callbacks below
  parser.resume();

  const file = openBytes(source, startByte, 16 * 1024, options.endByte);
  let offset = startByte;
  let carry: Buffer = Buffer.alloc(0); // an incomplete UTF-8 sequence cut by the chunk boundary
  try {
    for await (const chunk of file as AsyncIterable<Buffer>) {
      if (!isUtf8(chunk) || carry.length > 0) carry = noteInvalidUtf8(Buffer.concat([carry, chunk]), offset - carry.length, false);
      offset += chunk.length;
      const error = await new Promise<Error | null | undefined>((resolve) => parser.write(chunk, resolve));
      if (pending.length > 0) yield takePending();
      if (error) throw describeCsvError(error, lineOfFailure(error), options.maxRecordSize);
    }
    if (carry.length > 0) noteInvalidUtf8(carry, offset - carry.length, true);
    const error = await new Promise<Error | null | undefined>((resolve) => parser.end(resolve));
    if (pending.length > 0) yield takePending();
    if (error) throw describeCsvError(error, lineOfFailure(error), options.maxRecordSize);
  } finally {
    file.destroy();
    parser.destroy();
  }

  /** Records the offsets of invalid bytes; returns a trailing incomplete sequence to carry on. */
  function noteInvalidUtf8(bytes: Buffer, at: number, atEnd: boolean): Buffer {
    const { invalid, incompleteTail } = findInvalidUtf8(bytes, atEnd);
    for (const position of invalid) invalidOffsets.push(at + position);
    return bytes.subarray(bytes.length - incompleteTail);
  }

  /** The broken record starts after the last good one and any empty lines skipped since. */
  function lineOfFailure(error: Error): number {
    const emptyLines = (error as { empty_lines?: unknown }).empty_lines;
    return nextLine + (typeof emptyLines === 'number' ? Math.max(0, emptyLines - emptyLinesSeen) : 0);
  }

  function takePending(): CsvRecord[] {
    const taken = pending;
    pending = [];
    return taken;
  }
}

export function countLineBreaks(fields: string[]): number {
  let count = 0;
  for (const field of fields) {
    for (let at = field.indexOf('\n'); at !== -1; at = field.indexOf('\n', at + 1)) count++;
  }
  return count;
}

function describeCsvError(error: Error, line: number, maxRecordSize: number): Error {
  if (!(error instanceof CsvError)) return error;
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new FileLevelError(`Unterminated quoted field in the record starting on line ${line}: a closing " is missing`);
    case 'CSV_INVALID_CLOSING_QUOTE':
      return new FileLevelError(
        `Malformed quoted field in the record starting on line ${line}: a closing " must be followed by a delimiter or the end of the line (write "" for a literal quote)`,
      );
    case 'CSV_MAX_RECORD_SIZE':
      return new FileLevelError(
        `The record starting on line ${line} is longer than ${maxRecordSize} characters (MAX_RECORD_SIZE); is a quote left open?`,
      );
    case 'INVALID_OPENING_QUOTE':
      return new FileLevelError(
        `A quote inside an unquoted field in the record starting on line ${line}: quote the whole field and write "" for a literal quote`,
      );
    default:
      // csv-parse's own "at line N" counts from where it started reading (a resumed import starts mid-file).
      return new FileLevelError(`The file is not valid CSV at the record starting on line ${line}: ${error.message.replace(/ at line \d+/, '')}`);
  }
}
