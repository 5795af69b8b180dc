// @ts-check
import { html } from 'htm/preact';

/** @param {import('../app.js').PageProps} _props */
export function ProductsPage(_props) {
  return html`<h1>Products</h1><p>Coming soon.</p>`;
}
