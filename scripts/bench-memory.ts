// npm run bench:memory [-- --imports 10 --rows 500000 --shape text --updates --query '?atomic=true']
// One service (npm start's command, as a child process) takes the same file again and again into an
// emptied table (with --updates: the file and its variant with other values in turn, every row an
// update after the first import), and prints, per import: its peak RSS in the upload and in the processing, what the
// process held at that peak (from /proc/PID/smaps), and what it keeps afterwards. It shows whether
// an import's memory is its own or creeps up across imports. Linux only (/proc). Against
// DATABASE_URL when set, else an embedded PostgreSQL; the file is generated under DATA_DIR/bench/.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.ts';
import { createBenchKey, ensureBenchFile, openBenchDatabase, startServiceProcess, uploadCsvFile } from './bench-support.ts';
import { parseShape } from './generate-products-csv.ts';

const { values } = parseArgs({
  options: {
    imports: { type: 'string', default: '10' },
    rows: { type: 'string', default: '500000' },
    shape: { type: 'string', default: 'text' },
    updates: { type: 'boolean', default: false },
    query: { type: 'string', default: '' },
  },
});
const shape = parseShape(values.shape);
const rows = Number(values.rows);
const benchDir = path.join(loadConfig(process.env).dataDir, 'bench');
await mkdir(benchDir, { recursive: true });
const files = [await ensureBenchFile(benchDir, { shape, rows, variant: 0 }), await ensureBenchFile(benchDir, { shape, rows, variant: 1 })];

/** Resident MB by kind of mapping: the node binary and other files, V8's 256 KB heap pages, malloc's heap, the rest. */
function residentByKind(pid: number): string {
  const kinds: Record<string, number> = {};
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const kb = (Number.parseInt(mapping[2]!, 16) - Number.parseInt(mapping[1]!, 16)) / 1024;
      const name = mapping[3]!;
      kind = name.startsWith('/') ? 'files' : name ? name : kb === 256 ? 'V8 pages' : 'other anonymous';
    } else if (line.startsWith('Rss:')) {
      kinds[kind] = (kinds[kind] ?? 0) + Number(line.split(/\s+/)[1]) / 1024;
    }
  }
  return Object.entries(kinds)
    .filter(([, mb]) => mb >= 1)
    .sort((a, b) => b[1] - a[1])
    .map(([name, mb]) => `${name} ${mb.toFixed(0)}`)
    .join(', ');
}

const database = await openBenchDatabase('lading_bench');
const service = await startServiceProcess({ DATABASE_URL: database.connectionString, DATA_DIR: path.join(benchDir, 'service') });
const pid = service.child.pid!;
try {
  const key = await createBenchKey(database.pool);
  if (values.updates) await database.pool.query('truncate products');
  console.log(`idle: ${service.rssMb().toFixed(0)} MB (${residentByKind(pid)})`);
  const peaks: number[] = [];
  for (let run = 1; run <= Number(values.imports); run++) {
    if (!values.updates) await database.pool.query('truncate products');
    const file = files[values.updates ? run % 2 : 0]!;
    const stream = new WebSocket(`${service.url.replace('http', 'ws')}/v1/events`, { headers: { authorization: `Bearer ${key}` } });
    await new Promise((resolve, reject) => stream.once('open', resolve).once('error', reject));
    service.resetPeakRss();
    let phase: 'upload' | 'processing' = 'upload';
    const phasePeak = { upload: 0, processing: 0 };
    let atPeak = { mb: 0, kinds: '' };
    // Sampled every 5 ms: VmHWM gives the peak itself, the samples say when and of what.
    const sampler = setInterval(() => {
      const mb = service.rssMb();
      phasePeak[phase] = Math.max(phasePeak[phase], mb);
      if (mb > atPeak.mb + 1) atPeak = { mb, kinds: residentByKind(pid) };
    }, 5);
    const started = performance.now();
    const { id } = (await uploadCsvFile(service.url, key, file, values.query)) as { id: string };
    phase = 'processing';
    // What the upload left: malloc's heap keeps its highest size for the process's life.
    console.log(`  after the upload: ${residentByKind(pid)}`);
    await new Promise<void>((resolve) =>
      stream.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; import: { id: string } };
        if (message.type === 'finished' && message.import.id === id) resolve();
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    stream.close();
    peaks.push(service.peakRssMb());
    console.log(
      `import ${run}: ${seconds.toFixed(2)} s, peak ${service.peakRssMb().toFixed(0)} MB ` +
        `(upload ${phasePeak.upload.toFixed(0)}, processing ${phasePeak.processing.toFixed(0)}; at the peak: ${atPeak.kinds}), ` +
        `after ${service.rssMb().toFixed(0)} MB`,
    );
  }
  const sorted = [...peaks].sort((a, b) => a - b);
  console.log(
    `\n${shape}, ${rows} rows, ${peaks.length} imports${values.updates ? ' (updates after the first)' : ''}: peak RSS median ${sorted[sorted.length >> 1]!.toFixed(0)} MB, ` +
      `${sorted[0]!.toFixed(0)}–${sorted.at(-1)!.toFixed(0)} MB`,
  );
} finally {
  await service.stop();
  await database.stop();
}
