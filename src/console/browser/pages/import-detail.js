// @ts-check
import { html } from 'htm/preact';

/** @param {import('../app.js').PageProps} _props */
export function ImportDetailPage(_props) {
  return html`<h1>Import</h1><p>Coming soon.</p>`;
}
