import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * The file's shape (npm run bench -- --shape):
 * - `default`: short quoted names with a comma, few escaped quotes, nine columns;
 * - `text`: long descriptions with escaped quotes, commas, line breaks inside quotes, HTML and
 *   non-ASCII letters and symbols (é ü ß ø 日本 €), as real product feeds have;
 * - `wide`: 25 columns, the nine known ones spread among 16 that the service ignores;
 * - `mixed`: the default rows; with `variant` 1, half the skus are new and of the other half
 *   (which a variant-0 file of the same rows holds) a fifth keep their values: 50 % inserted,
 *   40 % updated, 10 % unchanged.
 */
export type Shape = 'default' | 'text' | 'wide' | 'mixed';
export const SHAPES: readonly Shape[] = ['default', 'text', 'wide', 'mixed'];

/** A script's --shape value, or exit 2 saying which ones there are (`alsoAccepted`: a script's own extra words). */
export function parseShape(value: string, alsoAccepted = ''): Shape {
  if (SHAPES.includes(value as Shape)) return value as Shape;
  process.stderr.write(`--shape must be one of ${SHAPES.join(', ')}${alsoAccepted}\n`);
  process.exit(2);
}

export type GenerateOptions = {
  rows: number;
  shape?: Shape;
  /** Share of rows made invalid on purpose, 0..1 (every invalid row is listed in the result). */
  invalidShare?: number;
  seed?: number;
  /** Same skus, different prices and quantities: a re-import that updates every row. */
  variant?: number;
};

export type GeneratedFile = { path: string; rows: number; invalidLines: number[]; bytes: number };

const HEADER = 'sku,name,description,price,currency,quantity,category,status,updated_at';
const ADJECTIVES = ['Classic', 'Organic', 'Compact', 'Deluxe', 'Rugged', 'Slim', 'Vintage', 'Smart', 'Eco', 'Pro'];
const NOUNS = ['T-shirt', 'Mug', 'Backpack', 'Lamp', 'Notebook', 'Kettle', 'Sneaker', 'Headphones', 'Chair', 'Poster'];
const COLOURS = ['red', 'blue', 'green', 'black', 'white', 'oak', 'steel', 'sand'];
const CATEGORIES = ['apparel', 'kitchen', 'outdoor', 'lighting', 'stationery', 'audio', 'furniture', 'decor'];
const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'SEK'];
const STATUSES = ['active', 'active', 'active', 'inactive', 'archived'];
const INVALID_KINDS = ['price', 'currency', 'quantity', 'name', 'sku', 'fields', 'status', 'date'] as const;

/** Writes a realistic product CSV (quoted commas, doubled quotes, multi-line descriptions) deterministically. */
export async function generateProductsCsv(path: string, options: GenerateOptions): Promise<GeneratedFile> {
  const random = mulberry32(options.seed ?? 42);
  const variant = options.variant ?? 0;
  const invalidShare = options.invalidShare ?? 0;
  const shape = options.shape ?? 'default';
  const out = createWriteStream(path);
  const invalidLines: number[] = [];
  let line = 1;
  let chunk = `${shape === 'wide' ? WIDE_HEADER.join(',') : HEADER}\n`;
  for (let i = 0; i < options.rows; i++) {
    line++;
    const startLine = line;
    const invalid = invalidShare > 0 && random() < invalidShare;
    const fields = rowFields(shape, i, random, variant, options.rows);
    if (invalid) {
      breakRow(fields, INVALID_KINDS[Math.floor(random() * INVALID_KINDS.length)]!);
      invalidLines.push(startLine);
    }
    const record = fields.map(quote).join(',');
    line += countNewlines(record);
    chunk += `${record}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return { path, rows: options.rows, invalidLines, bytes: out.bytesWritten };
}

function rowFields(shape: Shape, i: number, random: () => number, variant: number, rows: number): string[] {
  if (shape === 'text') {
    const fields = productFields(i, random, variant);
    fields[1] = textName(random);
    fields[2] = textDescription(random);
    return fields;
  }
  if (shape === 'wide') return widen(productFields(i, random, variant), i, random);
  if (shape === 'mixed' && variant > 0) {
    // The same random draws as the variant-0 file, so an unchanged row is the very same line.
    const base = productFields(i, random, 0);
    if (i % 2 === 1) base[0] = `SKU-${String(rows + i).padStart(8, '0')}`; // new
    else if (i % 10 !== 0) {
      base[3] = (Number(base[3]) + 1).toFixed(2); // updated: other price and quantity
      base[5] = String(Number(base[5]) + 1);
    }
    return base;
  }
  return productFields(i, random, variant);
}

const WORDS = ['soft', 'durable', 'hand-finished', 'water-resistant', 'lightweight', 'recycled', 'premium', 'matte', 'glossy', 'breathable'];
const ACCENTED = ['Crème brûlée', 'Größe XL', 'Ærø edition', 'façade', 'naïve', 'Søstrene', 'Straße', 'Müsli', 'jalapeño', 'São Paulo'];
const SYMBOLS = ['€ 12,50 incl. VAT', '日本製', '© Lading GmbH', '½" thread', '±0.5 mm', '→ see size chart', '™', '¼ turn', '✓ tested', '≤ 40 °C'];

function textName(random: () => number): string {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const roll = random();
  if (roll < 0.15) return `${pick(ADJECTIVES)} ${pick(NOUNS)} 12" "${pick(ACCENTED)}"`;
  if (roll < 0.4) return `${pick(ADJECTIVES)} ${pick(NOUNS)}, ${pick(ACCENTED)}`;
  return `${pick(ADJECTIVES)} ${pick(NOUNS)} ${pick(COLOURS)}`;
}

/** 90–250 characters: quotes to escape, commas, inches, HTML, accents and symbols; one in eight spans lines. */
function textDescription(random: () => number): string {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const parts = [
    `The "${pick(ADJECTIVES)}" ${pick(NOUNS).toLowerCase()} is ${pick(WORDS)}, ${pick(WORDS)} and ${pick(WORDS)}.`,
    `Made in ${pick(ACCENTED)} (${pick(SYMBOLS)}), ${pick(COLOURS)} finish.`,
  ];
  const extra = Math.floor(random() * 2);
  for (let k = 0; k < extra; k++) {
    const roll = random();
    if (roll < 0.3) parts.push(`<b>${pick(WORDS)}</b> <i>${pick(ACCENTED)}</i>, fits 12" and 15" frames.`);
    else if (roll < 0.6) parts.push(`Customers call it "the ${pick(WORDS)} one", ${pick(SYMBOLS)}.`);
    else parts.push(`${pick(WORDS)}, ${pick(WORDS)}; ${pick(SYMBOLS)}, size ${Math.floor(random() * 60)} × ${Math.floor(random() * 60)} cm.`);
  }
  return parts.join(random() < 0.125 ? '\n' : ' ');
}

/** Today's nine fields spread among 16 columns the service does not know (and ignores). */
const WIDE_HEADER = [
  'ean', 'sku', 'brand', 'supplier_ref', 'name', 'weight_g', 'colour_code', 'description', 'size_label', 'material',
  'price', 'tax_class', 'currency', 'origin_country', 'quantity', 'warehouse', 'category', 'season', 'status',
  'lead_time_days', 'min_order', 'updated_at', 'hs_code', 'notes', 'image_url',
];
const KNOWN_AT = [1, 4, 7, 10, 12, 14, 16, 18, 21]; // sku, name, description, price, currency, quantity, category, status, updated_at

function widen(known: string[], i: number, random: () => number): string[] {
  const row = [
    String(4_000_000_000_000 + i), '', `Brand ${Math.floor(random() * 40)}`, `SR-${Math.floor(random() * 1e6)}`, '',
    String(Math.floor(random() * 5000)), `C${Math.floor(random() * 99)}`, '', ['S', 'M', 'L', 'XL'][i % 4]!, 'cotton, recycled',
    '', `T${i % 3}`, '', ['DE', 'FR', 'PT', 'CN'][i % 4]!, '', `WH-${i % 7}`, '', ['SS25', 'AW25'][i % 2]!, '',
    String(1 + (i % 30)), String(1 + (i % 12)), '', '6109.10', i % 5 === 0 ? 'ships "as is", no returns' : '',
    `https://img.example.com/p/${i}.jpg`,
  ];
  for (const [k, at] of KNOWN_AT.entries()) row[at] = known[k]!;
  return row;
}

function productFields(i: number, random: () => number, variant: number): string[] {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const adjective = pick(ADJECTIVES);
  const noun = pick(NOUNS);
  const colour = pick(COLOURS);
  const roll = random();
  const description =
    roll < 0.05
      ? `${adjective} ${noun.toLowerCase()} in ${colour}.\nCare: wipe clean, do not bleach.`
      : roll < 0.1
        ? `The "${adjective}" ${noun.toLowerCase()}, ${colour}, made to last`
        : `${adjective} ${noun.toLowerCase()} in ${colour}, sustainably made, ships in 2-3 days`;
  const cents = 99 + Math.floor(random() * 50_000) + variant * 100;
  return [
    `SKU-${String(i).padStart(8, '0')}`,
    `${adjective} ${noun}, ${colour}`,
    description,
    (cents / 100).toFixed(2),
    pick(CURRENCIES),
    String(Math.floor(random() * 1000) + variant),
    pick(CATEGORIES),
    pick(STATUSES),
    new Date(Date.UTC(2024, 0, 1) + Math.floor(random() * 365 * 86_400) * 1000).toISOString(),
  ];
}

function breakRow(fields: string[], kind: (typeof INVALID_KINDS)[number]): void {
  switch (kind) {
    case 'price': fields[3] = '12.345'; break;
    case 'currency': fields[4] = 'EURO'; break;
    case 'quantity': fields[5] = '-3'; break;
    case 'name': fields[1] = ''; break;
    case 'sku': fields[0] = `bad sku ${fields[0]}`; break;
    case 'fields': fields.pop(); break;
    case 'status': fields[7] = 'discontinued'; break;
    case 'date': fields[8] = '2024-02-30'; break;
  }
}

function quote(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function countNewlines(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) count++;
  return count;
}

/** A small seeded random generator: the same seed, the same file. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000' },
      out: { type: 'string' },
      invalid: { type: 'string', default: '0' },
      seed: { type: 'string', default: '42' },
      variant: { type: 'string', default: '0' },
      shape: { type: 'string', default: 'default' },
    },
  });
  const shape = parseShape(values.shape);
  if (!values.out) {
    process.stderr.write('Usage: npm run fixtures -- --rows 500000 --out FILE [--invalid 0.01] [--seed 42] [--variant 0] [--shape default|text|wide|mixed]\n');
    process.exit(2);
  }
  const started = performance.now();
  const result = await generateProductsCsv(values.out, {
    rows: Number(values.rows),
    invalidShare: Number(values.invalid),
    seed: Number(values.seed),
    variant: Number(values.variant),
    shape,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `Wrote ${result.rows} rows (${result.invalidLines.length} invalid), ${(result.bytes / 1e6).toFixed(1)} MB to ${result.path} in ${seconds} s\n`,
  );
}
