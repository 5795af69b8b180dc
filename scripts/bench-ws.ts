// npm run bench:ws -- --subscribers 1000 [--rows 100000] [--shape default|text|wide|mixed]
// N WebSocket subscribers on one running import; prints NOTIFY→client latency (p50/p99) and the
// service's memory. The service runs as a child process (bin/lading-server.js) against the bench's database.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import WebSocket from 'ws';
import { IMPORT_EVENTS_CHANNEL, type LiveEventMessage, parseNotification } from '../src/events/live-events.ts';
import { createBenchKey, openBenchDatabase, percentile, startServiceProcess, uploadCsvFile } from './bench-support.ts';
import { generateProductsCsv, parseShape } from './generate-products-csv.ts';

const { values } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '1000' },
    rows: { type: 'string', default: '100000' },
    shape: { type: 'string', default: 'default' },
  },
});
const shape = parseShape(values.shape);
const subscribers = Number(values.subscribers);
const rows = Number(values.rows);

const database = await openBenchDatabase('lading_bench_ws');
const workDir = await mkdtemp(path.join(os.tmpdir(), 'lading-bench-ws-'));
// A thousand subscribers on one API key is the point here, not abuse.
const service = await startServiceProcess({ DATABASE_URL: database.connectionString, DATA_DIR: workDir, RATE_LIMIT_REQUESTS: '0' });
try {
  const key = await createBenchKey(database.pool);
  const file = await generateProductsCsv(path.join(workDir, 'products.csv'), { rows, seed: 1, shape });

  // When each batch's NOTIFY reaches a listener: the start of every latency measured here.
  const notifiedAt = new Map<number, number>();
  const listener = new pg.Client({ connectionString: database.connectionString });
  // Stopping the database in `finally` ends these connections: that must not hide the first error.
  listener.on('error', () => {});
  await listener.connect();
  await listener.query(`listen ${IMPORT_EVENTS_CHANNEL}`);
  listener.on('notification', (message) => {
    const notification = parseNotification(message.payload ?? '');
    if (notification?.type === 'progress') notifiedAt.set(notification.batchesCommitted, performance.now());
  });

  // Park the import before its first batch so every subscriber sees it from the start.
  const lock = new pg.Client({ connectionString: database.connectionString });
  lock.on('error', () => {});
  await lock.connect();
  await lock.query('begin; lock table products in share mode');

  const { id } = (await uploadCsvFile(service.url, key, file.path)) as { id: string };
  const rssBefore = service.rssMb();

  const received: { seq: number; at: number }[][] = [];
  const connectStarted = performance.now();
  const finished = await Promise.all(
    Array.from({ length: subscribers }, (_, index) => {
      const arrivals: { seq: number; at: number }[] = [];
      received[index] = arrivals;
      return new Promise<{ snapshot: Promise<void>; done: Promise<number> }>((resolveSocket, reject) => {
        const socket = new WebSocket(`${service.url.replace('http', 'ws')}/v1/imports/${id}/events`, {
          headers: { authorization: `Bearer ${key}` },
        });
        let snapshotSeen!: () => void;
        const snapshot = new Promise<void>((resolve) => (snapshotSeen = resolve));
        const done = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
        socket.on('message', (data) => {
          const message = JSON.parse(String(data)) as LiveEventMessage;
          if (message.type === 'snapshot') snapshotSeen();
          if (message.type === 'progress') arrivals.push({ seq: message.seq, at: performance.now() });
        });
        socket.on('error', reject);
        socket.on('open', () => resolveSocket({ snapshot, done }));
      });
    }),
  );
  await Promise.all(finished.map((f) => f.snapshot));
  const connectSeconds = (performance.now() - connectStarted) / 1000;
  const rssConnected = service.rssMb();

  const started = performance.now();
  await lock.query('commit');
  const codes = await Promise.all(finished.map((f) => f.done));
  const importSeconds = (performance.now() - started) / 1000;

  const latencies: number[] = [];
  let missing = 0;
  for (const arrivals of received) {
    for (const { seq, at } of arrivals) {
      const sent = notifiedAt.get(seq);
      if (sent === undefined) missing++;
      else latencies.push(at - sent);
    }
  }
  latencies.sort((a, b) => a - b);
  const batches = Math.ceil(rows / 1000);
  const complete = received.filter((arrivals) => arrivals.length === batches).length;

  const format = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(`\nbench:ws — ${subscribers} subscribers on one import of ${rows} rows of shape ${shape} (${batches} batches), ${os.cpus().length} cores`);
  console.table({
    'subscribers connected (snapshot received)': `${subscribers} in ${connectSeconds.toFixed(2)} s`,
    'subscribers with every batch, then close 1000': `${complete} / ${subscribers}${codes.every((c) => c === 1000) ? '' : ' (some closed otherwise)'}`,
    'progress messages measured': `${latencies.length}${missing ? ` (${missing} without a NOTIFY time)` : ''}`,
    'NOTIFY → client latency p50': format(percentile(latencies, 50)),
    'NOTIFY → client latency p99': format(percentile(latencies, 99)),
    'NOTIFY → client latency max': format(latencies.at(-1) ?? NaN),
    'import duration while streaming': `${importSeconds.toFixed(2)} s`,
    'service RSS before subscribers': `${rssBefore.toFixed(0)} MB`,
    'service RSS with subscribers connected': `${rssConnected.toFixed(0)} MB`,
    'service peak RSS (VmHWM)': `${service.peakRssMb().toFixed(0)} MB`,
  });
  await listener.end();
  await lock.end();
} finally {
  await service.stop();
  await database.stop();
  await rm(workDir, { recursive: true, force: true });
}
