// @ts-check
import { html } from 'htm/preact';

/** @param {import('../app.js').PageProps} _props */
export function WebhooksPage(_props) {
  return html`<h1>Webhooks</h1><p>Coming soon.</p>`;
}
