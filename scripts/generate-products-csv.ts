import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export type GenerateOptions = {
  rows: number;
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
  const out = createWriteStream(path);
  const invalidLines: number[] = [];
  let line = 1;
  let chunk = `${HEADER}\n`;
  for (let i = 0; i < options.rows; i++) {
    line++;
    const startLine = line;
    const invalid = invalidShare > 0 && random() < invalidShare;
    const fields = productFields(i, random, variant);
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

function mulberry32(seed: number): () => number {
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
    },
  });
  if (!values.out) {
    process.stderr.write('Usage: npm run fixtures -- --rows 500000 --out FILE [--invalid 0.01] [--seed 42] [--variant 0]\n');
    process.exit(2);
  }
  const started = performance.now();
  const result = await generateProductsCsv(values.out, {
    rows: Number(values.rows),
    invalidShare: Number(values.invalid),
    seed: Number(values.seed),
    variant: Number(values.variant),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `Wrote ${result.rows} rows (${result.invalidLines.length} invalid), ${(result.bytes / 1e6).toFixed(1)} MB to ${result.path} in ${seconds} s\n`,
  );
}
