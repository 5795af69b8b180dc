import { createReadStream } from 'node:fs';
import { CsvError, parse } from 'csv-parse';
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
 * Yields every record of a CSV file (the header included) with the physical line it starts on.
 * csv-parse's own line counter miscounts CRLF inside quoted fields, so lines are counted here:
 * skipped empty lines come from info.empty_lines, line breaks inside fields from the values.
 */
export async function* readCsvRecords(filePath: string): AsyncGenerator<CsvRecord> {
  const parser = createReadStream(filePath, { highWaterMark: 256 * 1024 }).pipe(
    parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true }),
  );
  let nextLine = 1;
  let emptyLinesSeen = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { empty_lines: number; bytes: number } }>) {
      const line = nextLine + (info.empty_lines - emptyLinesSeen);
      emptyLinesSeen = info.empty_lines;
      nextLine = line + countLineBreaks(record) + 1;
      yield { fields: record, line, nextLine, endByte: info.bytes };
    }
  } catch (error) {
    if (error instanceof CsvError) throw describeCsvError(error, nextLine);
    throw error;
  } finally {
    parser.destroy();
  }
}

function countLineBreaks(fields: string[]): number {
  let count = 0;
  for (const field of fields) {
    for (let at = field.indexOf('\n'); at !== -1; at = field.indexOf('\n', at + 1)) count++;
  }
  return count;
}

function describeCsvError(error: CsvError, line: number): FileLevelError {
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
