// @ts-check
// The statistics page's charts: uPlot canvases that follow their container's width, each with a
// text alternative (a caption that sums it up, and a table of the same numbers behind a toggle).
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { formatNumber } from '../ui.js';

/**
 * @typedef {object} ChartSeries
 * @property {string} label
 * @property {string} color
 * @property {(number | null)[]} values one per bucket
 * @property {boolean} [dashed]
 */

/**
 * A bucket's start as a short label in the browser's time zone (the one the stats were asked in).
 * @param {string} iso
 * @param {'hour' | 'day' | 'week'} period
 */
export function bucketLabel(iso, period) {
  const date = new Date(iso);
  if (period === 'hour') return date.toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  const day = date.toLocaleDateString('en-GB', { weekday: period === 'day' ? 'short' : undefined, day: 'numeric', month: 'short', year: 'numeric' });
  return period === 'week' ? `Week of ${day}` : day;
}

/** @param {number} v */
const countTick = (v) => (Number.isInteger(v) ? formatNumber(v) : '');

/**
 * A chart: stacked bars (counts that add up, e.g. imports by status) or lines with points.
 * @param {{xs: number[], step: number, series: ChartSeries[], kind: 'stacked' | 'line', yLabel: string, format?: (splits: number[]) => string[]}} props
 *   xs: bucket starts in seconds; step: a bucket's length in seconds
 */
export function Chart({ xs, step, series, kind, yLabel, format }) {
  const box = useRef(/** @type {HTMLDivElement | null} */ (null));
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const height = () => (element.clientWidth < 500 ? 200 : 260);
    /** @type {(number | null)[][]} */
    let columns;
    /** @type {ChartSeries[]} */
    let drawn;
    if (kind === 'stacked') {
      // Each bar is the running total up to its series, drawn tallest first so each shows its own share.
      const totals = series.map((_, i) => xs.map((_x, j) => series.slice(0, i + 1).reduce((sum, s) => sum + (s.values[j] ?? 0), 0)));
      columns = totals.reverse();
      drawn = [...series].reverse();
    } else {
      columns = series.map((s) => s.values);
      drawn = series;
    }
    const bars = uPlot.paths.bars?.({ size: [0.7, 48], align: 0 });
    /** @type {uPlot.Options} */
    const options = {
      width: element.clientWidth,
      height: height(),
      legend: { show: false }, // the legend is HTML below the chart
      cursor: { drag: { x: false, y: false } },
      padding: [8, 8, 0, 0],
      scales: {
        x: { time: true, range: (_u, min, max) => [min - step / 2, max + step / 2] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: '#57606a', grid: { stroke: '#eaeef2' }, ticks: { stroke: '#d0d7de' } },
        {
          stroke: '#57606a',
          label: yLabel,
          labelSize: 20,
          size: 60,
          grid: { stroke: '#eaeef2' },
          ticks: { stroke: '#d0d7de' },
          values: (_u, splits) => (format ? format(splits) : splits.map(countTick)),
        },
      ],
      series: [
        {},
        ...drawn.map((s) =>
          kind === 'stacked'
            ? { label: s.label, stroke: s.color, fill: s.color, width: 0, paths: bars, points: { show: false } }
            : { label: s.label, stroke: s.color, width: 2, dash: s.dashed ? [6, 4] : undefined, spanGaps: false, points: { show: true, size: 6, fill: s.color } },
        ),
      ],
    };
    const chart = new uPlot(options, /** @type {uPlot.AlignedData} */ ([xs, ...columns]), element);
    const observer = new ResizeObserver(() => {
      if (element.clientWidth > 0) chart.setSize({ width: element.clientWidth, height: height() });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
    };
  }, [xs, step, series, kind, yLabel, format]);
  return html`<div class="stats-chart-box">
    <div class="chart" ref=${box} aria-hidden="true"></div>
    <ul class="stats-legend" aria-hidden="true">
      ${series.map((s) => html`<li><span class=${`stats-swatch${s.dashed ? ' dashed' : ''}`} style=${{ borderColor: s.color, background: s.dashed ? 'transparent' : s.color }}></span>${s.label}</li>`)}
    </ul>
  </div>`;
}

/**
 * A chart with its text alternative: a figure named by its caption (the summary), the chart
 * itself hidden from screen readers, and the same numbers as a table behind a toggle.
 * @param {{id: string, title: string, summary: string, chart: any, columns: string[], rows: {start: string, label: string, cells: string[]}[]}} props
 */
export function ChartFigure({ id, title, summary, chart, columns, rows }) {
  return html`<figure class="stats-figure" aria-labelledby=${`${id}-title`} aria-describedby=${`${id}-summary`}>
    <h3 id=${`${id}-title`}>${title}</h3>
    <p id=${`${id}-summary`} class="stats-summary">${summary}</p>
    ${chart}
    <details class="stats-data">
      <summary>Show the numbers: ${title.toLowerCase()}</summary>
      <div class="table-wrap">
        <table id=${`${id}-table`}>
          <caption class="visually-hidden">${title}</caption>
          <thead>
            <tr>
              <th scope="col">Period starting</th>
              ${columns.map((c) => html`<th scope="col" class="num">${c}</th>`)}
            </tr>
          </thead>
          <tbody>
            ${rows.map(
              (row) => html`<tr>
                <th scope="row"><time datetime=${row.start}>${row.label}</time></th>
                ${row.cells.map((cell) => html`<td class="num">${cell}</td>`)}
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </details>
  </figure>`;
}
