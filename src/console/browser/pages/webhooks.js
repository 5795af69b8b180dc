// @ts-check
// Webhooks: the tenant's endpoints (add one, its signing secret shown once; enable or disable it;
// choose its events; send a test event; delete it) and, for the endpoint being managed, its
// delivery log: each delivery with every attempt, and redelivery of a finished one.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure } from '../api.js';
import { announce, ErrorMessage, formatNumber, formatTime, Pager, StatusBadge } from '../ui.js';

/** The event types an endpoint may subscribe to (src/webhooks/webhook-events.ts SUBSCRIBABLE_EVENT_TYPES). */
const EVENT_TYPES = [
  { type: 'import.succeeded', label: 'Import succeeded' },
  { type: 'import.failed', label: 'Import failed' },
  { type: 'import.cancelled', label: 'Import cancelled' },
  { type: 'source.schema_drift', label: 'Source schema drift' },
];
/** What the API subscribes a new endpoint to when no events are named. */
const DEFAULT_EVENTS = ['import.succeeded', 'import.failed', 'import.cancelled'];
/** How often a pending delivery is looked at again, and for how long. */
const POLL_MS = 1000;
const POLL_FOR_MS = 60_000;
const DELIVERIES_PER_PAGE = 10;

/**
 * @typedef {object} Endpoint
 * @property {string} id
 * @property {string} url
 * @property {string} description
 * @property {string[]} events
 * @property {boolean} enabled
 * @property {string | null} disabled_reason
 * @property {string | null} disabled_at
 * @property {number} consecutive_failures
 * @property {string} created_at
 */
/**
 * @typedef {object} Attempt
 * @property {string} attempted_at
 * @property {number | null} status_code
 * @property {number} duration_ms
 * @property {string | null} response_body
 * @property {string | null} error
 */
/**
 * @typedef {object} Delivery
 * @property {string} id
 * @property {string} event_id
 * @property {string} event_type
 * @property {'pending' | 'succeeded' | 'failed'} status
 * @property {number} attempt_count
 * @property {string | null} next_attempt_at
 * @property {string | null} last_error
 * @property {string} created_at
 * @property {string | null} completed_at
 * @property {Attempt[]} attempts
 */

/**
 * Event checkboxes, in a fieldset with its legend.
 * @param {{legend: string, idPrefix: string, selected: string[], onChange: (events: string[]) => void}} props
 */
function EventChoice({ legend, idPrefix, selected, onChange }) {
  return html`<fieldset>
    <legend>${legend}</legend>
    ${EVENT_TYPES.map(
      ({ type, label }) => html`<label class="checkbox wh-event" for=${`${idPrefix}-${type}`}>
        <input
          type="checkbox"
          id=${`${idPrefix}-${type}`}
          checked=${selected.includes(type)}
          onChange=${(/** @type {any} */ e) =>
            onChange(e.currentTarget.checked ? [...selected, type] : selected.filter((t) => t !== type))}
        />
        ${label} <code class="wh-event-type">${type}</code>
      </label>`,
    )}
  </fieldset>`;
}

/**
 * The secret of an endpoint just added: shown once, with a copy button.
 * @param {{endpoint: Endpoint & {secret: string}, onDone: () => void}} props
 */
function NewSecret({ endpoint, onDone }) {
  const input = useRef(/** @type {HTMLInputElement | null} */ (null));
  const [copied, setCopied] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(endpoint.secret);
      setCopied('Copied to the clipboard.');
      announce('Signing secret copied to the clipboard');
    } catch {
      // No clipboard (permission refused, or not a secure context): select it for Ctrl+C.
      input.current?.select();
      setCopied('The browser refused the clipboard: the secret is selected, press Ctrl+C (⌘C) to copy it.');
      announce('Copy refused by the browser; the secret is selected');
    }
  };
  return html`<section class="warning" aria-labelledby="new-secret-heading">
    <h2 id="new-secret-heading">Signing secret for ${endpoint.url}</h2>
    <p><strong>Copy it now: it will not be shown again.</strong> Your receiver verifies each delivery's <code>webhook-signature</code> with it (Standard Webhooks).</p>
    <label for="new-secret">Signing secret</label>
    <div class="row">
      <input id="new-secret" class="secret wh-secret" type="text" readonly value=${endpoint.secret} ref=${input} onFocus=${() => input.current?.select()} />
      <button type="button" onClick=${copy}>Copy secret</button>
      <button type="button" class="secondary" onClick=${onDone}>I have saved it</button>
    </div>
    ${copied ? html`<p>${copied}</p>` : null}
  </section>`;
}

/**
 * The form that registers an endpoint.
 * @param {{api: import('../api.js').Api, onCreated: (endpoint: Endpoint & {secret: string}) => void}} props
 */
function AddEndpoint({ api, onCreated }) {
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [events, setEvents] = useState(DEFAULT_EVENTS);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  /** @param {Event} event */
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { url: url.trim(), events, ...(description.trim() ? { description: description.trim() } : {}) };
      const created = await api.json('/v1/webhooks', { method: 'POST', body });
      setUrl('');
      setDescription('');
      setEvents(DEFAULT_EVENTS);
      announce(`Endpoint added: ${created.url}. Copy its signing secret now.`);
      onCreated(created);
    } catch (failure) {
      setError(failure);
      announce(`The endpoint was not added: ${/** @type {Error} */ (failure).message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<form onSubmit=${submit} aria-labelledby="add-heading">
    <h2 id="add-heading">Add an endpoint</h2>
    <div class="row">
      <div>
        <label for="webhook-url">Endpoint URL</label>
        <input id="webhook-url" type="text" inputmode="url" autocomplete="off" placeholder="https://example.com/hooks/lading" required value=${url} onInput=${(/** @type {any} */ e) => setUrl(e.currentTarget.value)} />
      </div>
      <div>
        <label for="webhook-description">Description (optional)</label>
        <input id="webhook-description" type="text" maxlength="500" value=${description} onInput=${(/** @type {any} */ e) => setDescription(e.currentTarget.value)} />
      </div>
    </div>
    <${EventChoice} legend="Events to send" idPrefix="new-event" selected=${events} onChange=${setEvents} />
    <button type="submit" disabled=${busy || !url.trim() || events.length === 0}>${busy ? 'Adding…' : 'Add endpoint'}</button>
    ${events.length === 0 ? html`<p>Choose at least one event.</p>` : null}
    <${ErrorMessage} error=${error} />
  </form>`;
}

/** @param {{endpoint: Endpoint}} props */
function EndpointState({ endpoint }) {
  if (endpoint.enabled) return html`<${StatusBadge} status="enabled" />`;
  return html`<${StatusBadge} status="disabled" />${endpoint.disabled_reason ? html`<div class="wh-muted">${endpoint.disabled_reason}</div>` : null}`;
}

/**
 * One delivery with its attempts.
 * @param {{delivery: Delivery, onRedeliver: (delivery: Delivery) => void, busy: boolean}} props
 */
function DeliveryCard({ delivery, onRedeliver, busy }) {
  const headingId = `delivery-${delivery.id}`;
  return html`<article class="wh-delivery" aria-labelledby=${headingId}>
    <h4 id=${headingId}>
      <code>${delivery.event_type}</code> <${StatusBadge} status=${delivery.status} />
      <span class="wh-muted"> ${formatTime(delivery.created_at)}</span>
    </h4>
    <dl class="facts">
      <dt>Event id</dt><dd><code>${delivery.event_id}</code></dd>
      <dt>Attempts</dt><dd>${formatNumber(delivery.attempt_count)}</dd>
      ${delivery.status === 'pending' && delivery.next_attempt_at ? html`<dt>Next attempt</dt><dd>${formatTime(delivery.next_attempt_at)}</dd>` : null}
      ${delivery.completed_at ? html`<dt>Finished</dt><dd>${formatTime(delivery.completed_at)}</dd>` : null}
      ${delivery.last_error ? html`<dt>Last error</dt><dd>${delivery.last_error}</dd>` : null}
    </dl>
    ${delivery.attempts.length > 0
      ? html`<div class="table-wrap">
          <table>
            <caption class="visually-hidden">Attempts of ${delivery.event_type} ${delivery.event_id}</caption>
            <thead><tr><th scope="col">Time</th><th scope="col" class="num">Status code</th><th scope="col" class="num">Duration</th><th scope="col">Response (first KiB)</th><th scope="col">Error</th></tr></thead>
            <tbody>
              ${delivery.attempts.map(
                (a) => html`<tr>
                  <td>${formatTime(a.attempted_at)}</td>
                  <td class="num">${a.status_code ?? '—'}</td>
                  <td class="num">${formatNumber(a.duration_ms)} ms</td>
                  <td><code class="wh-excerpt">${a.response_body ?? ''}</code></td>
                  <td>${a.error ?? ''}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        </div>`
      : html`<p class="wh-muted">No attempt yet.</p>`}
    ${delivery.status !== 'pending'
      ? html`<p><button type="button" class="secondary" disabled=${busy} onClick=${() => onRedeliver(delivery)} aria-label=${`Redeliver ${delivery.event_type} ${delivery.event_id}`}>Redeliver</button></p>`
      : null}
  </article>`;
}

/**
 * The delivery log of one endpoint: a status filter, pages of deliveries, and a refresh that
 * repeats while a delivery is pending (so a test event's outcome appears by itself).
 * @param {{api: import('../api.js').Api, endpoint: Endpoint, sent: {id: string} | null}} props
 *   sent: the delivery just queued (a test event): watched until it ends, its outcome announced
 */
function Deliveries({ api, endpoint, sent }) {
  const [status, setStatus] = useState('');
  const [cursors, setCursors] = useState(/** @type {(string | null)[]} */ ([null]));
  const [page, setPage] = useState(/** @type {{items: Delivery[], next_cursor: string | null} | null} */ (null));
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [busy, setBusy] = useState(false);
  const [reloads, setReloads] = useState(0);
  const pollUntil = useRef(0);
  /** Deliveries queued from this page or seen pending: their outcome is announced when they end. */
  const watched = useRef(/** @type {Set<string>} */ (new Set()));

  /** @param {string} id a delivery just queued: look again, and keep looking until it ends */
  const watch = (id) => {
    watched.current.add(id);
    pollUntil.current = Date.now() + POLL_FOR_MS;
    setReloads((n) => n + 1);
  };
  useEffect(() => {
    if (sent) watch(sent.id);
  }, [sent]);

  useEffect(() => {
    let stop = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const cursor = cursors.at(-1);
    const query = new URLSearchParams({ limit: String(DELIVERIES_PER_PAGE) });
    if (status) query.set('status', status);
    if (cursor) query.set('cursor', cursor);
    api
      .json(`/v1/webhooks/${endpoint.id}/deliveries?${query}`)
      .then((/** @type {{items: Delivery[], next_cursor: string | null}} */ answer) => {
        if (stop) return;
        setPage(answer);
        setError(null);
        for (const d of answer.items) {
          if (d.status === 'pending') watched.current.add(d.id);
          else if (watched.current.delete(d.id)) {
            const code = d.attempts.at(-1)?.status_code;
            announce(`Delivery of ${d.event_type} ${d.status}${code ? ` (HTTP ${code})` : ''}`);
          }
        }
        const pending = answer.items.some((d) => d.status === 'pending') || watched.current.size > 0;
        if (pending && Date.now() < pollUntil.current) timer = setTimeout(() => setReloads((n) => n + 1), POLL_MS);
      })
      .catch((/** @type {unknown} */ failure) => {
        if (!stop) setError(failure);
      });
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [api, endpoint.id, status, cursors, reloads]);

  /** @param {Delivery} delivery */
  const redeliver = async (delivery) => {
    setBusy(true);
    setError(null);
    try {
      const queued = await api.json(`/v1/webhooks/${endpoint.id}/deliveries/${delivery.id}/redeliver`, { method: 'POST' });
      announce(`Redelivery of ${delivery.event_type} queued`);
      setCursors([null]);
      watch(queued.id);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return html`<section aria-labelledby="deliveries-heading">
    <h3 id="deliveries-heading">Deliveries</h3>
    <div class="row">
      <div class="wh-filter-field">
        <label for="delivery-status">Show deliveries</label>
        <select id="delivery-status" value=${status} onChange=${(/** @type {any} */ e) => {
          setStatus(e.currentTarget.value);
          setCursors([null]);
        }}>
          <option value="">All</option>
          <option value="pending">Pending</option>
          <option value="succeeded">Succeeded</option>
          <option value="failed">Failed</option>
        </select>
      </div>
      <button type="button" class="secondary" onClick=${() => setReloads((n) => n + 1)}>Refresh deliveries</button>
    </div>
    <${ErrorMessage} error=${error} />
    ${page === null
      ? html`<p class="wh-muted">Loading deliveries…</p>`
      : page.items.length === 0
        ? html`<p>No deliveries${status ? ` with status ${status}` : ''} yet. Send a test event to see one.</p>`
        : html`${page.items.map((d) => html`<${DeliveryCard} key=${d.id} delivery=${d} busy=${busy} onRedeliver=${redeliver} />`)}
            ${cursors.length > 1 || page.next_cursor ? html`<${Pager} cursors=${cursors} next=${page.next_cursor} onPage=${setCursors} />` : null}`}
  </section>`;
}

/**
 * The endpoint being managed: state, actions, events, deliveries.
 * @param {{api: import('../api.js').Api, endpoint: Endpoint, onChanged: (endpoint: Endpoint | null) => void}} props
 */
function ManageEndpoint({ api, endpoint, onChanged }) {
  const [events, setEvents] = useState(endpoint.events);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [sent, setSent] = useState(/** @type {{id: string} | null} */ (null));

  /**
   * @param {() => Promise<void>} action
   */
  const run = async (action) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(failure);
      announce(`Failed: ${/** @type {Error} */ (failure).message}`);
    } finally {
      setBusy(false);
    }
  };
  /** @param {Record<string, unknown>} body @param {string} done */
  const patch = (body, done) =>
    run(async () => {
      const changed = await api.json(`/v1/webhooks/${endpoint.id}`, { method: 'PATCH', body });
      onChanged(changed);
      announce(done);
    });
  const sendTest = () =>
    run(async () => {
      const queued = await api.json(`/v1/webhooks/${endpoint.id}/test`, { method: 'POST' });
      announce('Test event queued');
      setSent({ id: queued.id });
    });
  const remove = () =>
    run(async () => {
      await api.json(`/v1/webhooks/${endpoint.id}`, { method: 'DELETE' });
      announce(`Endpoint ${endpoint.url} deleted`);
      onChanged(null);
    });
  const eventsChanged = events.length !== endpoint.events.length || events.some((e) => !endpoint.events.includes(e));

  return html`<section class="wh-manage" aria-labelledby="manage-heading">
    <h2 id="manage-heading">Endpoint <code>${endpoint.url}</code></h2>
    <dl class="facts">
      <dt>State</dt><dd><${EndpointState} endpoint=${endpoint} /></dd>
      ${endpoint.description ? html`<dt>Description</dt><dd>${endpoint.description}</dd>` : null}
      <dt>Failures in a row</dt><dd>${formatNumber(endpoint.consecutive_failures)}</dd>
      <dt>Created</dt><dd>${formatTime(endpoint.created_at)}</dd>
    </dl>
    <div class="wh-actions">
      <button type="button" disabled=${busy || !endpoint.enabled} onClick=${sendTest}>Send test event</button>
      ${endpoint.enabled
        ? html`<button type="button" class="secondary" disabled=${busy} onClick=${() => patch({ enabled: false }, 'Endpoint disabled')}>Disable endpoint</button>`
        : html`<button type="button" class="secondary" disabled=${busy} onClick=${() => patch({ enabled: true }, 'Endpoint enabled')}>Enable endpoint</button>`}
      ${confirmDelete
        ? html`<button type="button" class="danger" disabled=${busy} onClick=${remove}>Yes, delete it and its log</button>
            <button type="button" class="secondary" onClick=${() => setConfirmDelete(false)}>Keep it</button>`
        : html`<button type="button" class="secondary" onClick=${() => setConfirmDelete(true)}>Delete endpoint</button>`}
    </div>
    ${!endpoint.enabled ? html`<p class="wh-muted">A disabled endpoint gets no events and no test event; enable it to resume.</p>` : null}
    <${ErrorMessage} error=${error} />
    <form onSubmit=${(/** @type {Event} */ e) => {
      e.preventDefault();
      patch({ events }, 'Events saved');
    }}>
      <${EventChoice} legend="Events this endpoint gets" idPrefix=${`edit-event-${endpoint.id}`} selected=${events} onChange=${setEvents} />
      <button type="submit" disabled=${busy || !eventsChanged || events.length === 0}>Save events</button>
    </form>
    <${Deliveries} api=${api} endpoint=${endpoint} sent=${sent} />
  </section>`;
}

/** @param {import('../app.js').PageProps} props */
export function WebhooksPage({ api }) {
  const [endpoints, setEndpoints] = useState(/** @type {Endpoint[] | null} */ (null));
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [created, setCreated] = useState(/** @type {(Endpoint & {secret: string}) | null} */ (null));
  const [selectedId, setSelectedId] = useState(/** @type {string | null} */ (null));

  const load = async () => {
    try {
      const { items } = await api.json('/v1/webhooks');
      setEndpoints(items);
      setError(null);
    } catch (failure) {
      setError(failure instanceof ApiFailure ? failure : new ApiFailure(0, 'error', String(failure)));
    }
  };
  useEffect(() => {
    load();
  }, [api]);

  const selected = endpoints?.find((e) => e.id === selectedId) ?? null;
  /** @param {Endpoint | null} changed */
  const onChanged = (changed) => {
    if (changed) setEndpoints((list) => (list ?? []).map((e) => (e.id === changed.id ? changed : e)));
    else {
      setEndpoints((list) => (list ?? []).filter((e) => e.id !== selectedId));
      setSelectedId(null);
    }
  };

  return html`<h1>Webhooks</h1>
    <p>Lading calls your endpoints when an import ends (and on schema drift, if you ask), signed with the endpoint's secret (<a href="/docs">the API docs</a> describe every body).</p>
    ${created ? html`<${NewSecret} endpoint=${created} onDone=${() => setCreated(null)} />` : null}
    <h2>Endpoints</h2>
    <${ErrorMessage} error=${error} />
    ${endpoints === null
      ? html`<p class="wh-muted">Loading endpoints…</p>`
      : endpoints.length === 0
        ? html`<p>No endpoints yet: add one below.</p>`
        : html`<div class="table-wrap">
            <table>
              <caption class="visually-hidden">Webhook endpoints</caption>
              <thead><tr><th scope="col">Endpoint</th><th scope="col">Events</th><th scope="col">State</th><th scope="col" class="num">Failures</th></tr></thead>
              <tbody>
                ${endpoints.map(
                  (e) => html`<tr key=${e.id} aria-current=${e.id === selectedId ? 'true' : undefined}>
                    <td class="wh-endpoint">
                      <code>${e.url}</code>${e.description ? html`<div class="wh-muted">${e.description}</div>` : null}
                      <div><button type="button" class="secondary small" aria-label=${`Manage ${e.url}`} aria-pressed=${e.id === selectedId ? 'true' : 'false'} onClick=${() => setSelectedId(e.id)}>Manage</button></div>
                    </td>
                    <td>${e.events.map((type) => html`<div>${type}</div>`)}</td>
                    <td><${EndpointState} endpoint=${e} /></td>
                    <td class="num">${formatNumber(e.consecutive_failures)}</td>
                  </tr>`,
                )}
              </tbody>
            </table>
          </div>`}
    ${selected ? html`<${ManageEndpoint} key=${selected.id} api=${api} endpoint=${selected} onChanged=${onChanged} />` : null}
    <${AddEndpoint}
      api=${api}
      onCreated=${(/** @type {Endpoint & {secret: string}} */ endpoint) => {
        setCreated(endpoint);
        const { secret: _secret, ...shown } = endpoint;
        setEndpoints((list) => [...(list ?? []), shown]);
        setSelectedId(endpoint.id);
      }}
    />`;
}
