// @ts-check
import { html } from 'htm/preact';

/** @param {import('../app.js').PageProps} _props */
export function UploadPage(_props) {
  return html`<h1>Upload</h1><p>Coming soon.</p>`;
}
