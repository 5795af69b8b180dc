import { PRODUCT_FIELDS, type ProductField } from '../products/product-values.ts';

// Header names spreadsheets and shop exports commonly use for each product field. A name matches
// an alias when both normalise to the same words (normalizeColumnName): case, punctuation,
// spacing and camelCase do not matter, "#", "No.", "Nr" and "Num" all read as "number", and a
// qualifier in brackets is dropped ("Price (EUR)" is "price"). Each field's own name is an alias
// too ("Updated At", "updatedAt" → updated_at).
//
// Only names that mean the field: "Cost" is not a price, a bare "Type" or "Group" is not a
// category, "ID" may be a database id rather than a sku. Anything else is left to the fuzzy
// suggestions (suggest-mapping.ts), which are shown, never applied.
//
// No zod here: csv-header.ts (loaded by the parser thread) imports this.

export const FIELD_ALIASES: Readonly<Record<ProductField, readonly string[]>> = {
  sku: [
    'SKU Code', 'SKU Number', 'SKU ID', 'Product SKU', 'Variant SKU',
    'Item Number', 'Item #', 'Item Code',
    'Article Number', 'Article No.', 'Art. No.', 'Art.-Nr.',
    'Part Number', 'Part #',
    'Product Code', 'Product Number', 'Stock Code',
  ],
  name: ['Product Name', 'Title', 'Product', 'Product Title', 'Item Name', 'Item Title', 'Article Name'],
  description: ['Details', 'Desc', 'Product Description', 'Item Description', 'Long Description', 'Product Details'],
  price: ['Unit Price', 'Price per Unit', 'Retail Price', 'List Price', 'Sales Price', 'Selling Price', 'Product Price', 'Item Price'],
  currency: ['Curr', 'Cur', 'Ccy', 'Currency Code', 'Price Currency'],
  quantity: [
    'Qty', 'Stock', 'Quantity on hand', 'Qty on hand', 'On Hand', 'Inventory', 'Inventory Quantity', 'Inventory Qty',
    'Stock Quantity', 'Stock Qty', 'Stock Level', 'Available Quantity', 'Available Qty', 'Units in Stock',
  ],
  category: ['Categories', 'Category Name', 'Product Category', 'Product Type', 'Product Group', 'Item Group', 'Department'],
  status: ['State', 'Product Status', 'Item Status'],
  updated_at: [
    'Updated', 'Updated At', 'Updated On', 'Last Updated', 'Last Update',
    'Last Modified', 'Last Modified Date', 'Modified', 'Modified At', 'Modified Date', 'Date Modified', 'Last Changed',
  ],
};

const NUMBER_WORDS = new Set(['no', 'nr', 'num', 'nbr', 'number']);
const CURRENCY_CODES = new Set(Intl.supportedValuesOf('currency').map((code) => code.toLowerCase()));

/**
 * The words of a header name, lower case and single-spaced: "Price (EUR)" → "price",
 * "Art.-Nr." → "art number", "Item #" → "item number", "updatedAt" → "updated at", "Déscription" → "description".
 */
export function normalizeColumnName(name: string): string {
  return name
    .replace(/\s*[([{][^)\]}]*[)\]}]\s*/g, ' ') // a qualifier in brackets: "(EUR)", "[pcs]"
    .normalize('NFKD')
    .replace(/\p{M}/gu, '') // accents
    .replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, '$1 $2') // camelCase
    .replace(/(\p{Lu}+)(\p{Lu}\p{Ll})/gu, '$1 $2') // SKUCode
    .toLowerCase()
    .replaceAll('#', ' number ')
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word !== '')
    .map((word) => (NUMBER_WORDS.has(word) ? 'number' : word))
    .join(' ');
}

const ALIAS_FIELD = new Map<string, ProductField>();
for (const field of PRODUCT_FIELDS) {
  for (const alias of [field, ...FIELD_ALIASES[field]]) {
    const key = normalizeColumnName(alias);
    const other = ALIAS_FIELD.get(key);
    if (other !== undefined && other !== field) throw new Error(`Alias "${alias}" means both ${other} and ${field}`);
    ALIAS_FIELD.set(key, field);
  }
}

/** The field a header name is a common alias of, if it is one. */
export function aliasFieldOf(name: string): ProductField | undefined {
  const key = normalizeColumnName(name);
  const field = ALIAS_FIELD.get(key);
  if (field !== undefined) return field;
  // "Price EUR", "Unit price usd": a currency code after a price name.
  const words = key.split(' ');
  if (words.length > 1 && CURRENCY_CODES.has(words.at(-1)!)) {
    const withoutCode = ALIAS_FIELD.get(words.slice(0, -1).join(' '));
    if (withoutCode === 'price') return withoutCode;
  }
  return undefined;
}

/** Every normalised name that maps to the field: its own name and its aliases (the fuzzy scorer's targets). */
export function aliasKeysOf(field: ProductField): string[] {
  return [...ALIAS_FIELD].filter(([, target]) => target === field).map(([key]) => key);
}
