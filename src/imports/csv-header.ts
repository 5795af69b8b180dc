import { PRODUCT_FIELDS, REQUIRED_PRODUCT_FIELDS, type ProductField } from '../products/product-values.ts';

export type HeaderMapping = {
  /** Product field → index of its column in each record; only the fields the file has. */
  columns: Map<ProductField, number>;
  warnings: string[];
};

export class FileLevelError extends Error {}

const KNOWN = new Set<string>(PRODUCT_FIELDS);

const DELIMITERS = [',', ';', '\t', '|'] as const;
const DELIMITER_NAMES: Record<string, string> = { ',': 'comma', ';': 'semicolon', '\t': 'tab', '|': 'pipe' };

/**
 * Picks the delimiter from the header line: the first of comma, semicolon, tab and pipe that
 * splits it into columns including sku and name. Spreadsheets in many locales save with ';'.
 */
export function detectDelimiter(headerLine: string): { delimiter: string; detected: boolean } {
  for (const delimiter of DELIMITERS) {
    const names = headerLine.split(delimiter).map((name) => name.trim().replace(/^"|"$/g, '').toLowerCase());
    if (REQUIRED_PRODUCT_FIELDS.every((field) => names.includes(field))) return { delimiter, detected: true };
  }
  return { delimiter: ',', detected: false };
}

export function describeDelimiter(delimiter: string): string {
  return `${DELIMITER_NAMES[delimiter] ?? JSON.stringify(delimiter)} ("${delimiter === '\t' ? '\\t' : delimiter}")`;
}

/** Matches header names case-insensitively after trimming; unknown columns are ignored with a warning. */
export function mapHeader(header: string[], limits: { maxColumns: number } = { maxColumns: Infinity }): HeaderMapping {
  if (header.length > limits.maxColumns) {
    throw new FileLevelError(`The header has ${header.length} columns; at most ${limits.maxColumns} are accepted (MAX_COLUMNS)`);
  }
  const columns = new Map<ProductField, number>();
  const warnings: string[] = [];
  const seen = new Map<string, number>();
  header.forEach((raw, index) => {
    const name = raw.trim().toLowerCase();
    const earlier = seen.get(name);
    if (earlier !== undefined && name !== '') {
      throw new FileLevelError(
        `Duplicate column "${raw.trim()}" in the header (columns ${earlier + 1} and ${index + 1}): each column name may appear once`,
      );
    }
    seen.set(name, index);
    if (KNOWN.has(name)) columns.set(name as ProductField, index);
    else warnings.push(name === '' ? `Column ${index + 1} has no name and was ignored` : `Unknown column "${raw.trim()}" was ignored`);
  });
  const missing = REQUIRED_PRODUCT_FIELDS.filter((field) => !columns.has(field));
  if (missing.length > 0) {
    throw new FileLevelError(
      `Missing required column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(' and ')} in the header line (line 1); found: ${header.map((h) => h.trim()).join(', ')}` +
        (header.length === 1 ? '. Columns must be separated by commas, semicolons, tabs or pipes' : ''),
    );
  }
  return { columns, warnings };
}
