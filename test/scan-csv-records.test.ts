import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CsvRecord, type ReadOptions, readCsvRecords } from '../src/imports/read-csv-records.ts';
import { scanCsvRecords } from '../src/imports/scan-csv-records.ts';
import { generateProductsCsv, mulberry32 } from '../scripts/generate-products-csv.ts';

// The fast path (scanCsvRecords) must give exactly what csv-parse (readCsvRecords) gives: the same
// records with the same fields, lines, byte offsets and UTF-8 flags, and the same error after the
// same records. Compared on thousands of generated files of every kind, read in chunks of every
// size from 1 byte (so every record, quote, "\r\n" and UTF-8 sequence is cut somewhere).

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lading-scan-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

type Outcome = { records: CsvRecord[]; error: string | null };

async function collect(source: AsyncGenerator<CsvRecord[]>): Promise<Outcome> {
  const records: CsvRecord[] = [];
  try {
    for await (const chunk of source) records.push(...chunk);
    return { records, error: null };
  } catch (error) {
    return { records, error: `${(error as Error).constructor.name}: ${(error as Error).message}` };
  }
}

const PLAIN = ['a', 'b', 'sku-1', ' ', '12.50', 'é', 'ß', '日本', '€', '😀', 'x y'];
const INSIDE_QUOTES = [...PLAIN, ',', ';', '""', '\n', '\r\n', '\r', '\t'];

/** A random CSV file: mostly well formed, with every oddity csv-parse has an opinion on, now and then. */
function randomCsv(random: () => number, delimiter: string): Buffer {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const chance = (p: number) => random() < p;
  const lineEnd = chance(0.5) ? '\n' : '\r\n';
  const parts: Buffer[] = [];
  const text = (s: string) => parts.push(Buffer.from(s, 'utf8'));
  if (chance(0.1)) text('\uFEFF');
  const records = Math.floor(random() * 8);
  for (let r = 0; r < records; r++) {
    if (chance(0.1)) text(chance(0.8) ? lineEnd : pick(['\n', '\r\n', '\r'])); // an empty line
    const fields = 1 + Math.floor(random() * 4);
    for (let f = 0; f < fields; f++) {
      if (f > 0) text(delimiter);
      const roll = random();
      if (roll < 0.45) {
        let value = '';
        const n = Math.floor(random() * 4);
        for (let k = 0; k < n; k++) value += pick(PLAIN);
        text(value);
      } else if (roll < 0.85) {
        let value = '"';
        const n = Math.floor(random() * 5);
        for (let k = 0; k < n; k++) value += pick([...INSIDE_QUOTES, delimiter]);
        text(`${value}"`);
      } else if (roll < 0.88) text(`ab"c`); // a quote inside a plain field
      else if (roll < 0.91) text(`"ab"c`); // text after a closing quote
      else if (roll < 0.93) text(`"unterminated`);
      else if (roll < 0.95) parts.push(Buffer.from(pick([[0xff], [0xc3], [0xe6, 0x97], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x98]])));
      else if (roll < 0.97) text(' "spaced"');
      else text(pick(['', '\r', 'a\rb']));
    }
    if (r < records - 1 || chance(0.7)) text(chance(0.9) ? lineEnd : pick(['\n', '\r\n', '\r']));
    if (chance(0.05)) text(`${lineEnd}${lineEnd}`);
  }
  return Buffer.concat(parts);
}

/** `label` says which file in a failure (its bytes as base64, to reproduce it). */
async function compare(file: string, options: ReadOptions, chunkSizes: number[], label = file): Promise<{ fellBack: boolean }> {
  const expected = await collect(readCsvRecords(file, options));
  let fellBack = false;
  for (const chunkSize of chunkSizes) {
    const actual = await collect(scanCsvRecords(file, { ...options, chunkSize, onFallback: () => (fellBack = true) }));
    expect({ label, chunkSize, ...actual }).toEqual({ label, chunkSize, ...expected });
  }
  return { fellBack };
}

describe('scanCsvRecords gives what csv-parse gives', () => {
  it('on 3,000 generated files, in chunks of 1, 2, 3, 5, 16 and 65,536 bytes', async () => {
    const random = mulberry32(20261129);
    let fast = 0;
    for (let i = 0; i < 3000; i++) {
      const delimiter = i % 5 === 0 ? ';' : i % 7 === 0 ? '\t' : ',';
      const bytes = randomCsv(random, delimiter);
      const file = path.join(dir, `random-${i % 10}.csv`);
      await writeFile(file, bytes);
      const maxRecordSize = i % 4 === 0 ? 24 : 1 << 20;
      const label = `file ${i}, max ${maxRecordSize}, "${delimiter}", base64 ${bytes.toString('base64')}`;
      const { fellBack } = await compare(file, { delimiter, maxRecordSize }, i % 10 === 0 ? [1, 2, 3, 5, 16, 65_536] : [3, 65_536], label);
      if (!fellBack) fast++;
    }
    // Both paths were exercised: the fast one read most files to the end, csv-parse took over in the others.
    expect(fast).toBeGreaterThan(600);
    expect(fast).toBeLessThan(2900);
  });

  it('resuming from a checkpoint (startByte, startLine) mid-file', async () => {
    const random = mulberry32(7);
    for (let i = 0; i < 300; i++) {
      const bytes = randomCsv(random, ',');
      const file = path.join(dir, `resume-${i % 10}.csv`);
      await writeFile(file, bytes);
      const { records } = await collect(readCsvRecords(file, { delimiter: ',', maxRecordSize: 1 << 20 }));
      if (records.length < 2) continue;
      const checkpoint = records[Math.floor(random() * (records.length - 1))]!;
      const label = `file ${i} from byte ${checkpoint.endByte}, base64 ${bytes.toString('base64')}`;
      await compare(file, { delimiter: ',', maxRecordSize: 1 << 20, startByte: checkpoint.endByte, startLine: checkpoint.nextLine }, [1, 7, 65_536], label);
    }
  });

  it('on the kinds of file the bench uses (long quoted text, line breaks, accents, 25 columns)', async () => {
    for (const shape of ['default', 'text', 'wide'] as const) {
      const file = path.join(dir, `${shape}.csv`);
      await generateProductsCsv(file, { rows: 3000, shape, invalidShare: 0.05, seed: 3 }); // invalid values, not invalid CSV
      expect(await compare(file, { delimiter: ',', maxRecordSize: 1 << 20 }, [1000, 65_536])).toEqual({ fellBack: false });
    }
  });
});
