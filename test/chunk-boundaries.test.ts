import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkBoundaryScanner, type ChunkStart } from '../src/imports/chunk-boundaries.ts';
import { type CsvRecord, readCsvRecords } from '../src/imports/read-csv-records.ts';
import { generateProductsCsv, mulberry32 } from '../scripts/generate-products-csv.ts';

// Chunk starts found while an upload streams must be where csv-parse, reading the whole file,
// has just ended a record: after a whole number of batches of records, on the line it gives. Then
// a parser started at a chunk's start gives exactly the records the whole-file parser gives there.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lading-chunks-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function records(file: string, from: { startByte: number; startLine: number }): Promise<CsvRecord[]> {
  const all: CsvRecord[] = [];
  for await (const chunk of readCsvRecords(file, { delimiter: ',', maxRecordSize: 1 << 20, ...from })) all.push(...chunk);
  return all;
}

/** Valid CSV with every shape a record boundary can hide in: quoted line breaks, "", CRLF, empty lines, a BOM, lines above the header. */
function randomValidCsv(random: () => number): { bytes: Buffer; headerRow: number } {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const chance = (p: number) => random() < p;
  const eol = chance(0.5) ? '\n' : '\r\n';
  const headerRow = chance(0.3) ? 2 + Math.floor(random() * 3) : 1;
  let text = chance(0.2) ? '\uFEFF' : '';
  // Above the header anything goes, an unbalanced quote too: it is skipped unparsed.
  for (let line = 1; line < headerRow; line++) text += `${pick(['Report "Q1', 'generated', '', 'a,"b'])}${eol}`;
  text += `sku,name,description${eol}`;
  const rows = Math.floor(random() * 60);
  for (let r = 0; r < rows; r++) {
    if (chance(0.1)) text += eol; // an empty line
    const field = () =>
      chance(0.5)
        ? pick(['A', 'b-2', '12.5', 'é', '日本', ''])
        : `"${Array.from({ length: Math.floor(random() * 4) }, () => pick(['x', ',', '""', '\n', '\r\n', 'ü'])).join('')}"`;
    text += `${field()},${field()},${field()}`;
    if (r < rows - 1 || chance(0.5)) text += eol;
  }
  return { bytes: Buffer.from(text, 'utf8'), headerRow };
}

/** The scanner fed `bytes` in pieces of `piece` bytes. */
function scan(bytes: Buffer, options: { chunkBytes: number; batchSize: number; headerRow: number }, piece: number): ChunkStart[] {
  const scanner = new ChunkBoundaryScanner(options);
  for (let at = 0; at < bytes.length; at += piece) scanner.push(bytes.subarray(at, at + piece));
  return scanner.starts;
}

async function check(file: string, bytes: Buffer, options: { chunkBytes: number; batchSize: number; headerRow: number }, pieces: number[]) {
  const headerStart = options.headerRow === 1 ? 0 : nthLineStart(bytes, options.headerRow);
  const [header, ...whole] = await records(file, { startByte: headerStart, startLine: options.headerRow });
  const starts = scan(bytes, options, pieces[0]!);
  for (const piece of pieces.slice(1)) expect(scan(bytes, options, piece)).toEqual(starts);
  let last = 0;
  for (const start of starts) {
    expect(start.recordsBefore % options.batchSize).toBe(0);
    expect(start.byte - last).toBeGreaterThanOrEqual(options.chunkBytes);
    last = start.byte;
    // The record before the start ends exactly there, and the line after it is the start's line.
    const before = start.recordsBefore === 0 ? header! : whole[start.recordsBefore - 1]!;
    expect({ byte: before.endByte, line: before.nextLine }).toEqual({ byte: start.byte, line: start.line });
    // A parser started there gives the same records as the whole-file parser.
    const fromStart = await records(file, { startByte: start.byte, startLine: start.line });
    expect(fromStart).toEqual(whole.slice(start.recordsBefore));
  }
  return starts.length;
}

function nthLineStart(bytes: Buffer, line: number): number {
  let at = 0;
  for (let n = 1; n < line; n++) at = bytes.indexOf(0x0a, at) + 1;
  return at;
}

describe('chunk boundaries found while an upload streams', () => {
  it('are record boundaries after whole batches, on 1,500 generated files, fed in pieces of 1, 3, 7 and 64K bytes', async () => {
    const random = mulberry32(17);
    let cut = 0;
    for (let i = 0; i < 1500; i++) {
      const { bytes, headerRow } = randomValidCsv(random);
      const file = path.join(dir, `random-${i % 10}.csv`);
      await writeFile(file, bytes);
      const options = { chunkBytes: 1 + Math.floor(random() * 200), batchSize: 1 + Math.floor(random() * 5), headerRow };
      try {
        cut += await check(file, bytes, options, i % 10 === 0 ? [65_536, 1, 3, 7] : [65_536, 7]);
      } catch (error) {
        throw new Error(`file ${i}, ${JSON.stringify(options)}, base64 ${bytes.toString('base64')}: ${(error as Error).message}`);
      }
    }
    expect(cut).toBeGreaterThan(1500); // files were cut, most of them several times
  });

  it('cut the bench’s text file (quoted descriptions over several lines) into chunks of whole batches', async () => {
    const file = path.join(dir, 'text.csv');
    await generateProductsCsv(file, { rows: 20_000, shape: 'text', seed: 9 });
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(file);
    const chunks = await check(file, bytes, { chunkBytes: 500_000, batchSize: 1000, headerRow: 1 }, [65_536, 16_384]);
    expect(chunks).toBeGreaterThan(5);
  });
});
