import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EncodedBatch } from '../src/imports/batch-builder.ts';
import { startRecordParser } from '../src/imports/record-parser.ts';

// The parser thread's messages reach the import whenever it reads them: run-import.ts opens its
// database connections before it reads the first batch, and a small file is parsed long before.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lading-parser-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** CPU ticks of this process's worker threads (Linux: their name is WorkerThread), or -1 without one. */
function workerThreadTicks(): number {
  let ticks = -1;
  for (const task of readdirSync('/proc/self/task')) {
    const base = `/proc/self/task/${task}`;
    try {
      if (readFileSync(`${base}/comm`, 'utf8').trim() !== 'WorkerThread') continue;
      const fields = readFileSync(`${base}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks = Math.max(ticks, 0) + Number(fields[11]) + Number(fields[12]); // utime + stime
    } catch {
      // the thread ended meanwhile
    }
  }
  return ticks;
}

/** Until the worker thread has done its work and sleeps: its CPU time stops growing. */
async function untilWorkerThreadIdle(): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last = -1;
  for (;;) {
    const ticks = workerThreadTicks();
    if (ticks > 0 && ticks === last) return;
    last = ticks;
    if (Date.now() > deadline) throw new Error('the parser thread never went idle');
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

describe.runIf(process.platform === 'linux')('the parser thread', () => {
  it('keeps a small file’s batch and end until the import reads them, however late', async () => {
    const filePath = path.join(dir, 'small.csv');
    await writeFile(filePath, 'sku,name,price\nP-1,One,1.00\nP-2,Two,2.00\n');
    const parser = startRecordParser({
      source: { kind: 'path', path: filePath },
      read: { delimiter: ',', maxRecordSize: 1 << 20, startByte: 15, startLine: 2 },
      width: 3,
      columns: [['sku', 0], ['name', 1], ['price', 2]],
      batchSize: 1000,
      maxRecords: 1000,
      recordsBefore: 0,
      target: { tenantId: '1', importId: '00000000-0000-4000-8000-000000000001' },
    });
    try {
      await untilWorkerThreadIdle(); // it has sent its batch and its end by now
      const batches: EncodedBatch[] = [];
      for await (const batch of parser.batches) {
        batches.push(batch);
        parser.ack();
      }
      expect(batches.map((batch) => ({ validRows: batch.validRows, processed: batch.processed }))).toEqual([{ validRows: 2, processed: 2 }]);
    } finally {
      await parser.stop();
    }
  }, 30_000);
});
