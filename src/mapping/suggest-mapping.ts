import { distance } from 'fastest-levenshtein';
import type { ColumnMapping } from '../imports/import-options.ts';
import { PRODUCT_FIELDS, type ProductField } from '../products/product-values.ts';
import { aliasKeysOf, normalizeColumnName } from './field-aliases.ts';
import { resolveMapping } from './resolve-mapping.ts';

// Fuzzy matching of header names to fields: suggestions for a person to confirm (a preview, the
// message of an import that lacks sku or name), never applied by an import.

export type MappingSource = 'explicit' | 'template' | 'exact' | 'alias' | 'fuzzy';

export type MappingSuggestion = {
  /** The header name, trimmed ('' for a column without a name). */
  column: string;
  field: ProductField | null;
  /** How the field was found; null when the column fills none (explicit null says 'explicit'). */
  how: MappingSource | null;
  /** 0–1, only for 'fuzzy'. */
  score?: number;
};

/** Lowest score a fuzzy match must reach to be suggested. */
export const SUGGESTION_THRESHOLD = 0.5;

const TARGETS = new Map(PRODUCT_FIELDS.map((field) => [field, aliasKeysOf(field)] as const));
const round = (score: number) => Math.round(score * 100) / 100;

/**
 * How much a header name looks like the field, 0–1: the best of its Levenshtein similarity to the
 * field's name and aliases (after normalizeColumnName), and 0.6–1 when one of them is a whole-word
 * part of it ("Supplier SKU" → sku).
 */
export function scoreColumn(column: string, field: ProductField): number {
  const name = normalizeColumnName(column);
  if (name === '') return 0;
  let best = 0;
  for (const target of TARGETS.get(field)!) {
    const similarity = 1 - distance(name, target) / Math.max(name.length, target.length);
    const contained = ` ${name} `.includes(` ${target} `) ? 0.6 + (0.4 * target.length) / name.length : 0;
    best = Math.max(best, similarity, contained);
  }
  return round(best);
}

/**
 * The columns (by index) most like the field, best first, at most `limit`: each at or above the
 * threshold, and liking no other field better (a misspelt "Prodct Nme" is a candidate for name,
 * not also for sku).
 */
export function bestCandidates(
  header: readonly string[],
  field: ProductField,
  among: readonly number[] = header.map((_, index) => index),
  limit = 3,
): { column: string; index: number; score: number }[] {
  return among
    .flatMap((index) => {
      const column = header[index]!.trim();
      const scores = scoresOf(column);
      const score = scores.get(field)!;
      const best = column !== '' && score >= SUGGESTION_THRESHOLD && [...scores.values()].every((other) => other <= score);
      return best ? [{ column, index, score }] : [];
    })
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, limit);
}

function scoresOf(column: string): Map<ProductField, number> {
  return new Map(PRODUCT_FIELDS.map((field) => [field, scoreColumn(column, field)]));
}

/**
 * Per header column, in order, the field it would fill and how: what an import would apply
 * (the upload's mapping 'explicit', the template's 'template', then 'exact' names and 'alias'es),
 * and for the columns and fields left over, the best fuzzy matches ('fuzzy', with a score), one
 * column per field. Columns the mappings name that the header lacks are not reported here; an
 * import fails on them (resolveMapping's problems say so).
 */
export function suggestMapping(
  header: readonly string[],
  given: { mapping?: ColumnMapping | null; template?: ColumnMapping | null } = {},
): MappingSuggestion[] {
  const fromUpload = new Set(Object.keys(given.mapping ?? {}).map((name) => name.trim().toLowerCase()));
  const resolved = resolveMapping(header, { ...given.template, ...given.mapping });
  const suggestions: MappingSuggestion[] = resolved.byColumn.map(({ field, how }, index) => {
    const column = header[index]!.trim();
    if (how === 'explicit') return { column, field, how: fromUpload.has(column.toLowerCase()) ? 'explicit' : 'template' };
    return { column, field, how };
  });

  // Each open column with the free fields it likes best (as bestCandidates), best pairs first.
  const free = PRODUCT_FIELDS.filter((field) => !resolved.columns.has(field));
  const pairs = suggestions
    .flatMap(({ column, how }, index) => {
      if (how !== null || column === '') return [];
      const scores = scoresOf(column);
      const top = Math.max(...scores.values());
      return free.filter((field) => scores.get(field) === top && top >= SUGGESTION_THRESHOLD).map((field) => ({ field, index, score: top }));
    })
    .sort((a, b) => b.score - a.score || a.index - b.index);
  const usedFields = new Set<ProductField>();
  for (const { field, index, score } of pairs) {
    if (usedFields.has(field) || suggestions[index]!.how !== null) continue;
    usedFields.add(field);
    suggestions[index] = { column: suggestions[index]!.column, field, how: 'fuzzy', score };
  }
  return suggestions;
}
