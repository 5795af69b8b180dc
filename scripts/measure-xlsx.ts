import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse';
import ExcelJS from 'exceljs';
import { loadConfig } from '../src/config.ts';
import { createBenchKey, openBenchDatabase, startServiceProcess, timeImport, type ServiceProcess } from './bench-support.ts';
import { generateProductsCsv } from './generate-products-csv.ts';

// .xlsx import: time and the service's peak RSS for a workbook of the benchmark's products
// (`npm run fixtures`' rows, written by exceljs's streaming writer with shared strings and date
// cells, as Excel stores them), next to the same rows as CSV. One run each:
//   node scripts/measure-xlsx.ts [--rows 500000]

const { values } = parseArgs({ options: { rows: { type: 'string', default: '500000' } } });
const rows = Number(values.rows);
const config = loadConfig(process.env);
const benchDir = path.join(config.dataDir, 'bench');
await mkdir(benchDir, { recursive: true });

const csv = path.join(benchDir, `products-${rows}.csv`);
if (!existsSync(csv)) {
  process.stdout.write(`generating ${rows} rows into ${csv}…\n`);
  await generateProductsCsv(csv, { rows, seed: 42 });
}
const xlsx = path.join(benchDir, `products-${rows}.xlsx`);
if (!existsSync(xlsx)) {
  process.stdout.write(`writing them as a workbook into ${xlsx}…\n`);
  await writeWorkbook(csv, xlsx);
}
process.stdout.write(`workbook ${(statSync(xlsx).size / 1e6).toFixed(1)} MB, CSV ${(statSync(csv).size / 1e6).toFixed(1)} MB\n`);

const database = await openBenchDatabase('lading_bench_xlsx');
const service = await startServiceProcess({
  DATABASE_URL: database.connectionString,
  DATA_DIR: path.join(benchDir, 'service-xlsx'),
  LOG_LEVEL: 'info',
});
let conversionMs = Number.NaN;
let conversionEndedAt = Number.NaN;
let logTail = '';
service.child.stdout!.on('data', (chunk: Buffer) => {
  const lines = (logTail + chunk.toString()).split('\n');
  logTail = lines.pop() ?? '';
  for (const line of lines) {
    if (!line.includes('workbook converted to CSV')) continue;
    conversionMs = (JSON.parse(line) as { ms: number }).ms;
    conversionEndedAt = performance.now();
  }
});
try {
  const key = await createBenchKey(database.pool);
  const idleRssMb = service.rssMb();
  await database.pool.query('truncate products');
  // RSS sampled every 20 ms: the peak until the conversion ends (upload and conversion), apart from the whole import's.
  const samples: { at: number; rssMb: number }[] = [];
  const sampler = setInterval(() => samples.push({ at: performance.now(), rssMb: service.rssMb() }), 20);
  const fromXlsx = await measureImport(service, key, xlsx);
  clearInterval(sampler);
  const conversionPeakMb = Math.max(...samples.filter((sample) => sample.at <= conversionEndedAt).map((sample) => sample.rssMb));
  await database.pool.query('truncate products');
  const fromCsv = await measureImport(service, key, csv);
  console.log(`\n${rows.toLocaleString('en')} rows, ${os.cpus().length} cores; service idle RSS ${Math.round(idleRssMb)} MB`);
  console.table({
    '.xlsx: upload → succeeded': {
      's': fromXlsx.seconds.toFixed(2),
      'conversion s': (conversionMs / 1000).toFixed(2),
      'rows/s': Math.round(rows / fromXlsx.seconds).toLocaleString('en'),
      'peak RSS MB': Math.round(fromXlsx.peakRssMb),
      'until converted: peak RSS MB (sampled)': Math.round(conversionPeakMb),
    },
    'CSV: upload → succeeded': {
      's': fromCsv.seconds.toFixed(2),
      'conversion s': '',
      'rows/s': Math.round(rows / fromCsv.seconds).toLocaleString('en'),
      'peak RSS MB': Math.round(fromCsv.peakRssMb),
      'until converted: peak RSS MB (sampled)': '',
    },
  });
} finally {
  await service.stop();
  await database.stop();
}

/** Upload → `finished` (seen on the tenant's event stream), every row inserted. */
async function measureImport(target: ServiceProcess, apiKey: string, file: string): Promise<{ seconds: number; peakRssMb: number }> {
  type Final = { id: string; status: string; rows_inserted: number; error: string | null };
  const { final, seconds, peakRssMb } = await timeImport<Final>(target, apiKey, file);
  if (final.status !== 'succeeded' || final.rows_inserted !== rows) throw new Error(`unexpected outcome: ${JSON.stringify(final)}`);
  return { seconds, peakRssMb };
}

/** The CSV's rows as a workbook: numbers as numbers, updated_at as date cells, the rest as (shared) strings. */
async function writeWorkbook(source: string, target: string): Promise<void> {
  const partial = `${target}.partial`;
  const book = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: partial, useSharedStrings: true, useStyles: true });
  const sheet = book.addWorksheet('Products');
  let header: string[] | undefined;
  for await (const record of createReadStream(source).pipe(parse()) as AsyncIterable<string[]>) {
    if (!header) {
      header = record;
      sheet.addRow(record).commit();
      continue;
    }
    const row = sheet.addRow(
      record.map((value, i) => {
        const column = header![i];
        if (column === 'price' || column === 'quantity') return Number(value);
        if (column === 'updated_at') return new Date(value);
        return value;
      }),
    );
    row.getCell(header.indexOf('updated_at') + 1).numFmt = 'yyyy-mm-dd hh:mm:ss';
    row.commit();
  }
  await book.commit();
  await rename(partial, target);
}
