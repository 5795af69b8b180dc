// @ts-check
import { html } from 'htm/preact';

/** @param {import('../app.js').PageProps} _props */
export function StatsPage(_props) {
  return html`<h1>Statistics and alerts</h1><p>Coming soon.</p>`;
}
