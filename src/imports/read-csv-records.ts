import { createReadStream } from 'node:fs';
import { CsvError, parse, type Parser } from 'csv-parse';
import { FileLevelError } from './csv-header.ts';

export type CsvRecord = {
  fields: string[];
  /** Physical line where the record starts; the header is line 1. */
  line: number;
  /** Line where whatever follows this record starts: the checkpoint after it. */
  nextLine: number;
  /** Bytes of the file consumed through the end of this record. */
  endByte: number;
};

/**
 * Yields the records of a CSV file (the header included), chunk by chunk, each with the physical
 * line it starts on. Records are taken in csv-parse's on_record hook rather than from its
 * readable side: a stream that errors drops what it had buffered, and every record before a
 * syntax error must still be loaded. csv-parse's own line counter miscounts CRLF inside quoted
 * fields, so lines are counted here: skipped empty lines from the record's context, line breaks
 * inside fields from the values.
 */
export async function* readCsvRecords(filePath: string): AsyncGenerator<CsvRecord[]> {
  let pending: CsvRecord[] = [];
  let nextLine = 1;
  let emptyLinesSeen = 0;
  const parser: Parser = parse({
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    on_record: (fields: string[], context) => {
      const line = nextLine + (context.empty_lines - emptyLinesSeen);
      emptyLinesSeen = context.empty_lines;
      nextLine = line + countLineBreaks(fields) + 1;
      pending.push({ fields, line, nextLine, endByte: context.bytes });
      return null; // handled here; nothing goes to the readable side
    },
  });
  parser.on('error', () => {}); // surfaced through the write/end callbacks below
  parser.resume();

  const file = createReadStream(filePath, { highWaterMark: 64 * 1024 });
  try {
    for await (const chunk of file) {
      const error = await new Promise<Error | null | undefined>((resolve) => parser.write(chunk, resolve));
      if (pending.length > 0) yield takePending();
      if (error) throw describeCsvError(error, lineOfFailure(error));
    }
    const error = await new Promise<Error | null | undefined>((resolve) => parser.end(resolve));
    if (pending.length > 0) yield takePending();
    if (error) throw describeCsvError(error, lineOfFailure(error));
  } finally {
    file.destroy();
    parser.destroy();
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

function countLineBreaks(fields: string[]): number {
  let count = 0;
  for (const field of fields) {
    for (let at = field.indexOf('\n'); at !== -1; at = field.indexOf('\n', at + 1)) count++;
  }
  return count;
}

function describeCsvError(error: Error, line: number): Error {
  if (!(error instanceof CsvError)) return error;
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return new FileLevelError(`Unterminated quoted field in the record starting on line ${line}: a closing " is missing`);
    case 'CSV_INVALID_CLOSING_QUOTE':
      return new FileLevelError(
        `Malformed quoted field in the record starting on line ${line}: a closing " must be followed by a delimiter or the end of the line (write "" for a literal quote)`,
      );
    default:
      return new FileLevelError(`The file is not valid CSV at the record starting on line ${line}: ${error.message}`);
  }
}
