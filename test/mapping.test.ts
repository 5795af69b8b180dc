import { describe, expect, it } from 'vitest';
import { detectDelimiter, FileLevelError, mapHeader } from '../src/imports/csv-header.ts';
import { aliasFieldOf, FIELD_ALIASES, normalizeColumnName } from '../src/mapping/field-aliases.ts';
import { resolveMapping } from '../src/mapping/resolve-mapping.ts';
import { scoreColumn, suggestMapping } from '../src/mapping/suggest-mapping.ts';
import { PRODUCT_FIELDS } from '../src/products/product-values.ts';

// The pure parts of column mapping; test/column-mapping.test.ts runs them through real imports.

describe('aliases', () => {
  it('normalise case, punctuation, spacing, camelCase, number words and bracketed qualifiers', () => {
    expect(normalizeColumnName('  Price (EUR) ')).toBe('price');
    expect(normalizeColumnName('Art.-Nr.')).toBe('art number');
    expect(normalizeColumnName('Item #')).toBe('item number');
    expect(normalizeColumnName('item_no')).toBe('item number');
    expect(normalizeColumnName('updatedAt')).toBe('updated at');
    expect(normalizeColumnName('SKUCode')).toBe('sku code');
    expect(normalizeColumnName('Déscription')).toBe('description');
  });

  it('map the common names of each field, and leave alone the ones that do not mean it', () => {
    const cases: [string, string | undefined][] = [
      ['Product Name', 'name'], ['Title', 'name'], ['Product', 'name'],
      ['SKU Code', 'sku'], ['Item Number', 'sku'], ['Article No.', 'sku'], ['Item #', 'sku'], ['Part Number', 'sku'], ['sku-code', 'sku'],
      ['Qty', 'quantity'], ['Stock', 'quantity'], ['Quantity on hand', 'quantity'], ['Inventory', 'quantity'],
      ['Price (EUR)', 'price'], ['Unit Price', 'price'], ['Price USD', 'price'], ['Price €', 'price'],
      ['Curr', 'currency'], ['Details', 'description'], ['Product Type', 'category'], ['State', 'status'],
      ['Updated', 'updated_at'], ['Last Modified', 'updated_at'], ['Updated At', 'updated_at'],
      ['Cost', undefined], ['Type', undefined], ['ID', undefined], ['Notes', undefined], ['Qty EUR', undefined],
    ];
    for (const [name, field] of cases) expect(aliasFieldOf(name), name).toBe(field);
  });

  it('have an entry for every product field', () => {
    expect(Object.keys(FIELD_ALIASES).sort()).toEqual([...PRODUCT_FIELDS].sort());
  });
});

describe('resolveMapping', () => {
  it('applies the mapping first, then exact names, then aliases, and shows every named column', () => {
    const header = ['SKU Code', 'Product Name', 'name', 'Qty', 'Notes', ''];
    const resolved = resolveMapping(header, { 'product name ': 'description', NOTES: null });
    expect(resolved.byColumn).toEqual([
      { field: 'sku', how: 'alias' },
      { field: 'description', how: 'explicit' },
      { field: 'name', how: 'exact' },
      { field: 'quantity', how: 'alias' },
      { field: null, how: 'explicit' },
      { field: null, how: null },
    ]);
    expect(resolved.applied).toEqual({ 'SKU Code': 'sku', 'Product Name': 'description', name: 'name', Qty: 'quantity', Notes: null });
    expect(resolved.warnings).toEqual(['Column 6 has no name and was ignored']);
    expect(resolved.problems).toEqual([]);
    expect(resolved.missing).toEqual([]);
  });

  it('ignores a column whose field another column fills, saying which', () => {
    const resolved = resolveMapping(['sku', 'Title', 'name', 'Label'], { Label: 'name' });
    expect(resolved.applied).toEqual({ sku: 'sku', Title: null, name: null, Label: 'name' });
    expect(resolved.warnings).toEqual([
      'Column "Title" was ignored: name comes from column "Label"',
      'Column "name" was ignored: name comes from column "Label"',
    ]);
  });

  it('does not guess between two columns with aliases of one field', () => {
    const resolved = resolveMapping(['sku', 'name', 'Stock', 'Qty']);
    expect(resolved.applied).toEqual({ sku: 'sku', name: 'name', Stock: null, Qty: null });
    expect(resolved.warnings).toEqual(['Columns "Stock" and "Qty" could each be quantity, so neither was used: choose one with mapping']);
  });

  it('reports mapped columns the header lacks and fields mapped twice', () => {
    const resolved = resolveMapping(['A', 'B', 'name'], { A: 'sku', b: 'sku', Missing: 'price', Other: null });
    expect(resolved.problems).toEqual([
      'The mapping names columns the file does not have: "Missing" and "Other"',
      'Columns "A" and "B" are both mapped to sku: map one column to each field',
    ]);
  });

  it('never applies a fuzzy match', () => {
    const resolved = resolveMapping(['Prodct Nme', 'Sku']);
    expect(resolved.missing).toEqual(['name']);
    expect(resolved.applied).toEqual({ 'Prodct Nme': null, Sku: 'sku' });
  });

  it('gives the same columns again from its own applied mapping (a resumed import)', () => {
    const header = ['Product Name', 'SKU Code', 'Stock', 'Qty', 'Notes', 'price'];
    const first = resolveMapping(header, { Notes: null });
    const again = resolveMapping(header, first.applied);
    expect(again.columns).toEqual(first.columns);
    expect(again.applied).toEqual(first.applied);
  });
});

describe('suggestMapping', () => {
  it('says per column which field and how: explicit, template, exact, alias, or a scored fuzzy guess', () => {
    const header = ['Artikel', 'Preis', 'name', 'Qty', 'Prodct Categry', 'Supplier SKU', 'Notes', ''];
    const suggestions = suggestMapping(header, { mapping: { preis: 'price' }, template: { Artikel: 'sku', Preis: null } });
    expect(suggestions).toEqual([
      { column: 'Artikel', field: 'sku', how: 'template' },
      { column: 'Preis', field: 'price', how: 'explicit' },
      { column: 'name', field: 'name', how: 'exact' },
      { column: 'Qty', field: 'quantity', how: 'alias' },
      { column: 'Prodct Categry', field: 'category', how: 'fuzzy', score: scoreColumn('Prodct Categry', 'category') },
      { column: 'Supplier SKU', field: null, how: null }, // sku is taken
      { column: 'Notes', field: null, how: null },
      { column: '', field: null, how: null },
    ]);
    expect(scoreColumn('Prodct Categry', 'category')).toBeGreaterThan(0.8);
  });

  it('suggests each field for one column at most, the best scoring', () => {
    const suggestions = suggestMapping(['sku', 'Prodname', 'Product Nam']);
    expect(suggestions.map((s) => [s.field, s.how])).toEqual([['sku', 'exact'], [null, null], ['name', 'fuzzy']]);
  });
});

describe('mapHeader and detectDelimiter', () => {
  it('fail when sku stays unmapped, listing the columns and the best candidates, on the header line', () => {
    const failure = () => mapHeader(['Product Name', 'Supplier SKU', 'Qty', 'Colour'], undefined, { line: 3 });
    expect(failure).toThrow(FileLevelError);
    expect(failure).toThrow(
      'Missing required column "sku" in the header line (line 3); found: Product Name, Supplier SKU, Qty, Colour. ' +
        'Best candidates for sku: "Supplier SKU" (0.70); choose with mapping, e.g. {"Supplier SKU":"sku"}',
    );
    expect(() => mapHeader(['Label', 'Code Number'])).toThrow('No column looks like name');
  });

  it('find the delimiter from aliases and from the mapping', () => {
    expect(detectDelimiter('Product Name;SKU Code;Qty')).toEqual({ delimiter: ';', detected: true });
    expect(detectDelimiter('Bezeichnung|Artikel', { Bezeichnung: 'name', Artikel: 'sku' })).toEqual({ delimiter: '|', detected: true });
    expect(detectDelimiter('a;b')).toEqual({ delimiter: ',', detected: false });
  });
});
