import { resolveMapping } from '../mapping/resolve-mapping.ts';
import { bestCandidates } from '../mapping/suggest-mapping.ts';
import type { ProductField } from '../products/product-values.ts';
import type { ColumnMapping } from './import-options.ts';

export type HeaderMapping = {
  /** Product field → index of its column in each record; only the fields the file has. */
  columns: Map<ProductField, number>;
  /** Every named column (trimmed) → the field it fills, or null: what the import shows. */
  applied: ColumnMapping;
  warnings: string[];
};

export class FileLevelError extends Error {}

const DELIMITERS = [',', ';', '\t', '|'] as const;
const DELIMITER_NAMES: Record<string, string> = { ',': 'comma', ';': 'semicolon', '\t': 'tab', '|': 'pipe' };

/**
 * Picks the delimiter from the header line: the first of comma, semicolon, tab and pipe that
 * splits it into columns that fill sku and name (through the mapping, names or aliases), else the
 * first that does so with a mapping naming columns the file lacks (the import then fails saying
 * which). Spreadsheets in many locales save with ';'.
 */
export function detectDelimiter(headerLine: string, mapping?: ColumnMapping | null): { delimiter: string; detected: boolean } {
  const resolutions = DELIMITERS.map((delimiter) => {
    const names = headerLine.split(delimiter).map((name) => name.trim().replace(/^"|"$/g, ''));
    return { delimiter, resolution: resolveMapping(names, mapping) };
  });
  const found =
    resolutions.find(({ resolution }) => resolution.missing.length === 0 && resolution.problems.length === 0) ??
    resolutions.find(({ resolution }) => resolution.missing.length === 0);
  return found ? { delimiter: found.delimiter, detected: true } : { delimiter: ',', detected: false };
}

export function describeDelimiter(delimiter: string): string {
  return `${DELIMITER_NAMES[delimiter] ?? JSON.stringify(delimiter)} ("${delimiter === '\t' ? '\\t' : delimiter}")`;
}

/**
 * Decides which column fills which field (src/mapping/resolve-mapping.ts: the mapping, then
 * names, then aliases); ignored columns get a warning. Fails the import when the mapping names a
 * column the file lacks or gives a field two columns, or when sku or name stays unfilled: then the
 * message lists the file's columns and the ones most like the missing fields (fuzzy scores).
 */
export function mapHeader(
  header: string[],
  limits: { maxColumns: number } = { maxColumns: Infinity },
  given: { mapping?: ColumnMapping | null; line?: number } = {},
): HeaderMapping {
  if (header.length > limits.maxColumns) {
    throw new FileLevelError(`The header has ${header.length} columns; at most ${limits.maxColumns} are accepted (MAX_COLUMNS)`);
  }
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
  });
  const line = given.line ?? 1;
  const found = header.map((h) => h.trim()).join(', ');
  const resolved = resolveMapping(header, given.mapping);
  if (resolved.problems.length > 0) {
    throw new FileLevelError(`${resolved.problems.join('. ')}. The header line (line ${line}) has: ${found}`);
  }
  const { missing } = resolved;
  if (missing.length > 0) {
    const unused = resolved.byColumn.flatMap(({ how }, index) => (how === null ? [index] : []));
    const hints =
      header.length === 1
        ? ['Columns must be separated by commas, semicolons, tabs or pipes']
        : missing.map((field) => {
            const candidates = bestCandidates(header, field, unused);
            if (candidates.length === 0) return `No column looks like ${field}`;
            const listed = candidates.map((c) => `"${c.column}" (${c.score.toFixed(2)})`).join(', ');
            return `Best candidates for ${field}: ${listed}; choose with mapping, e.g. {${JSON.stringify(candidates[0]!.column)}:"${field}"}`;
          });
    throw new FileLevelError(
      `Missing required column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(' and ')} in the header line (line ${line}); found: ${found}. ${hints.join('. ')}`,
    );
  }
  return { columns: resolved.columns, applied: resolved.applied, warnings: resolved.warnings };
}
