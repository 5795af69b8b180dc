// @ts-check
// Statistics and alerts: the open alerts (live, with Acknowledge), charts of GET /v1/stats per
// hour, day or week in the browser's time zone (each with a summary and a table of its numbers),
// the top failure reasons, and the audit log.
import { html } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { announce, ErrorMessage, formatDuration, formatNumber, formatTime } from '../ui.js';
import { AuditLog, OpenAlerts } from './stats-alerts.js';
import { bucketLabel, ChartFigure, Chart } from './stats-charts.js';

/** @typedef {'hour' | 'day' | 'week'} Period */

/** @type {Record<Period, {noun: string, option: string, range: string, step: number}>} */
const PERIODS = {
  hour: { noun: 'hour', option: 'Per hour, last 48 hours', range: 'the last 48 hours', step: 3600 },
  day: { noun: 'day', option: 'Per day, last 30 days', range: 'the last 30 days', step: 86_400 },
  week: { noun: 'week', option: 'Per week, last 12 weeks', range: 'the last 12 weeks', step: 604_800 },
};

const COLORS = {
  succeeded: '#1a7f37',
  failed: '#cf222e',
  cancelled: '#8c959f',
  progress: '#bf8700',
  inserted: '#1f4e79',
  updated: '#54aeff',
  unchanged: '#afb8c1',
  rejected: '#cf222e',
  p95: '#8250df',
  p50: '#1f4e79',
};

/** @param {number[]} splits seconds on the duration axis: in ms below 2 s, so no two ticks read the same */
const durationTicks = (splits) => {
  const max = Math.max(0, ...splits);
  return splits.map((v) => (max < 2 ? `${formatNumber(Math.round(v * 1000))} ms` : `${formatNumber(Math.round(v * (max < 20 ? 10 : 1)) / (max < 20 ? 10 : 1))} s`));
};

/** @param {(number | null)[]} values */
const sum = (values) => values.reduce((total, v) => (total ?? 0) + (v ?? 0), 0) ?? 0;

/** @param {number | null} ms */
const msCell = (ms) => (ms === null ? '—' : formatNumber(ms));

/**
 * Everything the charts show, computed once per answer of GET /v1/stats.
 * @param {any} stats the answer
 * @param {Period} period
 */
function chartsOf(stats, period) {
  /** @type {any[]} */
  const buckets = stats.buckets;
  const { noun, range, step } = PERIODS[period];
  const xs = buckets.map((b) => Date.parse(b.start) / 1000);
  const labels = buckets.map((b) => bucketLabel(b.start, period));
  const col = (/** @type {(b: any) => number | null} */ pick) => buckets.map(pick);

  const succeeded = col((b) => b.imports.succeeded);
  const failed = col((b) => b.imports.failed);
  const cancelled = col((b) => b.imports.cancelled);
  const progress = col((b) => b.imports.queued + b.imports.processing);
  const total = col((b) => b.imports.total);
  let busiest = -1;
  total.forEach((t, i) => {
    if ((t ?? 0) > 0 && (busiest < 0 || (t ?? 0) > (total[busiest] ?? 0))) busiest = i;
  });
  const imports = {
    series: [
      { label: 'Succeeded', color: COLORS.succeeded, values: succeeded },
      { label: 'Failed', color: COLORS.failed, values: failed },
      { label: 'Cancelled', color: COLORS.cancelled, values: cancelled },
      { label: 'In progress', color: COLORS.progress, values: progress },
    ],
    summary:
      `${formatNumber(sum(total))} imports in ${range}: ${formatNumber(sum(succeeded))} succeeded, ${formatNumber(sum(failed))} failed, ` +
      `${formatNumber(sum(cancelled))} cancelled, ${formatNumber(sum(progress))} in progress.` +
      (busiest >= 0 ? ` Busiest ${noun}: ${labels[busiest]}, ${formatNumber(total[busiest])} imports.` : ''),
    columns: ['Succeeded', 'Failed', 'Cancelled', 'In progress', 'Total'],
    rows: buckets.map((b, i) => ({
      start: b.start,
      label: labels[i],
      cells: [succeeded[i], failed[i], cancelled[i], progress[i], total[i]].map((n) => formatNumber(n)),
    })),
  };

  const inserted = col((b) => b.rows.inserted);
  const updated = col((b) => b.rows.updated);
  const unchanged = col((b) => b.rows.unchanged);
  const rejected = col((b) => b.rows.rejected);
  const rows = {
    series: [
      { label: 'Inserted', color: COLORS.inserted, values: inserted },
      { label: 'Updated', color: COLORS.updated, values: updated },
      { label: 'Unchanged', color: COLORS.unchanged, values: unchanged },
      { label: 'Rejected', color: COLORS.rejected, values: rejected },
    ],
    summary:
      `${formatNumber(sum(inserted) + sum(updated) + sum(unchanged) + sum(rejected))} rows in ${range}: ${formatNumber(sum(inserted))} inserted, ` +
      `${formatNumber(sum(updated))} updated, ${formatNumber(sum(unchanged))} unchanged, ${formatNumber(sum(rejected))} rejected.`,
    columns: ['Inserted', 'Updated', 'Unchanged', 'Rejected'],
    rows: buckets.map((b, i) => ({ start: b.start, label: labels[i], cells: [inserted[i], updated[i], unchanged[i], rejected[i]].map((n) => formatNumber(n)) })),
  };

  /** @type {(number | null)[]} */
  const p95 = col((b) => b.imports.p95_duration_ms);
  /** @type {(number | null)[]} */
  const p50 = col((b) => b.imports.p50_duration_ms);
  let slowest = -1;
  p95.forEach((v, i) => {
    if (v !== null && (slowest < 0 || v > (p95[slowest] ?? 0))) slowest = i;
  });
  const measured = p95.filter((v) => v !== null).length;
  const durations = {
    series: [
      { label: 'p95 duration', color: COLORS.p95, values: p95.map((v) => (v === null ? null : v / 1000)) },
      { label: 'Median (p50)', color: COLORS.p50, values: p50.map((v) => (v === null ? null : v / 1000)), dashed: true },
    ],
    summary:
      slowest < 0
        ? `No import finished in ${range}.`
        : `Finished imports in ${formatNumber(measured)} of ${formatNumber(buckets.length)} ${noun}s. The slowest ${noun}: ${labels[slowest]}, ` +
          `95 % of imports took at most ${formatDuration((p95[slowest] ?? 0) / 1000)}.`,
    columns: ['p50 (ms)', 'p95 (ms)'],
    rows: buckets.map((b, i) => ({ start: b.start, label: labels[i], cells: [msCell(p50[i]), msCell(p95[i])] })),
  };

  const decided = sum(succeeded) + sum(failed);
  const cards = [
    { label: 'Imports', value: formatNumber(sum(total)) },
    { label: 'Success rate', value: decided > 0 ? `${Math.round((sum(succeeded) / decided) * 1000) / 10} %` : '—' },
    { label: 'Rows written', value: formatNumber(sum(inserted) + sum(updated)) },
    { label: 'Rows rejected', value: formatNumber(sum(rejected)) },
  ];
  return { xs, step, noun, imports, rows, durations, cards };
}

/** @param {{reasons: any[]}} props */
function FailureReasons({ reasons }) {
  return html`<section aria-labelledby="reasons-title">
    <h2 id="reasons-title">Top failure reasons</h2>
    ${
      reasons.length === 0
        ? html`<p class="notice">No import or webhook delivery failed in this range.</p>`
        : html`<ol class="stats-reasons">
            ${reasons.map(
              (r) => html`<li>
                <span class="stats-reason">${r.reason}</span>
                <span class="stats-reason-meta">
                  ${r.kind === 'webhook' ? 'Webhook delivery' : 'Import'} · ${formatNumber(r.count)} ${r.count === 1 ? 'time' : 'times'} · last ${formatTime(r.last_at)}
                </span>
                ${r.example !== r.reason ? html`<span class="stats-reason-meta">Latest: ${r.example}</span>` : null}
              </li>`,
            )}
          </ol>`
    }
  </section>`;
}

/** @param {import('../app.js').PageProps} props */
export function StatsPage({ api }) {
  const tz = useMemo(() => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', []);
  const [period, setPeriod] = useState(/** @type {Period} */ ('day'));
  const [stats, setStats] = useState(/** @type {any} */ (null));
  const [error, setError] = useState(/** @type {unknown} */ (null));
  const [loading, setLoading] = useState(true);
  const [refresh, setRefresh] = useState(0);
  const [auditVersion, setAuditVersion] = useState(0);

  useEffect(() => {
    let stopped = false;
    setLoading(true);
    api
      .json(`/v1/stats?period=${period}&tz=${encodeURIComponent(tz)}`)
      .then((answer) => {
        if (stopped) return;
        setStats({ period, answer });
        setError(null);
      })
      .catch((failure) => {
        if (!stopped) setError(failure);
      })
      .finally(() => {
        if (!stopped) setLoading(false);
      });
    return () => {
      stopped = true;
    };
  }, [api, period, tz, refresh]);

  const charts = useMemo(() => (stats ? chartsOf(stats.answer, stats.period) : null), [stats]);

  /** @param {Event} event */
  const changePeriod = (event) => {
    const value = /** @type {Period} */ (/** @type {HTMLSelectElement} */ (event.currentTarget).value);
    setPeriod(value);
    announce(`Showing statistics ${PERIODS[value].option.toLowerCase()}`);
  };

  return html`
    <h1>Statistics and alerts</h1>
    <${OpenAlerts} api=${api} onChange=${() => setAuditVersion((v) => v + 1)} onImportFinished=${() => setRefresh((v) => v + 1)} />

    <section aria-labelledby="stats-title" aria-busy=${loading}>
      <h2 id="stats-title">Imports, rows and durations</h2>
      <div class="row stats-controls">
        <div>
          <label for="stats-period">Period</label>
          <select id="stats-period" value=${period} onChange=${changePeriod}>
            ${Object.entries(PERIODS).map(([value, p]) => html`<option value=${value}>${p.option}</option>`)}
          </select>
        </div>
        <p class="stats-tz">Times in your time zone, <strong>${tz}</strong>${charts && stats ? html`, from ${formatTime(stats.answer.from)} to ${formatTime(stats.answer.to)}` : null}.</p>
      </div>
      <${ErrorMessage} error=${error} />
      ${!charts && !error ? html`<p>Loading statistics…</p>` : null}
      ${
        charts
          ? html`
            <div class="cards">
              ${charts.cards.map((c) => html`<div class="card"><div class="value">${c.value}</div><div class="label">${c.label}</div></div>`)}
            </div>
            <div class="stats-grid">
              <${ChartFigure}
                id="chart-imports"
                title=${`Imports per ${charts.noun} by status`}
                summary=${charts.imports.summary}
                columns=${charts.imports.columns}
                rows=${charts.imports.rows}
                chart=${html`<${Chart} xs=${charts.xs} step=${charts.step} series=${charts.imports.series} kind="stacked" yLabel="Imports" />`}
              />
              <${ChartFigure}
                id="chart-rows"
                title=${`Rows per ${charts.noun} by outcome`}
                summary=${charts.rows.summary}
                columns=${charts.rows.columns}
                rows=${charts.rows.rows}
                chart=${html`<${Chart} xs=${charts.xs} step=${charts.step} series=${charts.rows.series} kind="stacked" yLabel="Rows" />`}
              />
              <${ChartFigure}
                id="chart-durations"
                title=${`Import duration per ${charts.noun}`}
                summary=${charts.durations.summary}
                columns=${charts.durations.columns}
                rows=${charts.durations.rows}
                chart=${html`<${Chart} xs=${charts.xs} step=${charts.step} series=${charts.durations.series} kind="line" yLabel="Duration" format=${durationTicks} />`}
              />
            </div>
            <${FailureReasons} reasons=${stats.answer.top_failure_reasons} />`
          : null
      }
    </section>

    <${AuditLog} api=${api} version=${auditVersion} />
  `;
}
