import cliProgress from 'cli-progress';
import type { ImportView } from './import-follow.ts';

// How `lading import` shows its progress: bars on a terminal (upload: bytes, MB/s, ETA; processing:
// rows, rows/s, ETA, with a percent only when the row count is known), a plain line every few
// seconds when stdout is a pipe or a file, nothing with --json.

export type DisplayMode = 'bars' | 'lines' | 'quiet';

const number = new Intl.NumberFormat('en-US');
export const formatCount = (n: number) => number.format(Math.round(n));
const mb = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);

export type Display = {
  uploadStarted(totalBytes: number): void;
  uploaded(bytes: number): void;
  uploadDone(bytes: number, ms: number): void;
  processingStarted(totalRows: number | undefined): void;
  processing(view: ImportView): void;
  /** Ends the processing bar; `view` is the finished import. */
  processingDone(view: ImportView): void;
  /** Stops bars and timers (before a prompt, an error, or the end). */
  stop(): void;
  /** A line of its own (not inside a bar). */
  say(line: string): void;
};

export function createDisplay(mode: DisplayMode, out: NodeJS.WriteStream = process.stdout, intervalMs = 2000): Display {
  let bar: cliProgress.SingleBar | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let phaseStart = performance.now();
  let total: number | undefined;
  let uploadTotal = 0;
  let uploadBytes = 0;
  let latest: ImportView | undefined;

  const stopBar = () => {
    bar?.stop();
    bar = undefined;
    clearInterval(ticker);
    ticker = undefined;
  };
  const seconds = () => Math.max((performance.now() - phaseStart) / 1000, 0.001);
  const rowsLine = () => {
    const rows = latest?.rows_processed ?? 0;
    const percent = total ? ` (${Math.min(100, Math.floor((rows / total) * 100))} %)` : '';
    return `processed ${formatCount(rows)} rows${percent}, ${formatCount(rows / seconds())} rows/s`;
  };

  return {
    uploadStarted(totalBytes) {
      uploadTotal = totalBytes;
      phaseStart = performance.now();
      if (mode === 'bars') {
        bar = new cliProgress.SingleBar(
          {
            stream: out,
            format: 'upload     [{bar}] {percentage}% | {done}/{size} MB | {speed} MB/s | ETA {eta_formatted}',
            hideCursor: true,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(totalBytes, 1), 0, { done: mb(0), size: mb(totalBytes), speed: '0.0' });
      } else if (mode === 'lines') {
        ticker = setInterval(() => out.write(`uploaded ${mb(uploadBytes)} of ${mb(uploadTotal)} MB, ${mb(uploadBytes / seconds())} MB/s\n`), intervalMs);
      }
    },
    uploaded(bytes) {
      uploadBytes = bytes;
      bar?.update(bytes, { done: mb(bytes), speed: mb(bytes / seconds()) });
    },
    uploadDone(bytes, ms) {
      if (bar) {
        bar.setTotal(Math.max(bytes, 1));
        bar.update(Math.max(bytes, 1), { done: mb(bytes), speed: mb(bytes / (ms / 1000)) });
      }
      stopBar();
      if (mode === 'lines') out.write(`uploaded ${mb(bytes)} MB in ${(ms / 1000).toFixed(1)} s\n`);
    },
    processingStarted(totalRows) {
      total = totalRows;
      phaseStart = performance.now();
      if (mode === 'bars') {
        const format = total
          ? 'processing [{bar}] {percentage}% | {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}'
          : 'processing {value} rows | {rate} rows/s';
        bar = new cliProgress.SingleBar(
          { stream: out, format, hideCursor: true, etaBuffer: 20, formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? formatCount(v) : String(v)) },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total ?? 0, 0, { rate: '0' });
      } else if (mode === 'lines') {
        ticker = setInterval(() => out.write(`${rowsLine()}\n`), intervalMs);
      }
    },
    processing(view) {
      latest = view;
      if (bar) {
        // The count of lines can be short of the records (never long): grow the total rather than pass 100 %.
        if (total && view.rows_processed > total) bar.setTotal(view.rows_processed);
        bar.update(view.rows_processed, { rate: formatCount(view.rows_processed / seconds()) });
      }
    },
    processingDone(view) {
      latest = view;
      if (bar) {
        // A finished import has read every record: its count is the true total.
        if (total && view.status === 'succeeded') bar.setTotal(Math.max(view.rows_processed, 1));
        bar.update(view.rows_processed, { rate: formatCount(view.rows_processed / seconds()) });
      }
      stopBar();
      if (mode === 'lines' && view.status === 'succeeded') out.write(`${rowsLine().replace(/ \(\d+ %\)/, ' (100 %)')}\n`);
    },
    stop: stopBar,
    say(line) {
      if (mode !== 'quiet') out.write(`${line}\n`);
    },
  };
}
