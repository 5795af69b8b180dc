import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../scripts/generate-products-csv.ts';
import { productsOfKey, readJson, startTestService, type ImportBody, type TestService } from './helpers/test-service.ts';

// One file, many workers: an upload cut into chunks (IMPORT_CHUNK_BYTES) is parsed by chunk jobs
// in parallel while the import's job writes the batches in order. Whatever ran where, the result
// must be the one a single parser gives: compared here with a service that does not cut uploads,
// on files whose repeated skus, rejected records, quoted line breaks and file-level errors fall in
// every chunk.
let chunked: TestService;
let single: TestService;

beforeAll(async () => {
  const common = { BATCH_SIZE: '100', WORKER_CONCURRENCY: '4' };
  [chunked, single] = await Promise.all([startTestService({ ...common, IMPORT_CHUNK_BYTES: '60000' }), startTestService(common)]);
});
afterAll(async () => {
  await chunked?.stop();
  await single?.stop();
});

/** ~1 MB: products with quoted, multi-line descriptions; skus repeated across the file (some identical), some rejected. */
function productFile(seed: number, rows: number, options: { variant?: number; brokenAt?: number } = {}): string {
  const random = mulberry32(seed);
  const lines = ['sku,name,description,price,currency,quantity,updated_at'];
  for (let i = 0; i < rows; i++) {
    if (options.brokenAt === i) {
      lines.push(`BROKEN-${i},"never closed,1.00,EUR,1,2025-01-01T00:00:00Z`);
      continue;
    }
    // A third of the records repeat an earlier sku: in the same batch, the next one, or chunks away.
    const repeat = i > 10 && random() < 0.33;
    const n = repeat ? Math.floor(random() * i) : i;
    const identical = repeat && random() < 0.5;
    const variant = identical ? 0 : (options.variant ?? 0) + (repeat ? 1 : 0);
    const bad = random() < 0.03;
    const price = bad ? 'free' : `${(n % 500) + variant}.25`;
    const description = n % 4 === 0 ? `"Line one of ${n}\nline two, with ""quotes"""` : `Plain ${n}`;
    lines.push(`SKU-${String(n).padStart(6, '0')},Name ${n},${description},${price},EUR,${n % 90},2025-01-0${1 + (n % 9)}T10:00:00Z`);
  }
  return `${lines.join('\n')}\n`;
}

async function runImport(service: TestService, key: string, csv: string): Promise<ImportBody> {
  const response = await service.uploadCsv(key, csv);
  expect(response.status).toBe(202);
  return service.waitForImport(key, (await readJson(response)).id, 120_000);
}

async function errorsOf(service: TestService, key: string, id: string) {
  const all: unknown[] = [];
  for (let cursor: string | null = ''; cursor !== null; ) {
    const page = await readJson(await service.request(`/v1/imports/${id}/errors?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { key }));
    all.push(...page.items.map(({ line, column, message, values }: Record<string, unknown>) => ({ line, column, message, values })));
    cursor = page.next_cursor;
  }
  return all;
}

const COUNTS = ['status', 'error', 'rows_processed', 'rows_inserted', 'rows_updated', 'rows_unchanged', 'rows_rejected', 'batches_committed'] as const;
const countsOf = (done: ImportBody) => Object.fromEntries(COUNTS.map((name) => [name, (done as Record<string, unknown>)[name]]));

/** The same file (and then a second one over it) into both services: the same outcome in every respect. */
async function compare(files: string[]) {
  const [a, b] = await Promise.all([chunked.createTenant('chunked'), single.createTenant('single')]);
  let chunksSeen = 0;
  for (const csv of files) {
    const watching = watchChunkJobs();
    const [mine, theirs] = await Promise.all([runImport(chunked, a.key, csv), runImport(single, b.key, csv)]);
    chunksSeen += await watching.stop();
    expect(countsOf(mine)).toEqual(countsOf(theirs));
    expect(await errorsOf(chunked, a.key, mine.id)).toEqual(await errorsOf(single, b.key, theirs.id));
  }
  expect(await productsOfKey(chunked.pool, a.key)).toEqual(await productsOfKey(single.pool, b.key));
  return chunksSeen;
}

/** How many chunks chunk jobs (not the import's own job) took, seen while the imports ran. */
function watchChunkJobs() {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await chunked.pool.query(`select import_id || ':' || chunk as id from import_chunks where parsed_by = 'chunk-job'`);
      for (const row of rows) seen.add(row.id);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen.size;
    },
  };
}

describe('a chunked upload (IMPORT_CHUNK_BYTES)', () => {
  it('gives what one parser gives: counts, rejected records with their lines, and products, for new rows and then updates', async () => {
    const chunksByJobs = await compare([productFile(1, 12_000), productFile(1, 12_000, { variant: 7 })]);
    expect(chunksByJobs).toBeGreaterThan(0); // chunk jobs did parse chunks, alongside the import's job
  });

  it('ends at a file-level error in a later chunk as one parser does: the records before it kept, the same message', async () => {
    await compare([productFile(2, 12_000, { brokenAt: 9_000 })]);
  });

  it('parses a chunk itself when its chunk job dropped it (failed, out of attempts), rather than wait', async () => {
    const { key } = await chunked.createTenant('dropped');
    const other = await single.createTenant('dropped-single');
    const csv = productFile(4, 12_000);
    const response = await chunked.uploadCsv(key, csv);
    const { id } = await readJson(response);
    // The last chunk, as a chunk job leaves it when it fails for good: taken, and no job of it left.
    const { rows } = await chunked.pool.query(
      `update import_chunks set status = 'parsing', parsed_by = 'chunk-job'
       where import_id = $1 and chunk = (select max(chunk) from import_chunks where import_id = $1) returning chunk`,
      [id],
    );
    expect(rows).toHaveLength(1);
    await chunked.pool.query(`delete from graphile_worker._private_jobs where key = $1 and locked_at is null`, [`import-chunk:${id}:${rows[0].chunk}`]);
    const [mine, theirs] = await Promise.all([chunked.waitForImport(key, id, 60_000), runImport(single, other.key, csv)]);
    expect(countsOf(mine)).toEqual(countsOf(theirs));
    expect(await productsOfKey(chunked.pool, key)).toEqual(await productsOfKey(single.pool, other.key));
  });

  it('stops every chunk job when the import is cancelled, keeping what was committed and nothing staged', async () => {
    const { key } = await chunked.createTenant('cancel');
    const response = await chunked.uploadCsv(key, productFile(5, 40_000));
    const { id } = await readJson(response);
    // Once chunk jobs have staged something, cancel.
    const deadline = Date.now() + 30_000;
    while ((await chunked.pool.query('select count(*)::int as n from import_chunk_batches where import_id = $1', [id])).rows[0].n === 0) {
      if (Date.now() > deadline) throw new Error('no chunk job staged a batch');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const cancelled = await readJson(await chunked.request(`/v1/imports/${id}/cancel`, { method: 'POST', key }));
    expect(cancelled.status).toBe('cancelled');
    const done = await chunked.waitForImport(key, id);
    expect(done.status).toBe('cancelled');
    // Its batches committed before the cancel stay, and are all it counts; nothing of it is left staged.
    const products = await chunked.pool.query(
      `select count(*)::int as n from products p join api_keys k on k.tenant_id = p.tenant_id where k.key_hash = sha256(convert_to($1, 'UTF8'))`,
      [key],
    );
    expect(products.rows[0].n).toBe(done.rows_inserted);
    expect(done.rows_processed).toBeLessThan(40_000);
    const cleanDeadline = Date.now() + 10_000;
    for (;;) {
      const left = await chunked.pool.query(
        'select (select count(*)::int from import_chunks where import_id = $1) + (select count(*)::int from import_chunk_batches where import_id = $1) as n',
        [id],
      );
      if (left.rows[0].n === 0) break;
      if (Date.now() > cleanDeadline) throw new Error('chunk rows left after the cancel');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  it('cuts nothing smaller than a chunk, and leaves no chunk rows behind', async () => {
    const { key } = await chunked.createTenant('small');
    const done = await runImport(chunked, key, productFile(3, 200));
    expect(done.status).toBe('succeeded');
    const left = await chunked.pool.query('select count(*)::int as chunks, (select count(*)::int from import_chunk_batches) as batches from import_chunks');
    expect(left.rows[0]).toEqual({ chunks: 0, batches: 0 });
  });
});
