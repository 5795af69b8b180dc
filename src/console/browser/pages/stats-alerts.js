// @ts-check
// The statistics page's alert and audit sections: the open alerts (kept current by the tenant's
// live stream) with an Acknowledge button each, and the audit log with keyset paging.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { announce, ErrorMessage, formatNumber, formatTime, Pager, StatusBadge } from '../ui.js';

/**
 * @typedef {object} Alert
 * @property {string} id
 * @property {string} kind
 * @property {string} status
 * @property {string} title
 * @property {string} message
 * @property {Record<string, any>} details
 * @property {number} occurrences
 * @property {string} first_seen_at
 * @property {string} last_seen_at
 * @property {string | null} acknowledged_at
 */

/**
 * The open alerts. The tenant stream is opened first, then the list read (so no change falls
 * between the two); `alert` messages then add, update or drop alerts, and `finished` imports
 * tell the page its statistics changed.
 * @param {{api: import('../api.js').Api, onChange: () => void, onImportFinished: () => void}} props
 *   onChange: an alert was acknowledged here (the audit log has a new entry)
 */
export function OpenAlerts({ api, onChange, onImportFinished }) {
  const [alerts, setAlerts] = useState(/** @type {Map<string, Alert> | null} */ (null));
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [live, setLive] = useState(/** @type {'connecting' | 'live' | 'lost'} */ ('connecting'));
  const [busy, setBusy] = useState(/** @type {string | null} */ (null));

  useEffect(() => {
    let stopped = false;
    /** @type {WebSocket | null} */
    let socket = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let retry;
    let attempt = 0;
    /** Acknowledged (or otherwise closed) ids seen on the stream: a list read meanwhile may still say open. */
    const closed = new Set();
    /** @param {Alert} alert */
    const apply = (alert) =>
      setAlerts((current) => {
        const next = new Map(current ?? []);
        if (alert.status === 'open') {
          if (!next.has(alert.id)) announce(`New alert: ${alert.title}`);
          next.set(alert.id, alert);
        } else {
          closed.add(alert.id);
          next.delete(alert.id);
        }
        return next;
      });
    const load = async () => {
      try {
        const page = await api.json('/v1/alerts?status=open&limit=100');
        if (stopped) return;
        setAlerts((current) => {
          const next = new Map(current ?? []);
          // Messages that came while the list was read are newer than it: they win.
          for (const alert of /** @type {Alert[]} */ (page.items)) if (!next.has(alert.id) && !closed.has(alert.id)) next.set(alert.id, alert);
          return next;
        });
        setError(null);
      } catch (failure) {
        if (!stopped) setError(failure);
      }
    };
    const connect = async () => {
      try {
        socket = await api.openEvents('/v1/events');
      } catch (failure) {
        if (stopped) return;
        setError(failure);
        setLive('lost');
        return;
      }
      const ws = socket;
      if (stopped) {
        // Closing a socket that is still connecting logs an error in the browser: wait for it to open.
        ws.onopen = () => ws.close(1000);
        return;
      }
      ws.onopen = () => {
        attempt = 0;
        setLive('live');
        load();
      };
      ws.onmessage = (event) => {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        if (message?.type === 'alert' && message.alert) apply(message.alert);
        else if (message?.type === 'finished') onImportFinished();
      };
      ws.onclose = () => {
        if (stopped) return;
        setLive('lost');
        attempt += 1;
        retry = setTimeout(connect, Math.min(30_000, 1000 * 2 ** attempt));
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      if (socket && socket.readyState === WebSocket.CONNECTING) {
        const ws = socket;
        ws.onopen = () => ws.close(1000);
      } else socket?.close(1000);
    };
  }, [api]);

  /** @param {Alert} alert */
  const acknowledge = async (alert) => {
    setBusy(alert.id);
    setError(null);
    try {
      const answer = await api.json(`/v1/alerts/${encodeURIComponent(alert.id)}/acknowledge`, { method: 'POST' });
      setAlerts((current) => {
        const next = new Map(current ?? []);
        next.delete(answer.id);
        return next;
      });
      announce(`Alert acknowledged: ${alert.title}`);
      onChange();
    } catch (failure) {
      setError(failure);
      announce(`The alert could not be acknowledged: ${/** @type {Error} */ (failure).message}`);
    } finally {
      setBusy(null);
    }
  };

  const list = alerts ? [...alerts.values()].sort((a, b) => b.last_seen_at.localeCompare(a.last_seen_at)) : null;
  return html`<section aria-labelledby="alerts-title" aria-busy=${list === null}>
    <h2 id="alerts-title">Open alerts${list ? ` (${list.length})` : ''}</h2>
    <p class="stats-live">${live === 'live' ? 'Updated live.' : live === 'lost' ? 'Live updates lost: reconnecting…' : 'Connecting to live updates…'}</p>
    <${ErrorMessage} error=${error} />
    ${list === null ? html`<p>Loading alerts…</p>` : list.length === 0 ? html`<p class="notice">No open alerts.</p>` : null}
    ${
      list && list.length > 0
        ? html`<ul class="stats-alerts">
            ${list.map(
              (alert) => html`<li key=${alert.id} class="stats-alert" aria-labelledby=${`alert-${alert.id}`}>
                <div class="stats-alert-head">
                  <h3 id=${`alert-${alert.id}`}>${alert.title}</h3>
                  <${StatusBadge} status=${alert.status} />
                </div>
                <p>${alert.message}</p>
                <p class="stats-alert-meta">
                  ${alert.kind} · seen ${formatNumber(alert.occurrences)} ${alert.occurrences === 1 ? 'time' : 'times'} · first ${formatTime(alert.first_seen_at)} · last ${formatTime(alert.last_seen_at)}
                </p>
                <button type="button" onClick=${() => acknowledge(alert)} disabled=${busy === alert.id} aria-describedby=${`alert-${alert.id}`}>
                  ${busy === alert.id ? 'Acknowledging…' : 'Acknowledge'}
                </button>
              </li>`,
            )}
          </ul>`
        : null
    }
  </section>`;
}

/**
 * @typedef {object} AuditEntry
 * @property {string} id
 * @property {string} action
 * @property {string} target_type
 * @property {string} target_id
 * @property {string} via
 * @property {string | null} api_key_id
 * @property {string | null} request_id
 * @property {string} created_at
 */

/**
 * The audit log, newest first, 20 a page.
 * @param {{api: import('../api.js').Api, version: number}} props version: bumped when an entry was added here
 */
export function AuditLog({ api, version }) {
  const [cursors, setCursors] = useState(/** @type {(string | null)[]} */ ([null]));
  const [page, setPage] = useState(/** @type {{items: AuditEntry[], next_cursor: string | null} | null} */ (null));
  const [error, setError] = useState(/** @type {unknown} */ (null));

  // A new entry: back to the first page, where it is.
  useEffect(() => {
    setCursors((current) => (current.length > 1 ? [null] : current));
  }, [version]);

  useEffect(() => {
    let stopped = false;
    const cursor = cursors[cursors.length - 1];
    api
      .json(`/v1/audit?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      .then((answer) => {
        if (stopped) return;
        setPage(answer);
        setError(null);
      })
      .catch((failure) => {
        if (!stopped) setError(failure);
      });
    return () => {
      stopped = true;
    };
  }, [api, cursors, version]);

  return html`<section aria-labelledby="audit-title">
    <h2 id="audit-title">Audit log</h2>
    <p>Who changed what, newest first: API keys, the command line, acknowledgements.</p>
    <${ErrorMessage} error=${error} />
    ${page === null && !error ? html`<p>Loading the audit log…</p>` : null}
    ${
      page
        ? page.items.length === 0
          ? html`<p class="notice">Nothing recorded yet.</p>`
          : html`<div class="table-wrap">
              <table id="audit-table">
                <caption class="visually-hidden">Audit log, page ${cursors.length}</caption>
                <thead>
                  <tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">By</th><th scope="col">Request</th></tr>
                </thead>
                <tbody>
                  ${page.items.map(
                    (entry) => html`<tr key=${entry.id}>
                      <td><time datetime=${entry.created_at}>${formatTime(entry.created_at)}</time></td>
                      <td><code>${entry.action}</code></td>
                      <td>${entry.target_type} <code>${entry.target_id}</code></td>
                      <td>${entry.via === 'cli' ? 'command line' : entry.api_key_id ? html`API key <code>${entry.api_key_id}</code>` : 'API'}</td>
                      <td>${entry.request_id ? html`<code>${entry.request_id}</code>` : '—'}</td>
                    </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
        : null
    }
    ${page && (cursors.length > 1 || page.next_cursor) ? html`<${Pager} cursors=${cursors} next=${page.next_cursor} onPage=${setCursors} />` : null}
  </section>`;
}
