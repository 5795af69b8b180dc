import type { ColumnMapping } from '../imports/import-options.ts';
import { PRODUCT_FIELDS, REQUIRED_PRODUCT_FIELDS, type ProductField } from '../products/product-values.ts';
import { aliasFieldOf } from './field-aliases.ts';

// Which file column fills which product field, decided once from the header:
//  1. explicit: the import's mapping (the upload's, over its template's), file column → field or
//     null (ignored), column names matched case-insensitively after trimming;
//  2. exact: a column named like a field (case-insensitive, trimmed), for fields still unfilled;
//  3. alias: a column with a common name of a field (field-aliases.ts), for fields still unfilled.
// A column that could fill a field already filled is ignored, saying by which column; so is an
// alias two columns share (neither is guessed). Fuzzy matches are never applied: they are only
// suggestions (suggest-mapping.ts).

export type MatchKind = 'explicit' | 'exact' | 'alias';

export type MappingResolution = {
  /** Product field → index of its column in each record; only the fields the file has. */
  columns: Map<ProductField, number>;
  /** Per header column, in order: the field it fills (null: none) and how that was decided (null: not at all). */
  byColumn: { field: ProductField | null; how: MatchKind | null }[];
  /** Named column (trimmed) → its field or null: the applied mapping the import shows. */
  applied: ColumnMapping;
  /** Columns ignored, and why (one per column, in header order); explicitly ignored columns go unmentioned. */
  warnings: string[];
  /** What makes the mapping unusable: columns it names that the header lacks, two columns for one field. */
  problems: string[];
  /** Required fields no column fills. */
  missing: ProductField[];
};

const FIELDS = new Set<string>(PRODUCT_FIELDS);
const keyOf = (name: string) => name.trim().toLowerCase();
const quoted = (names: readonly string[]) => names.map((name) => `"${name}"`).join(' and ');

/** Never throws: the caller decides what a problem or a missing field means (the job fails; a preview shows it). */
export function resolveMapping(header: readonly string[], explicit?: ColumnMapping | null): MappingResolution {
  const names = header.map((raw) => raw.trim());
  const byColumn: MappingResolution['byColumn'] = names.map(() => ({ field: null, how: null }));
  const columns = new Map<ProductField, number>();
  const problems: string[] = [];
  const notes = new Map<number, string>(); // column index → why it is ignored

  const indexOfKey = new Map<string, number>(); // the first column of each name
  names.forEach((name, index) => {
    if (name !== '' && !indexOfKey.has(keyOf(name))) indexOfKey.set(keyOf(name), index);
  });

  // 1. The mapping: every column it names must be in the header, and no field may get two columns.
  const requested = new Map<string, { name: string; field: ProductField | null }>();
  for (const [name, field] of Object.entries(explicit ?? {})) {
    const earlier = requested.get(keyOf(name));
    if (earlier && earlier.field !== field) {
      problems.push(`The mapping names column "${name.trim()}" twice, as ${earlier.field ?? 'null'} and as ${field ?? 'null'}`);
    }
    requested.set(keyOf(name), { name: name.trim(), field });
  }
  const absent = [...requested.keys()].filter((key) => !indexOfKey.has(key)).map((key) => requested.get(key)!.name);
  if (absent.length > 0) {
    problems.push(`The mapping names ${absent.length > 1 ? 'columns' : 'a column'} the file does not have: ${quoted(absent)}`);
  }
  const claims = new Map<ProductField, number[]>();
  for (const [key, { field }] of requested) {
    const index = indexOfKey.get(key);
    if (index === undefined) continue;
    byColumn[index] = { field, how: 'explicit' };
    if (field !== null) claims.set(field, [...(claims.get(field) ?? []), index]);
  }
  for (const [field, indexes] of claims) {
    indexes.sort((a, b) => a - b);
    columns.set(field, indexes[0]!);
    if (indexes.length > 1) {
      problems.push(`Columns ${quoted(indexes.map((i) => names[i]!))} are both mapped to ${field}: map one column to each field`);
      for (const index of indexes.slice(1)) byColumn[index] = { field: null, how: 'explicit' };
    }
  }

  // 2. and 3. Names, then aliases, for the fields still unfilled.
  const open = () => names.flatMap((name, index) => (name !== '' && byColumn[index]!.how === null ? [index] : []));
  const takenBy = (field: ProductField, index: number) =>
    notes.set(index, `Column "${names[index]}" was ignored: ${field} comes from column "${names[columns.get(field)!]}"`);
  for (const index of open()) {
    const key = keyOf(names[index]!);
    if (!FIELDS.has(key)) continue;
    const field = key as ProductField;
    if (columns.has(field)) takenBy(field, index);
    else {
      columns.set(field, index);
      byColumn[index] = { field, how: 'exact' };
    }
  }
  const byAlias = new Map<ProductField, number[]>();
  for (const index of open()) {
    if (notes.has(index)) continue;
    const field = aliasFieldOf(names[index]!);
    if (field === undefined) continue;
    if (columns.has(field)) takenBy(field, index);
    else byAlias.set(field, [...(byAlias.get(field) ?? []), index]);
  }
  for (const [field, indexes] of byAlias) {
    if (indexes.length === 1) {
      columns.set(field, indexes[0]!);
      byColumn[indexes[0]!] = { field, how: 'alias' };
      continue;
    }
    const message = `Columns ${quoted(indexes.map((i) => names[i]!))} could each be ${field}, so neither was used: choose one with mapping`;
    notes.set(indexes[0]!, message);
    for (const index of indexes.slice(1)) notes.set(index, '');
  }

  const warnings: string[] = [];
  names.forEach((name, index) => {
    if (byColumn[index]!.how !== null) return;
    const note = notes.get(index);
    if (note === '') return; // said with the first column of its group
    warnings.push(note ?? (name === '' ? `Column ${index + 1} has no name and was ignored` : `Unknown column "${name}" was ignored`));
  });
  const applied: ColumnMapping = Object.fromEntries(
    names.flatMap((name, index) => (name === '' ? [] : [[name, byColumn[index]!.field] as const])),
  );
  return {
    columns,
    byColumn,
    applied,
    warnings,
    problems,
    missing: REQUIRED_PRODUCT_FIELDS.filter((field) => !columns.has(field)),
  };
}
