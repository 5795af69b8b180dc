// @ts-check
// The preview step of the upload page: what POST /v1/imports/preview detected (encoding,
// delimiter, header), the mapping table (file column → field, with how each was decided, which
// the user can change) and the first records as they would be imported.
import { html } from 'htm/preact';
import { formatNumber } from '../ui.js';
import { describeDelimiter } from './upload-file.js';

/** The product fields a column can fill (the API's ColumnMapping values), in the table's order. */
export const PRODUCT_FIELDS = ['sku', 'name', 'description', 'price', 'currency', 'quantity', 'category', 'status', 'updated_at'];

/** How many of the previewed records the page shows. */
const SHOWN_RECORDS = 10;

/**
 * @typedef {object} MappingRow
 * @property {string} column
 * @property {string | null} field
 * @property {'explicit' | 'template' | 'exact' | 'alias' | 'fuzzy' | null} how
 * @property {number} [score]
 */

/**
 * @typedef {object} Preview the API's ImportPreview
 * @property {string} encoding
 * @property {string} delimiter
 * @property {number} header_row
 * @property {string[]} header
 * @property {MappingRow[]} mapping
 * @property {string[]} missing_required
 * @property {string[]} problems
 * @property {{line: number, values: Record<string, unknown> | null, rejection: {column: string | null, message: string} | null}[]} records
 * @property {boolean} truncated
 * @property {string[]} warnings
 */

/**
 * The field an import would apply for a row (fuzzy ones are suggestions only: not applied).
 * @param {MappingRow} row
 */
export const appliedField = (row) => (row.how === 'fuzzy' ? null : row.field);

/**
 * The mapping to save as a template: every column an import would map (by its exact name, an
 * alias, the template or the user), and the columns the user chose to ignore.
 * @param {MappingRow[]} rows
 * @returns {Record<string, string | null>}
 */
export function mappingToSave(rows) {
  /** @type {Record<string, string | null>} */
  const mapping = {};
  for (const row of rows) if (row.how && row.how !== 'fuzzy' && row.column !== '') mapping[row.column] = row.field;
  return mapping;
}

/**
 * Why a column maps as it does, in words.
 * @param {MappingRow} row
 * @param {string} template
 */
function reasonOf(row, template) {
  switch (row.how) {
    case 'explicit':
      return row.field ? 'Your choice' : 'Ignored: your choice';
    case 'template':
      return row.field ? `From template “${template}”` : `Ignored by template “${template}”`;
    case 'exact':
      return 'Exact match: the column is named like the field';
    case 'alias':
      return `Alias: a common name for ${row.field}`;
    case 'fuzzy':
      return `Suggestion: looks like ${row.field} (similarity ${Math.round((row.score ?? 0) * 100)} %), not applied unless you choose it`;
    default:
      return 'No field matches: ignored';
  }
}

/**
 * @param {{preview: Preview, truncated: boolean, template: string, disabled: boolean, onMap: (column: string, field: string | null) => void}} props
 */
export function PreviewView({ preview, truncated, template, disabled, onMap }) {
  const mapped = preview.mapping.filter((row) => appliedField(row));
  const shown = preview.records.slice(0, SHOWN_RECORDS);
  const fatal = [...preview.problems, ...(preview.missing_required.length > 0 ? [`No column fills the required field${preview.missing_required.length > 1 ? 's' : ''} ${preview.missing_required.join(' and ')}: choose one in the table.`] : [])];
  return html`<div class="upload-preview">
    <dl class="facts">
      <dt>Encoding</dt><dd>${preview.encoding}</dd>
      <dt>Delimiter</dt><dd>${describeDelimiter(preview.delimiter)}</dd>
      <dt>Header</dt><dd>line ${preview.header_row}, ${preview.header.length} columns</dd>
      <dt>Records previewed</dt><dd>${formatNumber(preview.records.length)}${truncated || preview.truncated ? ' (from the start of the file)' : ''}</dd>
    </dl>
    ${preview.warnings.map((warning) => html`<p class="warning">${warning}</p>`)}
    ${fatal.length > 0
      ? html`<div class="error" role="alert"><strong>The import would fail as mapped:</strong><ul>${fatal.map((problem) => html`<li>${problem}</li>`)}</ul></div>`
      : null}

    <h3 id="mapping-heading">Column mapping</h3>
    <div class="table-wrap">
      <table aria-labelledby="mapping-heading" class="mapping-table">
        <thead><tr><th scope="col">File column</th><th scope="col">Field</th><th scope="col">How it was matched</th></tr></thead>
        <tbody>
          ${preview.mapping.map(
            (row, index) => html`<tr key=${row.column || `#${index}`}>
              <th scope="row"><code class="column-name">${row.column || '(no name)'}</code></th>
              <td>
                <select
                  aria-label=${`Field for column ${row.column || index + 1}`}
                  value=${appliedField(row) ?? ''}
                  disabled=${disabled || row.column === ''}
                  onChange=${(/** @type {any} */ event) => onMap(row.column, event.currentTarget.value || null)}
                >
                  <option value="">(ignore)</option>
                  ${PRODUCT_FIELDS.map((field) => html`<option value=${field}>${field}</option>`)}
                </select>
              </td>
              <td>
                <span class=${`how how-${row.how ?? 'none'}`}>${reasonOf(row, template)}</span>
                ${row.how === 'fuzzy' && row.field && !disabled
                  ? html` <button type="button" class="secondary small" aria-label=${`Use ${row.field} for column ${row.column}`} onClick=${() => onMap(row.column, row.field)}>Use ${row.field}</button>`
                  : null}
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>

    <h3 id="records-heading">First records</h3>
    <p class="progress-detail">As they would be imported, with the mapping above${preview.records.length > shown.length ? ` (the first ${shown.length} of ${preview.records.length} previewed)` : ''}.</p>
    <div class="table-wrap">
      <table aria-labelledby="records-heading" class="records-table">
        <thead>
          <tr>
            <th scope="col" class="num">Line</th>
            ${mapped.map((row) => html`<th scope="col">${appliedField(row)}</th>`)}
            <th scope="col">Problem</th>
          </tr>
        </thead>
        <tbody>
          ${shown.map(
            (record) => html`<tr key=${record.line}>
              <td class="num">${record.line}</td>
              ${mapped.map((row) => html`<td>${record.values ? valueText(record.values[/** @type {string} */ (appliedField(row))]) : ''}</td>`)}
              <td class="problem">${record.rejection ? html`<span class="rejection">${record.rejection.column ? `${record.rejection.column}: ` : ''}${record.rejection.message}</span>` : ''}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
  </div>`;
}

/** @param {unknown} value */
function valueText(value) {
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}
