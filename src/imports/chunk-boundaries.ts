// Where a large upload can be cut into chunks that workers parse in parallel (issue 17), found
// while the upload streams: a chunk starts at a record boundary (a line feed outside quotes; a
// quoted field may hold line breaks) once at least `chunkBytes` have passed since the last start,
// and only after a whole number of batches of records, so each chunk's batches are exactly the
// batches one parser reading the whole file makes (the same duplicates within a batch, the same
// checkpoints). Quotes are counted, not parsed: in CSV as csv-parse reads it (no relax_quotes), a
// quote is either part of a quoted field's bounds or doubled inside one, so the parity of quotes
// says whether a line feed is inside a field. A stray quote in an unquoted field breaks the count
// from there on, but csv-parse refuses that record, which ends the import at it: chunks cut after
// it are never used (run-import reads them only up to the failing record).

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** A chunk's start: its first byte, the physical line it starts on, and the records before it. */
export type ChunkStart = { byte: number; line: number; recordsBefore: number };

export type ChunkScanOptions = {
  /** A chunk is at least this long (the last one may be shorter). */
  chunkBytes: number;
  /** Records per batch (BATCH_SIZE): a chunk starts after a multiple of it. */
  batchSize: number;
  /** The header's line (header_row): the lines above it are skipped unparsed, and the header is no record. */
  headerRow: number;
};

/**
 * Feeds on the stored bytes, in order, and gathers the starts of chunks after the first. Records
 * are counted as csv-parse gives them: a non-empty line (not "" and not a lone "\r") outside quotes.
 */
export class ChunkBoundaryScanner {
  readonly starts: ChunkStart[] = [];
  private position = 0;
  /** Physical line of the next byte (1 + line feeds so far). */
  private line = 1;
  private inQuotes = false;
  /** The current record's length so far in bytes, and its first byte. */
  private recordBytes = 0;
  private firstByte = 0;
  private records = 0;
  private lastStart = 0;
  /** The header is the first record from header_row on (csv-parse skips empty lines before it too). */
  private headerSeen = false;
  private readonly options: ChunkScanOptions;

  constructor(options: ChunkScanOptions) {
    this.options = options;
  }

  push(bytes: Uint8Array): void {
    const { length } = bytes;
    let at = 0;
    while (at < length) {
      if (this.line < this.options.headerRow) {
        // Above the header: skipped unparsed (anything goes, an unbalanced quote too).
        const feed = bytes.indexOf(LF, at);
        if (feed === -1) break;
        this.line++;
        at = feed + 1;
        continue;
      }
      if (this.inQuotes) {
        // Inside a quoted field only a quote ends it; its line feeds are physical lines.
        const quote = bytes.indexOf(QUOTE, at);
        const end = quote === -1 ? length : quote;
        this.line += countLineFeeds(bytes, at, end);
        this.recordBytes += end - at;
        if (quote === -1) break;
        this.inQuotes = false; // a doubled quote ("") re-enters at once
        this.recordBytes++;
        at = quote + 1;
        continue;
      }
      const quote = bytes.indexOf(QUOTE, at);
      const feed = bytes.indexOf(LF, at);
      const stop = feed !== -1 && (quote === -1 || feed < quote) ? feed : quote;
      const end = stop === -1 ? length : stop;
      if (end > at) {
        if (this.recordBytes === 0) this.firstByte = bytes[at]!;
        this.recordBytes += end - at;
      }
      if (stop === -1) break;
      if (stop === quote) {
        this.inQuotes = true;
        this.recordBytes++;
      } else {
        this.endLine(this.position + feed + 1);
      }
      at = stop + 1;
    }
    this.position += length;
  }

  /** A line feed outside quotes just before `next`: a record ends, unless the line was empty. */
  private endLine(next: number): void {
    const empty = this.recordBytes === 0 || (this.recordBytes === 1 && this.firstByte === CR);
    this.line++;
    this.recordBytes = 0;
    if (empty) return;
    if (!this.headerSeen) {
      this.headerSeen = true;
      return;
    }
    this.records++;
    if (this.records % this.options.batchSize !== 0 || next - this.lastStart < this.options.chunkBytes) return;
    this.lastStart = next;
    this.starts.push({ byte: next, line: this.line, recordsBefore: this.records });
  }
}

function countLineFeeds(bytes: Uint8Array, from: number, to: number): number {
  let count = 0;
  for (let at = bytes.indexOf(LF, from); at !== -1 && at < to; at = bytes.indexOf(LF, at + 1)) count++;
  return count;
}
