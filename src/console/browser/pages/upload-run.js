// @ts-check
// One upload and its import, live: the upload bar (bytes, MB/s) while the file is sent, then, as
// soon as the 202 names the import, the processing bar fed by the import's WebSocket stream
// (snapshot, progress, finished), with GET /v1/imports/ID polling if the stream is lost.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { announce, ErrorMessage, formatBytes, formatDuration, formatNumber, ProgressBar, StatusBadge } from '../ui.js';

const FINAL = ['succeeded', 'failed', 'cancelled'];
const POLL_MS = 1000;

/**
 * @typedef {object} ImportView the API's Import (the fields this page reads)
 * @property {string} id
 * @property {string} status
 * @property {number} rows_processed
 * @property {number} rows_inserted
 * @property {number} rows_updated
 * @property {number} rows_unchanged
 * @property {number} rows_rejected
 * @property {string[]} warnings
 * @property {string | null} error
 * @property {{header_row: number, dry_run: boolean, atomic: boolean}} options
 * @property {string | null} started_at
 * @property {string | null} finished_at
 */

/**
 * What a finished import says, in one sentence (shown and announced).
 * @param {ImportView} imp
 */
export function outcomeOf(imp) {
  const counts = `${formatNumber(imp.rows_inserted)} inserted, ${formatNumber(imp.rows_updated)} updated, ${formatNumber(imp.rows_unchanged)} unchanged, ${formatNumber(imp.rows_rejected)} rejected`;
  if (imp.status === 'succeeded') {
    const what = imp.options.dry_run ? 'Dry run finished (no product was written)' : 'Import succeeded';
    return `${what}: ${formatNumber(imp.rows_processed)} rows, ${counts}.`;
  }
  if (imp.status === 'failed') return `Import failed after ${formatNumber(imp.rows_processed)} rows: ${imp.error ?? 'no reason given'}`;
  return `Import cancelled after ${formatNumber(imp.rows_processed)} rows (${counts}).`;
}

/**
 * A bar for work whose total is unknown: no aria-valuenow (screen readers say "busy"), a moving
 * fill until `done`, then full.
 * @param {{label: string, done: boolean, detail: string}} props
 */
function OpenEndedBar({ label, done, detail }) {
  return html`<div class="progress">
    <div class="progress-label"><span>${label}</span><span class="progress-percent">${done ? '100 %' : 'working…'}</span></div>
    ${done
      ? html`<div class="progress-track" role="progressbar" aria-label=${label} aria-valuemin="0" aria-valuemax="100" aria-valuenow="100"><div class="progress-fill" style=${{ width: '100%' }}></div></div>`
      : html`<div class="progress-track indeterminate" role="progressbar" aria-label=${label} aria-valuemin="0" aria-valuemax="100" aria-valuetext="In progress"><div class="progress-fill"></div></div>`}
    <div class="progress-detail">${detail}</div>
  </div>`;
}

/**
 * @typedef {object} RunProps
 * @property {import('../api.js').Api} api
 * @property {File} file
 * @property {string} path POST /v1/imports with its query
 * @property {Record<string, string>} headers
 * @property {number | null} lines the file's line breaks (an estimate of its records), null when unknown
 * @property {() => void} onReset choose another file
 */

/** @param {RunProps} props */
export function ImportRun({ api, file, path, headers, lines, onReset }) {
  const [sent, setSent] = useState({ loaded: 0, total: file.size, seconds: 0 });
  const [uploading, setUploading] = useState(true);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [imp, setImp] = useState(/** @type {ImportView | null} */ (null));
  const [rate, setRate] = useState(/** @type {number | null} */ (null));
  const abort = useRef(/** @type {AbortController | null} */ (null));
  const section = useRef(/** @type {HTMLElement | null} */ (null));

  useEffect(() => {
    section.current?.scrollIntoView({ block: 'start' }); // the form above is long: show the bars
    const controller = new AbortController();
    abort.current = controller;
    /** @type {WebSocket | undefined} */
    let socket;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    let finished = false;
    let unmounted = false;
    /** @type {{t: number, rows: number} | null} */
    let first = null;
    const started = performance.now();

    /** @param {ImportView} view */
    const observe = (view) => {
      const now = performance.now();
      if (FINAL.includes(view.status) && view.started_at && view.finished_at) {
        const seconds = (Date.parse(view.finished_at) - Date.parse(view.started_at)) / 1000;
        setRate(seconds > 0 ? view.rows_processed / seconds : null);
      } else if (!first || (first.rows === 0 && view.rows_processed === 0)) {
        first = { t: now, rows: view.rows_processed };
      } else if (view.rows_processed > first.rows && now - first.t > 200) {
        setRate((view.rows_processed - first.rows) / ((now - first.t) / 1000));
      }
      setImp(view);
      if (FINAL.includes(view.status) && !finished) {
        finished = true;
        socket?.close();
        announce(outcomeOf(view));
      }
    };

    /** @param {string} id */
    const poll = async (id) => {
      if (controller.signal.aborted || finished) return;
      try {
        observe(await api.json(`/v1/imports/${id}`));
      } catch (failure) {
        if (!controller.signal.aborted) setError(failure);
      }
      if (!finished && !controller.signal.aborted) timer = setTimeout(() => poll(id), POLL_MS);
    };

    /** @param {string} id */
    const follow = async (id) => {
      try {
        socket = await api.openEvents(`/v1/imports/${id}/events`);
      } catch {
        return poll(id); // no ticket (e.g. rate limited): follow by polling
      }
      if (controller.signal.aborted) return socket.close();
      socket.onmessage = (event) => {
        /** @type {{type: string, import?: ImportView}} */
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        // snapshot, progress and finished all carry the import; other types are ignored.
        if (['snapshot', 'progress', 'finished'].includes(message.type) && message.import) observe(message.import);
      };
      socket.onclose = () => {
        if (!finished) poll(id); // the stream was lost (server restart, proxy): poll until the end
      };
    };

    api
      .upload(
        path,
        file,
        headers,
        (progress) => setSent({ loaded: progress.loaded, total: progress.total, seconds: (performance.now() - started) / 1000 }),
        controller.signal,
      )
      .then((/** @type {ImportView} */ created) => {
        if (unmounted) return;
        setUploading(false);
        setSent((before) => ({ ...before, loaded: before.total }));
        announce(`Uploaded ${file.name}: import queued.`);
        observe(created);
        if (!FINAL.includes(created.status)) follow(created.id);
      })
      .catch((failure) => {
        if (unmounted) return;
        setUploading(false);
        setError(failure);
        announce(`The upload failed: ${failure.message}`);
      });

    return () => {
      unmounted = true;
      controller.abort();
      socket?.close();
      clearTimeout(timer);
    };
  }, []);

  const done = imp !== null && FINAL.includes(imp.status);

  const speed = sent.seconds > 0 ? sent.loaded / sent.seconds : 0;
  const uploadDetail = `${formatBytes(sent.loaded)} of ${formatBytes(sent.total)}${speed > 0 ? ` · ${(speed / 1e6).toFixed(1)} MB/s` : ''}`;

  return html`<section aria-labelledby="run-heading" class="upload-run" ref=${section}>
    <h2 id="run-heading">4. Import</h2>
    <${ProgressBar} label="Upload" value=${sent.loaded} max=${sent.total || 1} detail=${uploadDetail} />
    ${uploading ? html`<button type="button" class="secondary" onClick=${() => abort.current?.abort()}>Stop the upload</button>` : null}
    <${ErrorMessage} error=${error} />
    ${imp ? html`<${Processing} imp=${imp} lines=${lines} rate=${rate} />` : null}
    ${done && imp
      ? html`<div class=${imp.status === 'failed' ? 'error' : 'notice'}>
          <p><strong>${outcomeOf(imp)}</strong></p>
          <p><a href=${`#/imports/${imp.id}`}>Open the import${imp.rows_rejected > 0 ? ' and its rejected rows' : ''}</a></p>
        </div>`
      : null}
    ${done || error ? html`<button type="button" onClick=${onReset}>Upload another file</button>` : null}
  </section>`;
}

/**
 * The processing bar and the counts. Percent: rows processed against the file's line count (an
 * over-estimate of its records, so at most 99 % until the import finishes); no line count (a
 * workbook): an open-ended bar.
 * @param {{imp: ImportView, lines: number | null, rate: number | null}} props
 */
function Processing({ imp, lines, rate }) {
  const finished = FINAL.includes(imp.status);
  const processed = imp.rows_processed;
  const estimate = lines === null ? null : Math.max(processed, lines - (imp.options.header_row ?? 1));
  const rateText = rate !== null ? ` · ${formatNumber(Math.round(rate))} rows/s` : '';
  let detail;
  if (imp.status === 'queued') detail = 'Queued: waiting for a worker…';
  else if (estimate !== null && !finished) {
    const eta = rate ? (estimate - processed) / rate : null;
    detail = `${formatNumber(processed)} of about ${formatNumber(estimate)} rows${rateText}${eta !== null ? ` · about ${formatDuration(eta)} left` : ''}`;
  } else detail = `${formatNumber(processed)} rows${rateText}`;

  let bar;
  if (estimate === null) bar = html`<${OpenEndedBar} label="Processing" done=${finished} detail=${detail} />`;
  else {
    const percent = imp.status === 'succeeded' ? 100 : estimate > 0 ? Math.min(99, Math.floor((processed / estimate) * 100)) : 0;
    bar = html`<${ProgressBar} label="Processing" value=${percent} max=${100} detail=${detail} />`;
  }
  /** @type {[string, number][]} */
  const counts = [
    ['Rows processed', processed],
    ['Inserted', imp.rows_inserted],
    ['Updated', imp.rows_updated],
    ['Unchanged', imp.rows_unchanged],
    ['Rejected', imp.rows_rejected],
  ];
  return html`<div class="processing">
    <p>Import <code>${imp.id}</code> <${StatusBadge} status=${imp.status} />${imp.options.dry_run ? ' (dry run: the counts say what an import would do)' : ''}</p>
    ${bar}
    ${imp.options.atomic && !finished ? html`<p class="progress-detail">Atomic: inserted, updated and unchanged are settled when the whole file is in.</p>` : null}
    <dl class="cards" aria-label="Counts">
      ${counts.map(([label, value]) => html`<div class="card"><dt class="label">${label}</dt><dd class="value">${formatNumber(value)}</dd></div>`)}
    </dl>
    ${imp.warnings.length > 0
      ? html`<ul class="warning" aria-label="Warnings">${imp.warnings.map((warning) => html`<li>${warning}</li>`)}</ul>`
      : null}
  </div>`;
}
