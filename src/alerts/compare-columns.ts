import { createHash } from 'node:crypto';
import { distance } from 'fastest-levenshtein';
import { aliasFieldOf, normalizeColumnName } from '../mapping/field-aliases.ts';
import type { ProductField } from '../products/product-values.ts';

// How two imports' columns differ: pure, so its rules are easy to read and to test.
//
// Columns are the same column when their names are equal ignoring case and surrounding spaces
// (the way an import matches header names); order never matters. What one import has and the
// other lacks is added or removed. A removed and an added column are paired as "renamed" when
// they look like one column under a new name, strongest reason first:
//   1. both fill the same product field ("Qty" → "Quantity", "price" → "price_eur"), by the
//      import's mapping or by a common alias (src/mapping/field-aliases.ts);
//   2. their names are the same words ("Unit Price" → "unit_price", "Art.-Nr." → "Art Nr");
//   3. the words of one are all in the other ("Notes" → "Internal notes");
//   4. they are a small edit apart: Levenshtein distance at most a quarter of the longer name
//      (at least 4 characters), e.g. "Colour" → "Color", "Categry" → "Category".
// Two columns that fill different fields are never paired. Each column is paired at most once,
// the strongest pairs first (then the closest names, then header order), so the result is the
// same every time for the same columns.

export type Column = { name: string; field: ProductField | null };
export type Rename = { from: string; to: string };
export type ColumnChanges = { added: string[]; removed: string[]; renamed: Rename[] };

const keyOf = (name: string) => name.trim().toLowerCase();

/** Columns by key, first occurrence kept, blank names left out. */
function byKey(columns: readonly Column[]): Map<string, Column> {
  const map = new Map<string, Column>();
  for (const column of columns) {
    const key = keyOf(column.name);
    if (key !== '' && !map.has(key)) map.set(key, { name: column.name.trim(), field: column.field });
  }
  return map;
}

/** How strongly a removed and an added column look like one renamed column: 0 = not at all. */
export function renameStrength(removed: Column, added: Column): number {
  const fieldBefore = removed.field ?? aliasFieldOf(removed.name) ?? null;
  const fieldAfter = added.field ?? aliasFieldOf(added.name) ?? null;
  if (fieldBefore !== null && fieldAfter !== null) return fieldBefore === fieldAfter ? 4 : 0;
  const before = normalizeColumnName(removed.name);
  const after = normalizeColumnName(added.name);
  if (before === '' || after === '') return 0;
  if (before === after) return 3;
  const [fewer, more] = [before.split(' '), after.split(' ')].sort((a, b) => a.length - b.length) as [string[], string[]];
  if (fewer.every((word) => more.includes(word))) return 2;
  const longest = Math.max(before.length, after.length);
  if (Math.min(before.length, after.length) >= 4 && distance(before, after) <= Math.floor(longest / 4)) return 1;
  return 0;
}

/** What changed from `before` to `after`; null when the two have the same columns. */
export function compareColumns(before: readonly Column[], after: readonly Column[]): ColumnChanges | null {
  const was = byKey(before);
  const now = byKey(after);
  const removed = [...was].filter(([key]) => !now.has(key)).map(([, column]) => column);
  const added = [...now].filter(([key]) => !was.has(key)).map(([, column]) => column);
  if (removed.length === 0 && added.length === 0) return null;

  const candidates = removed.flatMap((from, i) =>
    added.map((to, j) => ({
      i,
      j,
      strength: renameStrength(from, to),
      apart: distance(normalizeColumnName(from.name), normalizeColumnName(to.name)),
    })),
  );
  candidates.sort((a, b) => b.strength - a.strength || a.apart - b.apart || a.i - b.i || a.j - b.j);
  const pairedFrom = new Set<number>();
  const pairedTo = new Set<number>();
  const pairs: { i: number; j: number }[] = [];
  for (const candidate of candidates) {
    if (candidate.strength === 0) break;
    if (pairedFrom.has(candidate.i) || pairedTo.has(candidate.j)) continue;
    pairedFrom.add(candidate.i);
    pairedTo.add(candidate.j);
    pairs.push(candidate);
  }
  pairs.sort((a, b) => a.i - b.i);
  return {
    added: added.filter((_, j) => !pairedTo.has(j)).map((column) => column.name),
    removed: removed.filter((_, i) => !pairedFrom.has(i)).map((column) => column.name),
    renamed: pairs.map(({ i, j }) => ({ from: removed[i]!.name, to: added[j]!.name })),
  };
}

/**
 * The same change gives the same signature: the source with the added and removed column keys
 * (renames included, as their two names), sorted. Hashed: names can be long, an index entry not.
 */
export function driftSignature(source: string, changes: ColumnChanges): string {
  const added = [...changes.added, ...changes.renamed.map((r) => r.to)].map(keyOf).sort();
  const removed = [...changes.removed, ...changes.renamed.map((r) => r.from)].map(keyOf).sort();
  return createHash('sha256').update(JSON.stringify([source, added, removed])).digest('hex');
}

/** The changes in words, for the import's warning and the alert's message. */
export function describeChanges(changes: ColumnChanges): string {
  const names = (list: string[]) => list.map((name) => `"${name}"`).join(', ');
  const parts: string[] = [];
  if (changes.renamed.length > 0) parts.push(`renamed ${changes.renamed.map((r) => `"${r.from}" → "${r.to}"`).join(', ')}`);
  if (changes.added.length > 0) parts.push(`added ${names(changes.added)}`);
  if (changes.removed.length > 0) parts.push(`removed ${names(changes.removed)}`);
  return parts.join('; ');
}
