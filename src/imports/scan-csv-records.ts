import { isAscii, isUtf8 } from 'node:buffer';
import { type ByteSource, type CsvRecord, countLineBreaks, openBytes, type ReadOptions, readCsvRecords } from './read-csv-records.ts';

// The fast path of reading an import's records: the same records as readCsvRecords (csv-parse),
// found with String.indexOf over text decoded a chunk at a time instead of csv-parse's loop over
// every byte. On the default bench file csv-parse alone took 1.5 s of the parser thread's 2.2 s,
// 1.48 s of it in its byte loop and 0.36 s in decoding each field (--cpu-prof); text with long
// quoted descriptions took 2.2 s.
//
// It handles what product files are made of: fields plain or quoted (with "" inside), "\n" or
// "\r\n" line ends, empty lines, a BOM, valid UTF-8. Anything else (bytes that are not UTF-8, a
// quote inside a plain field or text after a closing quote, a lone "\r", a record longer than
// maxRecordSize, an unterminated quote) hands the rest of the file, from the start of that
// record, to readCsvRecords, which produces the records or the error csv-parse gives. So the
// result is csv-parse's in every case; test/scan-csv-records.test.ts compares the two on
// generated files of every kind, at every chunk size.

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const BOM = 0xfeff;

/** lineEnd's answers other than a position. */
const NEED_MORE = -1;
const UNSUPPORTED = -2;
const NON_ASCII = /[\u0080-\uffff]/; // (without the u flag, so surrogate halves count too)

export type ScanOptions = ReadOptions & {
  /** Bytes per read (tests use small ones to cut records at every place). */
  chunkSize?: number;
  /** Told when csv-parse takes over, and from which byte (tests check the fast path did the work). */
  onFallback?: (fromByte: number) => void;
};

export async function* scanCsvRecords(source: ByteSource, options: ScanOptions): AsyncGenerator<CsvRecord[]> {
  const { delimiter, maxRecordSize } = options;
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    yield* readCsvRecords(source, options);
    return;
  }
  const delimiterCode = delimiter.charCodeAt(0);
  const startByte = options.startByte ?? 0;
  let text = ''; // decoded and not yet taken into records, from a record boundary
  let textByte = startByte; // byte offset of text[0]
  let textAscii = true; // text[i] is byte textByte + i
  let nextLine = options.startLine ?? 1;
  let recordDelimiter: '\n' | '\r\n' | undefined;
  let atFileStart = startByte === 0;
  let carry: Buffer | undefined; // the start of a UTF-8 sequence cut by the end of the last chunk
  let fallback = false;

  const file = openBytes(source, startByte, options.chunkSize ?? 64 * 1024, options.endByte);
  try {
    for await (const chunk of file as AsyncIterable<Buffer>) {
      const bytes = carry ? Buffer.concat([carry, chunk]) : chunk;
      const complete = bytes.length - incompleteTail(bytes);
      carry = complete < bytes.length ? bytes.subarray(complete) : undefined;
      const whole = bytes.subarray(0, complete);
      if (!isUtf8(whole)) {
        fallback = true;
        break;
      }
      textAscii &&= isAscii(whole);
      text += whole.toString('utf8');
      const records = scan(false);
      if (records.length > 0) yield records;
      if (fallback) break;
    }
    if (!fallback && carry) fallback = true; // the file ends inside a UTF-8 sequence
    if (!fallback) {
      const records = scan(true);
      if (records.length > 0) yield records;
    }
  } finally {
    file.destroy();
  }
  if (fallback) {
    options.onFallback?.(textByte);
    yield* readCsvRecords(source, { ...options, startByte: textByte, startLine: nextLine, recordDelimiter });
  }

  /**
   * Takes the complete records off the start of `text` (all of it when atEnd); sets `fallback`
   * when csv-parse must take over from the first record not taken.
   */
  function scan(atEnd: boolean): CsvRecord[] {
    const records: CsvRecord[] = [];
    if (atFileStart && text.length > 0) {
      atFileStart = false;
      if (text.charCodeAt(0) === BOM) {
        text = text.slice(1); // its 3 bytes count in the first record's endByte, as in csv-parse
        textByte += 3;
      }
    }
    const length = text.length;
    let taken = 0; // text before this is in records (with the empty lines before them)
    let pos = 0; // where the next record (or empty line) starts
    let complete = false; // the whole text was taken
    let emptyLines = 0;
    // Where the next delimiter, quote, LF and CR are (-1: none in text), looked up again only once
    // passed: each indexOf scans ahead once per stretch, not once per field.
    let nextDelimiter = -2;
    let nextQuote = -2;
    let nextLf = -2;
    let nextCr = -2;

    scanning: while (pos < length) {
      const start = pos;
      const fields: string[] = [];
      let at = start; // the current field's start
      let end: number; // past the record's line end
      for (;;) {
        let value = '';
        let p = 0; // just past the field
        if (text.charCodeAt(at) === QUOTE) {
          let from = at + 1;
          for (;;) {
            const quote = text.indexOf('"', from);
            if (quote === -1 || (quote + 1 >= length && !atEnd)) {
              // Unterminated, or cut by the chunk's end ("" or a closing quote: cannot tell yet).
              if (quote === -1 && atEnd) fallback = true;
              break scanning;
            }
            if (text.charCodeAt(quote + 1) === QUOTE) {
              value += text.slice(from, quote + 1);
              from = quote + 2;
              continue;
            }
            value += text.slice(from, quote);
            p = quote + 1;
            break;
          }
          if (p < length) {
            const c = text.charCodeAt(p);
            if (c !== delimiterCode && c !== LF && c !== CR) {
              fallback = true; // text after a closing quote: csv-parse says what it is
              break scanning;
            }
          }
        } else {
          if (nextDelimiter !== -1 && nextDelimiter < at) nextDelimiter = text.indexOf(delimiter, at);
          if (nextLf !== -1 && nextLf < at) nextLf = text.indexOf('\n', at);
          if (nextCr !== -1 && nextCr < at) nextCr = text.indexOf('\r', at);
          if (nextQuote !== -1 && nextQuote < at) nextQuote = text.indexOf('"', at);
          p = length;
          if (nextDelimiter !== -1 && nextDelimiter < p) p = nextDelimiter;
          if (nextLf !== -1 && nextLf < p) p = nextLf;
          if (nextCr !== -1 && nextCr < p) p = nextCr;
          if (nextQuote !== -1 && nextQuote < p) {
            fallback = true; // a quote inside a plain field
            break scanning;
          }
          if (p === length && !atEnd) break scanning;
          value = text.slice(at, p);
        }
        if (p >= length) {
          // The end of the file (atEnd): the last record, without a line end.
          fields.push(value);
          end = length;
          break;
        }
        if (text.charCodeAt(p) === delimiterCode) {
          fields.push(value);
          at = p + 1;
          continue;
        }
        const after = lineEnd(p, atEnd);
        if (after === NEED_MORE) break scanning;
        if (after === UNSUPPORTED) {
          fallback = true;
          break scanning;
        }
        if (p === start) {
          // An empty line: skipped, as csv-parse's skip_empty_lines does.
          emptyLines++;
          pos = after;
          continue scanning;
        }
        fields.push(value);
        end = after;
        break;
      }
      const bytes = textAscii ? end - taken : Buffer.byteLength(text.slice(taken, end));
      if (bytes > maxRecordSize) {
        fallback = true; // csv-parse's MAX_RECORD_SIZE error, or not: it decides
        break;
      }
      const line = nextLine + emptyLines;
      emptyLines = 0;
      nextLine = line + countLineBreaks(fields) + 1;
      textByte += bytes;
      records.push({ fields, line, nextLine, endByte: textByte, invalidUtf8: false });
      pos = end;
      taken = end;
    }
    if (pos >= length) complete = true;
    // Empty lines after the last record taken stay in the text: the next scan counts them again.
    text = atEnd && complete ? '' : text.slice(taken);
    if (!textAscii) textAscii = !NON_ASCII.test(text);
    // A record still incomplete this long is csv-parse's to judge (MAX_RECORD_SIZE), in bounded memory.
    if (!atEnd && text.length > maxRecordSize) fallback = true;
    if (atEnd && text.length > 0) fallback = true;
    return records;
  }

  /** The position after the line end at `p` (an LF or CR), NEED_MORE or UNSUPPORTED. */
  function lineEnd(p: number, atEnd: boolean): number {
    const c = text.charCodeAt(p);
    if (recordDelimiter === undefined) {
      // The first line end decides the record delimiter, as csv-parse's auto-detection does.
      if (c === LF) recordDelimiter = '\n';
      else if (p + 1 >= text.length) return atEnd ? UNSUPPORTED : NEED_MORE;
      else if (text.charCodeAt(p + 1) === LF) recordDelimiter = '\r\n';
      else return UNSUPPORTED; // "\r" alone (old Mac line ends)
    }
    if (recordDelimiter === '\n') return c === LF ? p + 1 : UNSUPPORTED;
    if (c !== CR) return UNSUPPORTED;
    if (p + 1 >= text.length) return atEnd ? UNSUPPORTED : NEED_MORE;
    return text.charCodeAt(p + 1) === LF ? p + 2 : UNSUPPORTED;
  }
}

/** Bytes at the end of `bytes` that begin a UTF-8 sequence the chunk does not finish. */
function incompleteTail(bytes: Uint8Array): number {
  const length = bytes.length;
  for (let back = 1; back <= 3 && back <= length; back++) {
    const byte = bytes[length - back]!;
    if (byte < 0x80) return 0; // ASCII: nothing cut
    if (byte >= 0xc0) {
      const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return needed > back ? back : 0;
    }
    // a continuation byte: look further back for its lead
  }
  return 0;
}
