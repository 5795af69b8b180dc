// @ts-check
// What the upload page needs to know about a chosen file before sending it: its kind (CSV text,
// gzip, xlsx workbook), the Content-Type to send, the part of it a preview needs, and an
// estimate of its records for the processing bar (the server does not know a file's total).

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** The first MiB: what POST /v1/imports/preview reads at most. */
export const PREVIEW_SLICE = 1 << 20;

/** @typedef {'csv' | 'gzip' | 'xlsx' | 'other'} FileKind */

/**
 * The kind of file, from its first bytes (gzip, ZIP) and its name.
 * @param {File} file
 * @returns {Promise<FileKind>}
 */
export async function kindOf(file) {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  const name = file.name.toLowerCase();
  if (head[0] === 0x50 && head[1] === 0x4b && name.endsWith('.xlsx')) return 'xlsx';
  if (/\.(csv|tsv|txt)$/.test(name) || file.type === 'text/csv' || file.type === 'text/plain') return 'csv';
  return 'other';
}

/**
 * The Content-Type the API accepts for a raw upload of this kind: text/csv for CSV text, the xlsx
 * type for a workbook, and application/octet-stream otherwise (gzip is recognised by its first
 * bytes; anything else is sniffed by the server, which answers 415 saying what it looks like).
 * @param {FileKind} kind
 */
export function contentTypeOf(kind) {
  if (kind === 'csv') return 'text/csv';
  if (kind === 'xlsx') return XLSX_TYPE;
  return 'application/octet-stream';
}

/**
 * The headers of a raw upload or preview. The name is percent-encoded (a header holds Latin-1
 * only; the server decodes it).
 * @param {File} file
 * @param {FileKind} kind
 * @returns {Record<string, string>}
 */
export function uploadHeaders(file, kind) {
  return { 'content-type': contentTypeOf(kind), 'x-filename': encodeURIComponent(file.name) };
}

/**
 * Line breaks in the file (decompressed when gzip): an estimate of its records, used for the
 * processing bar's percent. It over-counts quoted line breaks and blank lines, so the bar stays
 * below 100 % until the import says it finished. Workbooks: null (no estimate).
 * @param {File} file
 * @param {FileKind} kind
 * @param {AbortSignal} [signal]
 * @returns {Promise<number | null>} lines (a last line without a line break counts)
 */
export async function countLines(file, kind, signal) {
  if (kind === 'xlsx' || kind === 'other') return null;
  /** @type {ReadableStream<Uint8Array>} */
  let stream = file.stream();
  if (kind === 'gzip') stream = stream.pipeThrough(/** @type {ReadableWritablePair<Uint8Array, Uint8Array>} */ (/** @type {unknown} */ (new DecompressionStream('gzip'))));
  const reader = stream.getReader();
  let lines = 0;
  let last = 0x0a;
  try {
    for (;;) {
      if (signal?.aborted) {
        await reader.cancel();
        return null;
      }
      const { done, value } = await reader.read();
      if (done) break;
      if (value.length === 0) continue;
      for (let at = value.indexOf(0x0a); at !== -1; at = value.indexOf(0x0a, at + 1)) lines++;
      last = /** @type {number} */ (value[value.length - 1]);
    }
  } catch {
    return null; // corrupt gzip: the preview or upload says so
  } finally {
    reader.releaseLock();
  }
  return last === 0x0a ? lines : lines + 1;
}

/**
 * The query string of an upload or preview.
 * @param {Record<string, string | number | boolean | undefined | null | object>} options
 */
export function queryOf(options) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || value === null || value === '' || value === false) continue;
    query.set(name, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** @param {string} delimiter */
export function describeDelimiter(delimiter) {
  const names = /** @type {Record<string, string>} */ ({ ',': 'comma', ';': 'semicolon', '\t': 'tab', '|': 'pipe' });
  const name = names[delimiter];
  return name ? `${name} (${delimiter === '\t' ? '\\t' : delimiter})` : JSON.stringify(delimiter);
}
