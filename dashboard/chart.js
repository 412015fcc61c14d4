/** Line charts over uPlot (served from its npm package), with TensorBoard-style smoothing and log scale. */
import uPlot from '/vendor/uplot/uPlot.esm.js';
import { h } from './dom.js';

/**
 * TensorBoard's scalar smoothing: an exponential moving average, debiased so the first points
 * are not pulled toward zero. Gaps (null, non-finite) stay gaps.
 * @param {(number | null)[]} values
 * @param {number} weight 0 (none) to 0.99
 */
export function smooth(values, weight) {
  if (!(weight > 0)) return values;
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}

const EPOCH_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000];

/** Log scale cannot show values <= 0: they become gaps. @param {(number | null)[]} values */
const positive = (values) => values.map((v) => (typeof v === 'number' && v > 0 ? v : null));

/** @param {string} hex @param {number} alpha */
const fade = (hex, alpha) => {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
};

/**
 * @typedef {{label: string, color: string, dash?: number[], band?: 'hi' | 'lo'}} SeriesSpec
 * @typedef {{smoothing: number, log: boolean}} ViewOptions
 */

/**
 * A chart in `container` titled `title`. `update(xs, series, ys)` redraws it; it is rebuilt
 * when the set of series or the scale changes (uPlot fixes both at creation).
 * @param {HTMLElement} container
 * @param {string} title
 */
export function lineChart(container, title) {
  const box = h('div', { class: 'chart', 'data-chart': title });
  container.append(box);
  /** @type {any} */
  let plot = null;
  let key = '';
  let points = 0;
  const resize = new ResizeObserver(() => plot?.setSize({ width: box.clientWidth, height: 240 }));
  resize.observe(box);

  return {
    element: box,
    /** Epochs plotted so far (the longest series). */
    get points() {
      return points;
    },
    /**
     * @param {number[]} xs
     * @param {SeriesSpec[]} series
     * @param {(number | null)[][]} ys one array per series, aligned with xs
     * @param {ViewOptions} view
     */
    update(xs, series, ys, view) {
      const shown = ys.map((y, i) => {
        const s = series[i]?.band ? y : smooth(y, view.smoothing);
        return view.log ? positive(s) : s;
      });
      const nextKey = JSON.stringify([series, view.log]);
      if (!plot || nextKey !== key) {
        plot?.destroy();
        key = nextKey;
        /** @type {{series: [number, number], fill: string}[]} */
        const bands = [];
        series.forEach((s, i) => {
          if (s.band === 'hi') bands.push({ series: [i + 1, i + 2], fill: fade(s.color, 0.15) });
        });
        plot = new uPlot(
          {
            title,
            width: Math.max(box.clientWidth, 300),
            height: 240,
            scales: { x: { time: false }, y: view.log ? { distr: 3 } : {} },
            // Epochs are whole numbers: no ticks between them.
            axes: [{ label: 'epoch', incrs: EPOCH_TICKS }, { size: 60 }],
            series: [
              { label: 'epoch' },
              ...series.map((s) =>
                s.band
                  ? { label: s.label, stroke: fade(s.color, 0.3), width: 1, points: { show: false } }
                  : { label: s.label, stroke: s.color, width: 2, dash: s.dash, points: { show: false }, spanGaps: true },
              ),
            ],
            bands,
            legend: { live: true },
          },
          [xs, ...shown],
          box,
        );
      } else {
        plot.setData([xs, ...shown]);
      }
      points = xs.length;
      box.dataset.points = String(points);
    },
    destroy() {
      resize.disconnect();
      plot?.destroy();
      box.remove();
    },
  };
}

/** The smoothing slider and log-scale switch every chart view has; `onChange` gets the new options. */
export function chartControls(/** @type {ViewOptions} */ view, /** @type {() => void} */ onChange) {
  const value = h('output', null, view.smoothing.toFixed(2));
  return h(
    'div',
    { class: 'controls' },
    h(
      'label',
      null,
      'smoothing ',
      h('input', {
        type: 'range',
        min: '0',
        max: '0.99',
        step: '0.01',
        value: String(view.smoothing),
        name: 'smoothing',
        oninput: (/** @type {Event} */ e) => {
          view.smoothing = Number(/** @type {HTMLInputElement} */ (e.target).value);
          value.textContent = view.smoothing.toFixed(2);
          onChange();
        },
      }),
      value,
    ),
    h(
      'label',
      null,
      h('input', {
        type: 'checkbox',
        name: 'log',
        checked: view.log,
        onchange: (/** @type {Event} */ e) => {
          view.log = /** @type {HTMLInputElement} */ (e.target).checked;
          onChange();
        },
      }),
      ' log scale',
    ),
  );
}

/**
 * Groups per-epoch rows into chart panels: the loss, each metric (with its val_* beside it)
 * and the learning rate.
 * @param {string[]} keys every metric key seen
 * @returns {{title: string, keys: string[]}[]}
 */
export function panels(keys) {
  const base = [...new Set(keys.filter((k) => !['epoch', 'learningRate', 'durationMs', 'epochs'].includes(k)).map((k) => k.replace(/^val_/, '')))];
  base.sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : a.localeCompare(b)));
  const out = base.map((b) => ({ title: b, keys: [b, `val_${b}`].filter((k) => keys.includes(k)) }));
  if (keys.includes('learningRate')) out.push({ title: 'learning rate', keys: ['learningRate'] });
  return out;
}
