// @ts-check
// The upload page: choose or drop a file; preview it (POST /v1/imports/preview: encoding,
// delimiter, mapping with its reasons, first records); change the mapping and save it as a
// template; set the options; upload with a progress bar, then follow the import live.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { announce, ErrorMessage, formatBytes } from '../ui.js';
import { countLines, kindOf, PREVIEW_SLICE, queryOf, uploadHeaders } from './upload-file.js';
import { mappingToSave, PreviewView } from './upload-preview.js';
import { ImportRun } from './upload-run.js';

/** @typedef {import('./upload-file.js').FileKind} FileKind */
/** @typedef {{name: string, mapping: Record<string, string | null>, options: Record<string, unknown>}} Template */

/** @param {import('../app.js').PageProps} props */
export function UploadPage({ api }) {
  const [chosen, setChosen] = useState(/** @type {{file: File, kind: FileKind} | null} */ (null));
  const [inputKey, setInputKey] = useState(0);
  const [dragging, setDragging] = useState(false);
  const [lines, setLines] = useState(/** @type {number | null} */ (null));

  const [preview, setPreview] = useState(/** @type {import('./upload-preview.js').Preview | null} */ (null));
  const [previewError, setPreviewError] = useState(/** @type {any} */ (null));
  const [previewBusy, setPreviewBusy] = useState(false);
  const [previewRound, setPreviewRound] = useState(0);
  const previewSeq = useRef(0);
  const [overrides, setOverrides] = useState(/** @type {Record<string, string | null>} */ ({}));

  const [templates, setTemplates] = useState(/** @type {Template[]} */ ([]));
  const [templatesError, setTemplatesError] = useState(/** @type {unknown} */ (null));
  const [template, setTemplate] = useState('');
  const [source, setSource] = useState('');
  const [dryRun, setDryRun] = useState(false);
  const [atomic, setAtomic] = useState(false);
  const [maxErrors, setMaxErrors] = useState('');

  const [templateName, setTemplateName] = useState('');
  const [saveError, setSaveError] = useState(/** @type {unknown} */ (null));
  const [saving, setSaving] = useState(false);

  const [run, setRun] = useState(/** @type {{path: string, headers: Record<string, string>, key: number} | null} */ (null));

  /** @param {string} [select] a template to choose once the list is in */
  const loadTemplates = async (select) => {
    try {
      const { items } = await api.json('/v1/templates');
      setTemplates(items);
      setTemplatesError(null);
      if (select !== undefined) setTemplate(select);
    } catch (failure) {
      setTemplatesError(failure);
    }
  };
  useEffect(() => {
    loadTemplates();
  }, []);

  // A new file: count its lines (the processing bar's estimate) while the preview runs.
  useEffect(() => {
    setLines(null);
    if (!chosen) return;
    const controller = new AbortController();
    countLines(chosen.file, chosen.kind, controller.signal).then((count) => {
      if (!controller.signal.aborted) setLines(count);
    });
    return () => controller.abort();
  }, [chosen]);

  // The preview, again whenever the file, the template or the user's mapping changes.
  useEffect(() => {
    if (!chosen) return;
    const seq = ++previewSeq.current;
    setPreviewBusy(true);
    const { file, kind } = chosen;
    const query = queryOf({ template, mapping: Object.keys(overrides).length > 0 ? overrides : undefined });
    api
      .fetch(`/v1/imports/preview${query}`, { method: 'POST', body: file.slice(0, PREVIEW_SLICE), headers: uploadHeaders(file, kind) })
      .then((response) => response.json())
      .then((answer) => {
        if (seq !== previewSeq.current) return;
        if (!preview) announce(`Preview of ${file.name}: ${answer.header.length} columns, ${answer.records.length} records read.`);
        setPreview(answer);
        setPreviewError(null);
      })
      .catch((failure) => {
        if (seq !== previewSeq.current) return;
        setPreview(null);
        setPreviewError(failure);
        announce(`The preview failed: ${failure.message}`);
      })
      .finally(() => {
        if (seq === previewSeq.current) setPreviewBusy(false);
      });
  }, [chosen, template, overrides, previewRound]);

  /** @param {File | undefined} file */
  const choose = async (file) => {
    if (!file) return;
    setPreview(null);
    setPreviewError(null);
    setOverrides({});
    setSaveError(null);
    setChosen({ file, kind: await kindOf(file) });
  };

  const reset = () => {
    previewSeq.current++;
    setRun(null);
    setChosen(null);
    setPreview(null);
    setPreviewError(null);
    setPreviewBusy(false);
    setOverrides({});
    setInputKey((key) => key + 1);
    /** @type {HTMLElement | null} */ (document.getElementById('upload-file'))?.focus();
  };

  /** @param {string} name */
  const chooseTemplate = (name) => {
    setTemplate(name);
    // The template's default options fill the form: what the form shows is what is sent.
    const options = templates.find((t) => t.name === name)?.options ?? {};
    if (!name) return;
    setSource(typeof options.source === 'string' ? options.source : '');
    setDryRun(options.dry_run === true);
    setAtomic(options.atomic === true);
    setMaxErrors(typeof options.max_errors === 'number' ? String(options.max_errors) : '');
  };

  /** The upload's options as sent (a chosen template's defaults are overridden by the form). */
  const uploadOptions = () => ({
    template,
    source: source.trim(),
    dry_run: dryRun ? 'true' : template ? 'false' : undefined,
    atomic: atomic ? 'true' : template ? 'false' : undefined,
    max_errors: maxErrors.trim(),
    mapping: Object.keys(overrides).length > 0 ? overrides : undefined,
  });

  /** @param {Event} event */
  const saveTemplate = async (event) => {
    event.preventDefault();
    if (!preview) return;
    setSaving(true);
    setSaveError(null);
    const name = templateName.trim();
    /** @type {Record<string, unknown>} */
    const options = {};
    if (source.trim()) options.source = source.trim();
    if (atomic) options.atomic = true;
    if (maxErrors.trim()) options.max_errors = Number(maxErrors);
    try {
      await api.json('/v1/templates', { method: 'POST', body: { name, mapping: mappingToSave(preview.mapping), options } });
      setTemplateName('');
      await loadTemplates(name);
      announce(`Template “${name}” saved and chosen.`);
    } catch (failure) {
      setSaveError(failure);
    } finally {
      setSaving(false);
    }
  };

  /** @param {Event} event */
  const startUpload = (event) => {
    event.preventDefault();
    if (!chosen) return;
    setRun({ path: `/v1/imports${queryOf(uploadOptions())}`, headers: uploadHeaders(chosen.file, chosen.kind), key: Date.now() });
    announce(`Uploading ${chosen.file.name}…`);
  };

  /** @param {DragEvent} event */
  const onDrop = (event) => {
    event.preventDefault();
    setDragging(false);
    if (!run) choose(event.dataTransfer?.files[0]);
  };
  /** @param {DragEvent} event */
  const onDragOver = (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = run ? 'none' : 'copy';
    setDragging(true);
  };

  const xlsxUnpreviewed = chosen?.kind === 'xlsx' && previewError?.status === 415;
  const canUpload = chosen && (preview || xlsxUnpreviewed) && !previewBusy;
  const locked = run !== null;

  return html`<h1>Upload</h1>
    <p>Import a product file: CSV (comma, semicolon, tab or pipe; UTF-8, Windows-1252 or UTF-16), a gzip-compressed CSV, or an Excel <code>.xlsx</code> workbook.</p>

    <section aria-labelledby="file-heading">
      <h2 id="file-heading">1. File</h2>
      <div class=${`dropzone${dragging ? ' active' : ''}`} onDragOver=${onDragOver} onDragLeave=${() => setDragging(false)} onDrop=${onDrop}>
        <p>Drag and drop a file here, or choose one.</p>
        <label for="upload-file">File to import (.csv, .csv.gz or .xlsx)</label>
        <input
          key=${inputKey}
          id="upload-file"
          type="file"
          accept=".csv,.tsv,.txt,.gz,.xlsx,text/csv,application/gzip,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
          disabled=${locked}
          onChange=${(/** @type {any} */ event) => choose(event.currentTarget.files?.[0])}
        />
        ${chosen
          ? html`<p class="file-chosen"><strong>${chosen.file.name}</strong> · ${formatBytes(chosen.file.size)} · ${{ csv: 'CSV text', gzip: 'gzip-compressed', xlsx: 'Excel workbook', other: 'unknown type' }[chosen.kind]}</p>`
          : null}
      </div>
    </section>

    ${chosen
      ? html`<section aria-labelledby="preview-heading" aria-busy=${previewBusy ? 'true' : 'false'}>
          <h2 id="preview-heading">2. Preview and mapping</h2>
          ${previewBusy && !preview ? html`<p role="status">Reading the start of the file…</p>` : null}
          ${xlsxUnpreviewed
            ? html`<div class="notice"><strong>${previewError.message}</strong> The workbook can still be imported: tick <em>Dry run</em> below to check it without writing.</div>`
            : html`<${ErrorMessage} error=${previewError} />`}
          ${previewError && !xlsxUnpreviewed
            ? html`<p>Choose another file${previewError.status === 0 || previewError.status >= 500 ? html`, or <button type="button" class="secondary" onClick=${() => setPreviewRound((n) => n + 1)}>Try the preview again</button>` : '.'}</p>`
            : null}
          ${preview
            ? html`<${PreviewView}
                  preview=${preview}
                  truncated=${chosen.file.size > PREVIEW_SLICE}
                  template=${template}
                  disabled=${locked}
                  onMap=${(/** @type {string} */ column, /** @type {string | null} */ field) => setOverrides((before) => ({ ...before, [column]: field }))}
                />
                <form class="row save-template" onSubmit=${saveTemplate}>
                  <div>
                    <label for="template-name">Template name</label>
                    <input id="template-name" type="text" required maxlength="100" value=${templateName} disabled=${locked} onInput=${(/** @type {any} */ e) => setTemplateName(e.currentTarget.value)} />
                  </div>
                  <button type="submit" class="secondary" disabled=${saving || locked || !templateName.trim()}>${saving ? 'Saving…' : 'Save as template'}</button>
                </form>
                <p class="progress-detail">A template keeps this mapping (and the source, atomic and max errors below) for the next file of the same kind.</p>
                <${ErrorMessage} error=${saveError} />`
            : null}
        </section>`
      : null}

    ${canUpload
      ? html`<form aria-labelledby="options-heading" onSubmit=${startUpload}>
          <h2 id="options-heading">3. Options</h2>
          <fieldset disabled=${locked}>
            <legend>Import options</legend>
            <div class="row upload-options">
              <div>
                <label for="upload-template">Template</label>
                <select id="upload-template" value=${template} onChange=${(/** @type {any} */ e) => chooseTemplate(e.currentTarget.value)}>
                  <option value="">(none)</option>
                  ${templates.map((t) => html`<option value=${t.name}>${t.name}</option>`)}
                </select>
              </div>
              <div>
                <label for="upload-source">Source (supplier or feed)</label>
                <input id="upload-source" type="text" maxlength="100" value=${source} onInput=${(/** @type {any} */ e) => setSource(e.currentTarget.value)} />
              </div>
              <div>
                <label for="upload-max-errors">Max errors</label>
                <input id="upload-max-errors" type="number" min="0" step="1" inputmode="numeric" value=${maxErrors} onInput=${(/** @type {any} */ e) => setMaxErrors(e.currentTarget.value)} aria-describedby="max-errors-help" />
                <span id="max-errors-help" class="progress-detail">Stop once more records are rejected; empty: no limit.</span>
              </div>
            </div>
            <${ErrorMessage} error=${templatesError} />
            <label class="checkbox"><input type="checkbox" checked=${dryRun} onChange=${(/** @type {any} */ e) => setDryRun(e.currentTarget.checked)} /> Dry run: check and count, write no product</label>
            <label class="checkbox"><input type="checkbox" checked=${atomic} onChange=${(/** @type {any} */ e) => setAtomic(e.currentTarget.checked)} /> Atomic: all or nothing</label>
          </fieldset>
          <button type="submit" disabled=${locked || previewBusy}>Upload and import</button>
        </form>`
      : null}

    ${run && chosen ? html`<${ImportRun} key=${run.key} api=${api} file=${chosen.file} path=${run.path} headers=${run.headers} lines=${lines} onReset=${reset} />` : null}`;
}
