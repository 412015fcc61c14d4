/** Compare: pick jobs and see one metric's curves overlaid, coloured by optimizer, or mean ± σ over seeds. */
import { api, listAll } from '../api.js';
import { chartControls, lineChart } from '../chart.js';
import { overlay, metricKeys } from '../curves.js';
import { badge, fmt, h, optimizerColor, table } from '../dom.js';

const REFRESH_MS = 2_000;

/** @param {HTMLElement} main @param {URLSearchParams} params */
export async function compareView(main, params) {
  const picked = new Set((params.get('ids') ?? '').split(',').filter(Boolean));
  const view = { smoothing: Number(params.get('smoothing') ?? 0), log: params.get('log') === '1' };
  let metric = params.get('metric') ?? 'loss';
  let overSeeds = params.get('seeds') === '1';
  /** @type {Map<string, any>} */
  const records = new Map();

  const picker = h('div', { class: 'picker', 'data-testid': 'job-picker' });
  const metricSelect = h('select', { name: 'metric', onchange: (/** @type {Event} */ e) => ((metric = /** @type {HTMLSelectElement} */ (e.target).value), draw()) });
  const chartBox = h('div');
  const tableBox = h('div');
  const chart = lineChart(chartBox, 'compare');
  chart.element.dataset.testid = 'compare-chart';
  main.append(
    h('h1', null, 'Compare'),
    h(
      'div',
      { class: 'grid2', style: 'grid-template-columns: 22rem minmax(0, 1fr)' },
      h('div', null, h('h2', null, 'Jobs'), picker),
      h(
        'div',
        null,
        h(
          'div',
          { class: 'toolbar' },
          h('label', null, 'metric ', metricSelect),
          h('label', null, h('input', { type: 'checkbox', name: 'seeds', checked: overSeeds, onchange: (/** @type {Event} */ e) => ((overSeeds = /** @type {HTMLInputElement} */ (e.target).checked), draw()) }), ' mean ± σ over seeds'),
          chartControls(view, () => draw()),
        ),
        chartBox,
        tableBox,
      ),
    ),
  );

  function draw() {
    const jobs = [...picked].map((id) => records.get(id)).filter(Boolean);
    const keys = metricKeys(jobs);
    if (!keys.includes(metric) && keys.length) metric = keys.includes('loss') ? 'loss' : /** @type {string} */ (keys[0]);
    metricSelect.replaceChildren(...keys.map((k) => h('option', { value: k, selected: k === metric }, k)));
    const { xs, series, ys } = overlay(jobs, metric, overSeeds);
    chart.update(xs, series, ys, view);
    tableBox.replaceChildren(
      table(
        [
          ['job', (/** @type {any} */ j) => h('a', { href: `#/jobs/${encodeURIComponent(j.id)}` }, j.name ?? j.id.slice(0, 8))],
          ['optimizer', (/** @type {any} */ j) => h('span', null, h('span', { class: 'swatch', style: `background:${optimizerColor(j.spec?.optimizer?.name ?? '')}` }), j.spec?.optimizer?.name ?? '')],
          ['learning rate', (/** @type {any} */ j) => j.spec?.optimizer?.learningRate],
          ['seed', (/** @type {any} */ j) => j.spec?.training?.seed],
          ['status', (/** @type {any} */ j) => badge(j.status)],
          ['epochs', (/** @type {any} */ j) => `${j.epoch}/${j.epochs}`],
          [`last ${metric}`, (/** @type {any} */ j) => fmt(j.history?.at(-1)?.[metric])],
          [`best ${metric}`, (/** @type {any} */ j) => best(j, metric)],
        ],
        jobs,
        { 'data-testid': 'compare-table' },
      ),
    );
    const q = new URLSearchParams({ ids: [...picked].join(','), metric, ...(overSeeds ? { seeds: '1' } : {}), ...(view.log ? { log: '1' } : {}) });
    history.replaceState(null, '', `#/compare?${q}`);
  }

  /** @param {string} id */
  const load = async (id) => records.set(id, await api.get(`/v1/jobs/${encodeURIComponent(id)}`));
  await Promise.all([...picked].map((id) => load(id).catch(() => picked.delete(id))));
  draw();

  const all = await listAll('/v1/jobs');
  picker.replaceChildren(
    ...all.map((j) =>
      h(
        'label',
        null,
        h('input', {
          type: 'checkbox',
          value: j.id,
          checked: picked.has(j.id),
          onchange: async (/** @type {Event} */ e) => {
            if (/** @type {HTMLInputElement} */ (e.target).checked) {
              picked.add(j.id);
              await load(j.id);
            } else picked.delete(j.id);
            draw();
          },
        }),
        ' ',
        h('span', { class: 'swatch', style: `background:${optimizerColor(j.spec?.optimizer?.name ?? '')}` }),
        `${j.name ?? j.id.slice(0, 8)} · ${j.spec?.optimizer?.name ?? ''} · ${j.status}`,
      ),
    ),
  );
  main.dataset.loaded = 'true';

  const timer = setInterval(async () => {
    const live = [...picked].filter((id) => ['queued', 'running'].includes(records.get(id)?.status));
    if (live.length === 0) return;
    await Promise.all(live.map((id) => load(id).catch(() => {})));
    draw();
  }, REFRESH_MS);
  return () => {
    clearInterval(timer);
    chart.destroy();
  };
}

/** The best value of a metric over a job's epochs (lowest for losses and errors, highest otherwise). @param {any} job @param {string} metric */
function best(job, metric) {
  const vs = (job.history ?? []).map((/** @type {any} */ r) => r[metric]).filter((/** @type {unknown} */ v) => typeof v === 'number');
  if (vs.length === 0) return '';
  return fmt(/loss|error/i.test(metric) ? Math.min(...vs) : Math.max(...vs));
}
