// @ts-check
import { html } from 'htm/preact';

/** @param {import('../app.js').PageProps} _props */
export function ImportsPage(_props) {
  return html`<h1>Imports</h1><p>Coming soon.</p>`;
}
