// @ts-check
// The tenant's imports, newest first: filter by status and source, keyset pages, and statuses kept
// current by the tenant's live stream (GET /v1/events): rows are updated in place, and a new import
// that matches the filters appears at the top of the first page.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { announce, ErrorMessage, formatDuration, formatNumber, formatTime, Pager, StatusBadge } from '../ui.js';

export const STATUSES = ['queued', 'processing', 'succeeded', 'failed', 'cancelled'];
export const FINAL_STATUSES = ['succeeded', 'failed', 'cancelled'];
const DEFAULT_PAGE_SIZE = 20;
const RECONNECT_MS = [1000, 3000, 10000];

/**
 * @typedef {object} ImportView the API's Import (GET /v1/imports/ID)
 * @property {string} id
 * @property {string} status
 * @property {string | null} filename
 * @property {number} bytes
 * @property {string} sha256
 * @property {number} rows_processed
 * @property {number} rows_inserted
 * @property {number} rows_updated
 * @property {number} rows_unchanged
 * @property {number} rows_rejected
 * @property {number} batches_committed
 * @property {string[]} warnings
 * @property {{template: string | null, header_row: number, sheet: string | null, dry_run: boolean, atomic: boolean, max_errors: number | null, max_error_rate: number | null}} options
 * @property {Record<string, string | null> | null} mapping
 * @property {string | null} encoding
 * @property {string | null} delimiter
 * @property {string | null} error
 * @property {string | null} source
 * @property {{compared: string, baseline_import_id: string, added: string[], removed: string[], renamed: {from: string, to: string}[], alert_id: string} | null} schema_drift
 * @property {string} created_at
 * @property {string | null} started_at
 * @property {string | null} finished_at
 */

/**
 * @typedef {object} LiveMessage a message of a live stream; only these types carry an import
 * @property {string} type snapshot, progress, finished (alert and unknown types are ignored)
 * @property {number} [seq]
 * @property {ImportView} [import]
 */

/**
 * The import of a stream message, or null for anything else (alerts, types added later, bad JSON).
 * @param {string} data
 * @returns {ImportView | null}
 */
export function importOfMessage(data) {
  /** @type {LiveMessage} */
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return null;
  }
  return ['snapshot', 'progress', 'finished'].includes(message?.type) && message.import ? message.import : null;
}

/** @param {ImportView} imp */
export const importName = (imp) => imp.filename ?? `Upload ${imp.id.slice(0, 8)}`;

/**
 * Seconds from start to finish (or to now while it runs), or null before it starts.
 * @param {ImportView} imp
 */
export function secondsOf(imp) {
  if (!imp.started_at) return null;
  const end = imp.finished_at ? Date.parse(imp.finished_at) : Date.now();
  return Math.max(0, (end - Date.parse(imp.started_at)) / 1000);
}

/** @typedef {{status: string, source: string, limit: number}} Filters */
/** @typedef {{items: ImportView[], next: string | null}} Page */
/** @typedef {'connecting' | 'on' | 'lost'} LiveState */

/**
 * @param {ImportView} imp
 * @param {Filters} filters
 */
const matches = (imp, filters) => (!filters.status || imp.status === filters.status) && (!filters.source || imp.source === filters.source);

/**
 * @param {Filters} filters
 * @param {string | null} cursor
 */
function listPath(filters, cursor) {
  const query = new URLSearchParams({ limit: String(filters.limit) });
  if (filters.status) query.set('status', filters.status);
  if (filters.source) query.set('source', filters.source);
  if (cursor) query.set('cursor', cursor);
  return `/v1/imports?${query}`;
}

/** @param {import('../app.js').PageProps} props */
export function ImportsPage({ api }) {
  const [filters, setFilters] = useState(/** @type {Filters} */ ({ status: '', source: '', limit: DEFAULT_PAGE_SIZE }));
  const [draft, setDraft] = useState({ status: '', source: '', limit: String(DEFAULT_PAGE_SIZE) });
  const [cursors, setCursors] = useState(/** @type {(string | null)[]} */ ([null]));
  const [page, setPage] = useState(/** @type {Page | null} */ (null));
  const pageRef = useRef(/** @type {Page | null} */ (null));
  /** @param {Page} next the page shown (the stream's handler reads it from the ref) */
  const showPage = (next) => {
    pageRef.current = next;
    setPage(next);
  };
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [loading, setLoading] = useState(true);
  const [live, setLive] = useState(/** @type {LiveState} */ ('connecting'));
  const liveRef = useRef(/** @type {LiveState} */ ('connecting'));
  /** @param {LiveState} next */
  const showLive = (next) => {
    liveRef.current = next;
    setLive(next);
  };
  const [reloads, setReloads] = useState(0);
  // What the stream's handler needs to know about the page shown now.
  const shown = useRef({ filters, firstPage: true, userAction: false });
  shown.current.filters = filters;
  shown.current.firstPage = cursors.length === 1;

  useEffect(() => {
    let stale = false;
    setLoading(true);
    api
      .json(listPath(filters, cursors[cursors.length - 1]))
      .then((/** @type {{items: ImportView[], next_cursor: string | null}} */ answer) => {
        if (stale) return;
        showPage({ items: answer.items, next: answer.next_cursor });
        setError(null);
        if (shown.current.userAction) {
          shown.current.userAction = false;
          announce(`Page ${cursors.length}: ${answer.items.length} ${answer.items.length === 1 ? 'import' : 'imports'} shown.`);
        }
      })
      .catch((failure) => {
        if (stale) return;
        setError(failure);
        announce(`The imports could not be loaded: ${failure.message}`);
      })
      .finally(() => {
        if (!stale) setLoading(false);
      });
    return () => {
      stale = true;
    };
  }, [filters, cursors, reloads]);

  useEffect(() => {
    /** @type {WebSocket | undefined} */
    let socket;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    let closed = false;
    let attempts = 0;

    /** @param {ImportView} imp */
    const apply = (imp) => {
      const before = pageRef.current;
      if (!before) return;
      const index = before.items.findIndex((item) => item.id === imp.id);
      if (index >= 0) {
        const old = before.items[index];
        if (old.status !== imp.status && FINAL_STATUSES.includes(imp.status)) announce(`Import ${importName(imp)} ${imp.status}.`);
        const items = before.items.slice();
        items[index] = imp;
        showPage({ ...before, items });
        return;
      }
      // Not on this page: a new import belongs at the top of the first page, if the filters take it.
      const { filters: current, firstPage } = shown.current;
      const newest = before.items[0];
      if (!firstPage || !matches(imp, current) || (newest && imp.created_at < newest.created_at)) return;
      announce(`New import ${importName(imp)}: ${imp.status}.`);
      showPage({ ...before, items: [imp, ...before.items] });
    };

    const connect = async () => {
      try {
        socket = await api.openEvents('/v1/events');
      } catch {
        return retry();
      }
      if (closed) return socket.close();
      socket.onopen = () => {
        if (attempts > 0) setReloads((n) => n + 1); // changes missed while away: read the page again
        attempts = 0;
        showLive('on');
      };
      socket.onmessage = (event) => {
        const imp = importOfMessage(event.data);
        if (imp) apply(imp);
      };
      socket.onclose = () => {
        if (!closed) retry();
      };
    };
    const retry = () => {
      if (closed) return;
      if (liveRef.current === 'on') announce('Live updates were lost: reconnecting.');
      showLive('lost');
      timer = setTimeout(connect, RECONNECT_MS[Math.min(attempts++, RECONNECT_MS.length - 1)]);
    };
    connect();
    return () => {
      closed = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, []);

  /** @param {Event} event */
  const applyFilters = (event) => {
    event.preventDefault();
    const limit = Math.min(100, Math.max(1, Math.floor(Number(draft.limit)) || DEFAULT_PAGE_SIZE));
    shown.current.userAction = true;
    setDraft({ ...draft, limit: String(limit) });
    setFilters({ status: draft.status, source: draft.source.trim(), limit });
    setCursors([null]);
  };
  const clearFilters = () => {
    shown.current.userAction = true;
    setDraft({ status: '', source: '', limit: draft.limit });
    setFilters({ ...filters, status: '', source: '' });
    setCursors([null]);
  };
  /** @param {(string | null)[]} next */
  const turnPage = (next) => {
    shown.current.userAction = true;
    setCursors(next);
  };
  /** @param {keyof typeof draft} field */
  const onDraft = (field) => (/** @type {any} */ event) => setDraft({ ...draft, [field]: event.currentTarget.value });

  const filtered = filters.status || filters.source;
  const liveText = { connecting: 'Connecting to live updates…', on: 'Live updates on', lost: 'Live updates lost: reconnecting…' }[live];

  return html`<h1>Imports</h1>
    <form class="imports-filters" aria-label="Filter imports" onSubmit=${applyFilters}>
      <div class="row">
        <div>
          <label for="imports-status">Status</label>
          <select id="imports-status" value=${draft.status} onChange=${onDraft('status')}>
            <option value="">Any status</option>
            ${STATUSES.map((status) => html`<option value=${status}>${status}</option>`)}
          </select>
        </div>
        <div>
          <label for="imports-source">Source</label>
          <input id="imports-source" type="search" maxlength="100" placeholder="e.g. acme" value=${draft.source} onInput=${onDraft('source')} />
        </div>
        <div class="imports-limit">
          <label for="imports-limit">Imports per page</label>
          <input id="imports-limit" type="number" min="1" max="100" step="1" required value=${draft.limit} onInput=${onDraft('limit')} />
        </div>
        <button type="submit">Apply filters</button>
        ${filtered ? html`<button type="button" class="secondary" onClick=${clearFilters}>Clear filters</button>` : null}
      </div>
    </form>
    <p class=${`live-state live-${live}`}>${liveText}</p>
    <${ErrorMessage} error=${error} />
    ${page
      ? page.items.length === 0
        ? html`<p class="notice">${filtered ? 'No import matches these filters.' : html`No imports yet. <a href="#/upload">Upload a file</a>.`}</p>`
        : html`<div class="table-wrap">
            <table aria-label="Imports" aria-busy=${loading ? 'true' : 'false'}>
              <thead>
                <tr>
                  <th scope="col">File</th>
                  <th scope="col">Status</th>
                  <th scope="col">Source</th>
                  <th scope="col">Uploaded</th>
                  <th scope="col" class="num">Rows</th>
                  <th scope="col" class="num">Rejected</th>
                  <th scope="col" class="num">Duration</th>
                </tr>
              </thead>
              <tbody>
                ${page.items.map(
                  (imp) => html`<tr key=${imp.id}>
                    <th scope="row" class="imports-file"><a href=${`#/imports/${imp.id}`}>${importName(imp)}</a>${imp.options.dry_run ? html` <span class="imports-tag">dry run</span>` : null}</th>
                    <td><${StatusBadge} status=${imp.status} /></td>
                    <td>${imp.source ?? '—'}</td>
                    <td class="imports-time">${formatTime(imp.created_at)}</td>
                    <td class="num">${formatNumber(imp.rows_processed)}</td>
                    <td class="num">${formatNumber(imp.rows_rejected)}</td>
                    <td class="num imports-time">${formatDuration(secondsOf(imp))}</td>
                  </tr>`,
                )}
              </tbody>
            </table>
          </div>`
      : loading
        ? html`<p class="loading">Loading imports…</p>`
        : null}
    ${page && (cursors.length > 1 || page.next) ? html`<${Pager} cursors=${cursors} next=${page.next} onPage=${turnPage} />` : null}`;
}
