// @ts-check
// Small pieces every page uses: formatting, the error box, the progress bar, the pager, and the
// live region that announces status changes to screen readers.
import { html } from 'htm/preact';

/** @param {number | null | undefined} n */
export const formatNumber = (n) => (n === null || n === undefined ? '—' : n.toLocaleString('en'));

/** @param {number} bytes */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}

/** @param {number | null | undefined} seconds */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds % 60)} s`;
}

/** @param {string | null | undefined} iso */
export const formatTime = (iso) => (iso ? new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' }) : '—');

/**
 * Says a status change to screen readers (the polite live region in the page's shell).
 * @param {string} message
 */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A new text node after a tick, so the same message twice is read twice.
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/**
 * The API's error as the user should read it: its message, its code and request id for support.
 * @param {{error: unknown}} props
 */
export function ErrorMessage({ error }) {
  if (!error) return null;
  const e = /** @type {any} */ (error);
  return html`<div class="error" role="alert">
    <strong>${e.message ?? String(error)}</strong>
    ${e.code ? html`<span class="error-code"> (${e.code}${e.requestId ? `, request ${e.requestId}` : ''})</span>` : null}
  </div>`;
}

/**
 * @param {{label: string, value: number, max: number, detail?: string, id?: string}} props
 */
export function ProgressBar({ label, value, max, detail, id }) {
  const percent = max > 0 ? Math.min(100, Math.floor((value / max) * 100)) : 0;
  return html`<div class="progress" id=${id}>
    <div class="progress-label"><span>${label}</span><span class="progress-percent">${percent} %</span></div>
    <div class="progress-track" role="progressbar" aria-label=${label} aria-valuemin="0" aria-valuemax="100" aria-valuenow=${percent}>
      <div class="progress-fill" style=${{ width: `${percent}%` }}></div>
    </div>
    ${detail ? html`<div class="progress-detail">${detail}</div>` : null}
  </div>`;
}

/**
 * Keyset paging: "Newer" goes back through the cursors seen, "Older" follows next_cursor.
 * @param {{cursors: (string|null)[], next: string|null, onPage: (cursors: (string|null)[]) => void}} props
 */
export function Pager({ cursors, next, onPage }) {
  return html`<nav class="pager" aria-label="Pages">
    <button type="button" disabled=${cursors.length <= 1} onClick=${() => onPage(cursors.slice(0, -1))}>Previous page</button>
    <span>Page ${cursors.length}</span>
    <button type="button" disabled=${!next} onClick=${() => onPage([...cursors, next])}>Next page</button>
  </nav>`;
}

/** @param {{status: string}} props */
export const StatusBadge = ({ status }) => html`<span class=${`badge badge-${status}`}>${status}</span>`;
