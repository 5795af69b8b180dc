// @ts-check
// One import: its counts, timings, file facts, mapping, warnings and schema drift, its rejected rows
// (keyset pages of GET /v1/imports/ID/errors, so 100K of them are fine), errors.csv as a download,
// and Cancel. While it is queued or processing it follows the import's own live stream (and polls
// GET /v1/imports/ID if the stream is lost).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { announce, ErrorMessage, formatBytes, formatDuration, formatNumber, formatTime, Pager, StatusBadge } from '../ui.js';
import { FINAL_STATUSES, importName, importOfMessage, secondsOf } from './imports.js';

/** @typedef {import('./imports.js').ImportView} ImportView */
/** @typedef {{line: number, column: string | null, message: string, values: string[]}} RejectedRow */

const ERRORS_PAGE_SIZE = 50;
const POLL_MS = 2000;
/** @type {Record<string, string>} */
const DELIMITERS = { ',': 'comma (,)', ';': 'semicolon (;)', '\t': 'tab', '|': 'pipe (|)' };

/** @param {ImportView} imp */
function outcomeOf(imp) {
  if (imp.status === 'succeeded') return `Import ${importName(imp)} succeeded: ${formatNumber(imp.rows_processed)} rows, ${formatNumber(imp.rows_rejected)} rejected.`;
  if (imp.status === 'failed') return `Import ${importName(imp)} failed: ${imp.error ?? 'no reason given'}`;
  if (imp.status === 'cancelled') return `Import ${importName(imp)} cancelled after ${formatNumber(imp.rows_processed)} rows.`;
  return `Import ${importName(imp)} is ${imp.status}.`;
}

/** @param {import('../app.js').PageProps} props */
export function ImportDetailPage({ api, params }) {
  const id = params[0];
  const [imp, setImp] = useState(/** @type {ImportView | null} */ (null));
  const [loadError, setLoadError] = useState(/** @type {unknown} */ (null));
  const [following, setFollowing] = useState(/** @type {'no' | 'live' | 'polling'} */ ('no'));
  const lastStatus = useRef(/** @type {string | null} */ (null));
  const [, setTick] = useState(0);
  const running = imp !== null && !FINAL_STATUSES.includes(imp.status);

  // While it runs, "Duration … so far" and rows per second move every second.
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setTick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [running]);

  useEffect(() => {
    /** @type {WebSocket | undefined} */
    let socket;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    let closed = false;

    /** @param {ImportView} view */
    const observe = (view) => {
      if (closed) return;
      const before = lastStatus.current;
      lastStatus.current = view.status;
      setImp(view);
      if (before !== null && before !== view.status) announce(outcomeOf(view));
      if (FINAL_STATUSES.includes(view.status)) {
        setFollowing('no');
        socket?.close();
        clearTimeout(timer);
      }
    };
    const poll = async () => {
      if (closed) return;
      setFollowing('polling');
      try {
        observe(await api.json(`/v1/imports/${id}`));
      } catch (failure) {
        if (!closed) setLoadError(failure);
      }
      if (!closed && !FINAL_STATUSES.includes(lastStatus.current ?? '')) timer = setTimeout(poll, POLL_MS);
    };
    const follow = async () => {
      try {
        socket = await api.openEvents(`/v1/imports/${id}/events`);
      } catch {
        return poll(); // no ticket (rate limited, server busy): follow by polling
      }
      if (closed) return socket.close();
      socket.onopen = () => setFollowing('live');
      socket.onmessage = (event) => {
        const view = importOfMessage(event.data);
        if (view) observe(view);
      };
      socket.onclose = () => {
        // The server closes after `finished`; closed before that: the stream was lost.
        if (!closed && !FINAL_STATUSES.includes(lastStatus.current ?? '')) poll();
      };
    };

    api
      .json(`/v1/imports/${id}`)
      .then((/** @type {ImportView} */ view) => {
        observe(view);
        if (!FINAL_STATUSES.includes(view.status)) follow();
      })
      .catch((failure) => {
        if (!closed) setLoadError(failure);
      });
    return () => {
      closed = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [id]);

  if (!imp) {
    return html`<p class="back-link"><a href="#/imports">← All imports</a></p>
      <h1>Import</h1>
      ${loadError ? html`<${ErrorMessage} error=${loadError} />` : html`<p class="loading">Loading the import…</p>`}`;
  }

  return html`<p class="back-link"><a href="#/imports">← All imports</a></p>
    <h1 tabindex="-1">Import ${importName(imp)}</h1>
    <p class="import-status">
      <${StatusBadge} status=${imp.status} />
      ${imp.options.dry_run ? html` <span class="imports-tag">dry run: no product was written</span>` : null}
      ${' '}<span class="import-id">id <code>${imp.id}</code></span>
      ${running ? html` <span class="live-state">${following === 'live' ? 'Live updates on' : following === 'polling' ? 'Checking every 2 s' : 'Connecting…'}</span>` : null}
    </p>
    <${ErrorMessage} error=${loadError} />
    ${imp.status === 'failed' && imp.error ? html`<div class="error"><strong>Why it failed:</strong> ${imp.error}</div>` : null}
    ${imp.status === 'cancelled' ? html`<p class="notice">${imp.error ?? 'Cancelled.'} Rows committed before the cancel stay.</p>` : null}
    ${running ? html`<${CancelImport} api=${api} imp=${imp} onCancelled=${(/** @type {ImportView} */ view) => {
      const before = lastStatus.current;
      lastStatus.current = view.status;
      setImp(view);
      if (before !== view.status) announce(outcomeOf(view));
    }} />` : null}
    <${Counts} imp=${imp} />
    <div class="import-facts">
      <section aria-labelledby="timings-heading">
        <h2 id="timings-heading">Timings</h2>
        <${Timings} imp=${imp} />
      </section>
      <section aria-labelledby="file-heading">
        <h2 id="file-heading">File</h2>
        <${FileFacts} imp=${imp} />
      </section>
    </div>
    <${Notices} imp=${imp} />
    ${imp.mapping && Object.keys(imp.mapping).length > 0 ? html`<${MappingTable} mapping=${imp.mapping} />` : null}
    <${RejectedRows} api=${api} imp=${imp} />`;
}

/** @param {{imp: ImportView}} props */
function Counts({ imp }) {
  /** @type {[string, number][]} */
  const counts = [
    ['Rows processed', imp.rows_processed],
    ['Inserted', imp.rows_inserted],
    ['Updated', imp.rows_updated],
    ['Unchanged', imp.rows_unchanged],
    ['Rejected', imp.rows_rejected],
    ['Batches', imp.batches_committed],
  ];
  return html`<dl class="cards" aria-label="Counts">
    ${counts.map(([label, value]) => html`<div class="card"><dt class="label">${label}</dt><dd class="value">${formatNumber(value)}</dd></div>`)}
  </dl>
  ${imp.options.atomic && !FINAL_STATUSES.includes(imp.status) ? html`<p class="progress-detail">Atomic: inserted, updated and unchanged are settled when the whole file is in.</p>` : null}`;
}

/** @param {{imp: ImportView}} props */
function Timings({ imp }) {
  const seconds = secondsOf(imp);
  const rate = seconds !== null && seconds > 0 ? imp.rows_processed / seconds : null;
  const waited = imp.started_at ? (Date.parse(imp.started_at) - Date.parse(imp.created_at)) / 1000 : null;
  return html`<dl class="facts">
    <dt>Uploaded</dt><dd>${formatTime(imp.created_at)}</dd>
    <dt>Started</dt><dd>${imp.started_at ? formatTime(imp.started_at) : 'Not yet'}</dd>
    <dt>Finished</dt><dd>${imp.finished_at ? formatTime(imp.finished_at) : 'Not yet'}</dd>
    <dt>Waited in queue</dt><dd>${formatDuration(waited === null ? null : Math.max(0, waited))}</dd>
    <dt>Duration</dt><dd>${formatDuration(seconds)}${imp.finished_at ? '' : seconds !== null ? ' so far' : ''}</dd>
    <dt>Rows per second</dt><dd>${rate === null ? '—' : formatNumber(Math.round(rate))}</dd>
  </dl>`;
}

/** @param {{imp: ImportView}} props */
function FileFacts({ imp }) {
  const o = imp.options;
  const options = [
    o.template ? `template “${o.template}”` : null,
    o.header_row !== 1 ? `header on line ${o.header_row}` : null,
    o.sheet ? `sheet “${o.sheet}”` : null,
    o.dry_run ? 'dry run' : null,
    o.atomic ? 'atomic' : null,
    o.max_errors !== null ? `max_errors=${o.max_errors}` : null,
    o.max_error_rate !== null ? `max_error_rate=${o.max_error_rate}` : null,
  ].filter(Boolean);
  return html`<dl class="facts">
    <dt>Name</dt><dd>${imp.filename ?? '—'}</dd>
    <dt>Size</dt><dd>${formatBytes(imp.bytes)}</dd>
    <dt>Source</dt><dd>${imp.source ?? '—'}</dd>
    <dt>Encoding</dt><dd>${imp.encoding ?? '—'}</dd>
    <dt>Delimiter</dt><dd>${imp.delimiter === null ? '—' : (DELIMITERS[imp.delimiter] ?? imp.delimiter)}</dd>
    <dt>Options</dt><dd>${options.length > 0 ? options.join(', ') : 'defaults'}</dd>
    <dt>SHA-256</dt><dd><code class="import-sha">${imp.sha256}</code></dd>
  </dl>`;
}

/** Warnings and schema drift, as notices. @param {{imp: ImportView}} props */
function Notices({ imp }) {
  const drift = imp.schema_drift;
  if (imp.warnings.length === 0 && !drift) return null;
  /** @param {string[]} names */
  const columns = (names) => names.map((name, i) => html`${i > 0 ? ', ' : ''}<code>${name}</code>`);
  return html`<section aria-labelledby="notices-heading">
    <h2 id="notices-heading">Warnings</h2>
    ${imp.warnings.length > 0 ? html`<ul class="warning" aria-label="Warnings">${imp.warnings.map((warning) => html`<li>${warning}</li>`)}</ul>` : null}
    ${drift
      ? html`<div class="warning import-drift" role="group" aria-label="Schema drift">
          <p><strong>Columns changed</strong> since the previous successful import of source <code>${imp.source}</code>
            (<a href=${`#/imports/${drift.baseline_import_id}`}>the baseline import</a>; ${drift.compared === 'mapped_columns' ? 'mapped columns compared' : 'whole header compared'}).</p>
          <ul class="import-drift-list">
            ${drift.renamed.length > 0 ? html`<li>Renamed: ${drift.renamed.map((r, i) => html`${i > 0 ? ', ' : ''}<code>${r.from}</code> → <code>${r.to}</code>`)}</li>` : null}
            ${drift.added.length > 0 ? html`<li>Added: ${columns(drift.added)}</li>` : null}
            ${drift.removed.length > 0 ? html`<li>Removed: ${columns(drift.removed)}</li>` : null}
          </ul>
          <p>A schema drift alert was raised or counted again: see <a href="#/stats">Statistics and alerts</a>.</p>
        </div>`
      : null}
  </section>`;
}

/** @param {{mapping: Record<string, string | null>}} props */
function MappingTable({ mapping }) {
  return html`<section aria-labelledby="mapping-heading">
    <h2 id="mapping-heading">Column mapping</h2>
    <div class="table-wrap">
      <table aria-labelledby="mapping-heading" class="import-mapping">
        <thead><tr><th scope="col">File column</th><th scope="col">Product field</th></tr></thead>
        <tbody>
          ${Object.entries(mapping).map(
            ([column, field]) => html`<tr><th scope="row"><code>${column}</code></th><td>${field === null ? html`<span class="import-ignored">ignored</span>` : html`<code>${field}</code>`}</td></tr>`,
          )}
        </tbody>
      </table>
    </div>
  </section>`;
}

/**
 * The confirm step of Cancel: a real button opens it, and it asks again in the page (no window.confirm).
 * @param {{api: import('../api.js').Api, imp: ImportView, onCancelled: (view: ImportView) => void}} props
 */
function CancelImport({ api, imp, onCancelled }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const confirmButton = useRef(/** @type {HTMLButtonElement | null} */ (null));
  const openButton = useRef(/** @type {HTMLButtonElement | null} */ (null));
  const wasConfirming = useRef(false);

  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
    else if (wasConfirming.current) openButton.current?.focus();
    wasConfirming.current = confirming;
  }, [confirming]);

  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      const view = await api.json(`/v1/imports/${imp.id}/cancel`, { method: 'POST' });
      onCancelled(view);
      /** @type {HTMLElement | null} */ (document.querySelector('main h1'))?.focus();
    } catch (failure) {
      setError(failure);
      setConfirming(false);
      announce(`The import could not be cancelled: ${/** @type {Error} */ (failure).message}`);
    } finally {
      setBusy(false);
    }
  };

  return html`<div class="import-cancel">
    ${confirming
      ? html`<div class="notice" role="group" aria-labelledby="cancel-question">
          <p id="cancel-question"><strong>Cancel this import?</strong> It stops within one batch; rows already committed stay${imp.options.atomic ? ' (atomic: none are kept)' : ''}.</p>
          <div class="import-cancel-buttons">
            <button type="button" class="danger" ref=${confirmButton} disabled=${busy} onClick=${cancel}>${busy ? 'Cancelling…' : 'Yes, cancel the import'}</button>
            <button type="button" class="secondary" disabled=${busy} onClick=${() => setConfirming(false)}>Keep it running</button>
          </div>
        </div>`
      : html`<button type="button" class="danger" ref=${openButton} onClick=${() => setConfirming(true)}>Cancel import…</button>`}
    <${ErrorMessage} error=${error} />
  </div>`;
}

/**
 * The rejected rows, a keyset page at a time, and errors.csv.
 * @param {{api: import('../api.js').Api, imp: ImportView}} props
 */
function RejectedRows({ api, imp }) {
  const [cursors, setCursors] = useState(/** @type {(string | null)[]} */ ([null]));
  const [page, setPage] = useState(/** @type {{items: RejectedRow[], next: string | null} | null} */ (null));
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [loading, setLoading] = useState(false);
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState(/** @type {unknown} */ (null));
  const turned = useRef(false);
  const done = FINAL_STATUSES.includes(imp.status);
  const none = imp.rows_rejected === 0;

  // Read again when the page changes and once the import ends (rows rejected while it ran).
  useEffect(() => {
    if (none) return;
    let stale = false;
    setLoading(true);
    const cursor = cursors[cursors.length - 1];
    api
      .json(`/v1/imports/${imp.id}/errors?limit=${ERRORS_PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      .then((/** @type {{items: RejectedRow[], next_cursor: string | null}} */ answer) => {
        if (stale) return;
        setPage({ items: answer.items, next: answer.next_cursor });
        setError(null);
        if (turned.current && answer.items.length > 0) {
          turned.current = false;
          announce(`Rejected rows from line ${answer.items[0].line} to line ${answer.items[answer.items.length - 1].line}.`);
        }
      })
      .catch((failure) => {
        if (!stale) setError(failure);
      })
      .finally(() => {
        if (!stale) setLoading(false);
      });
    return () => {
      stale = true;
    };
  }, [cursors, done, none]);

  const download = async () => {
    setDownloading(true);
    setDownloadError(null);
    try {
      const response = await api.fetch(`/v1/imports/${imp.id}/errors.csv`);
      const blob = await response.blob();
      // The route needs the Authorization header, so a plain link cannot fetch it: hand the browser a Blob.
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = `import-${imp.id}-errors.csv`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      announce(`errors.csv downloaded (${formatBytes(blob.size)}).`);
    } catch (failure) {
      setDownloadError(failure);
      announce(`errors.csv could not be downloaded: ${/** @type {Error} */ (failure).message}`);
    } finally {
      setDownloading(false);
    }
  };

  return html`<section aria-labelledby="rejected-heading">
    <h2 id="rejected-heading">Rejected rows (${formatNumber(imp.rows_rejected)})</h2>
    ${none
      ? html`<p>${done ? 'No row was rejected.' : 'No row rejected so far.'}</p>`
      : html`<p class="import-download">
            <button type="button" class="secondary" disabled=${downloading} onClick=${download}>${downloading ? 'Preparing errors.csv…' : 'Download errors.csv'}</button>
            <span class="progress-detail">The rejected records in their original columns plus <code>error</code>, to fix and upload again.</span>
          </p>
          <${ErrorMessage} error=${downloadError} />
          <${ErrorMessage} error=${error} />
          ${page
            ? html`<div class="table-wrap">
                <table aria-labelledby="rejected-heading" aria-busy=${loading ? 'true' : 'false'} class="import-errors">
                  <thead><tr><th scope="col" class="num">Line</th><th scope="col">Column</th><th scope="col">Message</th><th scope="col">Values</th></tr></thead>
                  <tbody>
                    ${page.items.map(
                      (row) => html`<tr key=${row.line}>
                        <td class="num">${row.line}</td>
                        <td>${row.column === null ? html`<span class="import-ignored">whole row</span>` : html`<code>${row.column}</code>`}</td>
                        <td class="import-message">${row.message}</td>
                        <td class="import-values">${row.values.map((value) => html`<code>${value}</code> `)}</td>
                      </tr>`,
                    )}
                  </tbody>
                </table>
              </div>
              ${cursors.length > 1 || page.next
                ? html`<${Pager}
                    cursors=${cursors}
                    next=${page.next}
                    onPage=${(/** @type {(string | null)[]} */ next) => {
                      turned.current = true;
                      setCursors(next);
                    }}
                  />`
                : null}`
            : loading
              ? html`<p class="loading">Loading the rejected rows…</p>`
              : null}`}
  </section>`;
}
