/** One job: live curves over its event stream, the spec, the model summary, actions and a predict form. */
import { api, download, stream } from '../api.js';
import { chartControls, lineChart, panels } from '../chart.js';
import { badge, bytes, datasetLabel, errorBox, fmt, h, seriesColor, table } from '../dom.js';
import { usageMayHaveChanged } from '../usage.js';

const TERMINAL = ['completed', 'failed', 'cancelled'];

/** The model summary (POST /v1/models/summary) as a table and totals. @param {any} s */
export function summaryCard(s) {
  return h(
    'div',
    { class: 'summary', 'data-testid': 'model-summary' },
    h(
      'p',
      null,
      h('span', { class: 'stat' }, 'parameters', h('b', null, fmt(s.totalParams))),
      h('span', { class: 'stat' }, 'FLOPs / sample', h('b', null, fmt(s.flopsPerSample))),
      s.trainingFlops !== null ? h('span', { class: 'stat' }, 'training FLOPs', h('b', null, fmt(s.trainingFlops))) : null,
      s.memory ? h('span', { class: 'stat' }, 'training memory', h('b', null, bytes(s.memory.totalBytes))) : null,
    ),
    table(
      [
        ['layer', (/** @type {any} */ l) => l.name],
        ['type', (/** @type {any} */ l) => l.type],
        ['output shape', (/** @type {any} */ l) => `[${l.outputShape.join(', ')}]`],
        ['parameters', (/** @type {any} */ l) => l.params],
        ['FLOPs', (/** @type {any} */ l) => l.flops],
      ],
      s.layers,
    ),
    s.exceeds?.length ? errorBox({ code: 'limit_exceeded', message: 'this job exceeds server limits', details: s.exceeds }) : null,
  );
}

/** Example inputs for the predict form: zeros shaped like one sample, when small. @param {number[] | undefined} shape */
function exampleInputs(shape) {
  if (!shape || shape.reduce((a, b) => a * b, 1) > 64) return '';
  /** @param {number[]} s @returns {any} */
  const zeros = (s) => (s.length === 0 ? 0 : Array.from({ length: /** @type {number} */ (s[0]) }, () => zeros(s.slice(1))));
  return JSON.stringify([zeros(shape)]);
}

/** @param {HTMLElement} main @param {string} id */
export async function jobView(main, id) {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  let job = await api.get(path);
  /** @type {any[]} */
  const rows = [];
  const view = { smoothing: 0, log: false };
  const status = h('span', null, badge(job.status));
  const plotted = h('span', { 'data-testid': 'epochs-plotted' }, '0');
  const info = h('p', { class: 'muted' });
  const actions = h('div', { class: 'toolbar' });
  const chartsBox = h('div', { class: 'charts' });
  const problems = h('div');
  /** @type {Map<string, ReturnType<typeof lineChart>>} */
  const charts = new Map();

  main.append(
    h('h1', null, job.name ?? 'job', status, h('code', { class: 'muted' }, job.id)),
    info,
    actions,
    problems,
    h('div', { class: 'toolbar' }, chartControls(view, () => draw()), h('span', { class: 'muted' }, 'epochs plotted: ', plotted)),
    chartsBox,
  );

  function describe() {
    const s = job.spec;
    info.replaceChildren(
      `${s.optimizer?.name ?? ''} (learning rate ${fmt(s.optimizer?.learningRate)}) · ${datasetLabel(s.dataset)} · epoch ${job.epoch}/${job.epochs}`,
      job.backend ? ` · ${job.backend}` : '',
      job.storedBytes ? h('span', { 'data-testid': 'stored-bytes', 'data-artifact-bytes': job.storedBytes.artifactBytes, title: "counted in the tenant's quotas of the same names; deleting the job gives it back" }, ` · stores ${bytes(job.storedBytes.artifactBytes)} of artifacts, ${bytes(job.storedBytes.datasetBytes)} of dataset`) : '',
      job.error ? h('span', { class: 'error' }, ` ${job.error.code}: ${job.error.message}`) : '',
    );
    status.replaceChildren(badge(job.status));
    const running = !TERMINAL.includes(job.status);
    const act = (/** @type {string} */ label, /** @type {() => Promise<unknown>} */ fn, cls = '') =>
      h('button', {
        class: cls,
        onclick: async () => {
          problems.replaceChildren();
          try {
            await fn();
          } catch (err) {
            problems.replaceChildren(errorBox(err));
          }
        },
      }, label);
    actions.replaceChildren(
      running ? act('Cancel', async () => ((job = await api.post(`${path}/cancel`)), describe()), 'danger') : '',
      job.status === 'completed' ? act('Download model', async () => {
        await download(`${path}/model/model.json`, 'model.json');
        await download(`${path}/model/weights.bin`, 'weights.bin');
      }) : '',
      h('a', { href: `#/compare?ids=${encodeURIComponent(job.id)}` }, h('button', null, 'Compare…')),
      act('Delete', async () => {
        if (!confirm(`Delete job ${job.name ?? job.id} and its model?`)) return;
        await api.del(path);
        location.hash = '#/jobs';
      }, 'danger'),
    );
  }

  let pending = false;
  function draw() {
    pending = false;
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const xs = rows.map((r) => r.epoch);
    for (const panel of panels(keys)) {
      let chart = charts.get(panel.title);
      if (!chart) charts.set(panel.title, (chart = lineChart(chartsBox, panel.title)));
      chart.update(
        xs,
        panel.keys.map((k, i) => ({ label: k, color: seriesColor(i), dash: k.startsWith('val_') ? [6, 4] : undefined })),
        panel.keys.map((k) => rows.map((r) => (typeof r[k] === 'number' ? r[k] : null))),
        view,
      );
    }
    plotted.textContent = String(rows.length);
  }
  const schedule = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(draw);
  };

  describe();
  // The stream replays every event from the start, so a reload restores the whole curve, then follows live.
  const source = stream(`${path}/events`, {
    epoch: (d) => {
      rows.push(d);
      job.epoch = d.epoch;
      schedule();
    },
    status: (d) => {
      job.status = d.status;
      describe();
    },
    ...Object.fromEntries(
      TERMINAL.map((t) => [
        t,
        async () => {
          source.close();
          job = await api.get(path).catch(() => ({ ...job, status: t }));
          usageMayHaveChanged();
          describe();
          predictCard();
        },
      ]),
    ),
  });

  // Spec and model summary side by side.
  const summaryBox = h('div', null, h('p', { class: 'muted' }, 'Computing the model summary…'));
  main.append(h('div', { class: 'grid2' }, h('div', null, h('h2', null, 'Spec'), h('pre', { 'data-testid': 'spec' }, JSON.stringify(job.spec, null, 2))), h('div', null, h('h2', null, 'Model'), summaryBox)));
  api.post('/v1/models/summary', job.spec).then(
    (s) => summaryBox.replaceChildren(summaryCard(s)),
    (err) => summaryBox.replaceChildren(errorBox(err)),
  );

  const predictBox = h('div');
  main.append(predictBox);
  function predictCard() {
    if (job.status !== 'completed') return predictBox.replaceChildren();
    const input = h('textarea', { name: 'inputs', rows: '4', style: 'min-height: 4rem' });
    /** @type {HTMLTextAreaElement} */ (input).value = exampleInputs(job.spec.model?.inputShape);
    const out = h('pre', { 'data-testid': 'predict-output' }, '');
    predictBox.replaceChildren(
      h('h2', null, 'Predict'),
      h('p', { class: 'muted' }, `Samples shaped like the model input [${(job.spec.model?.inputShape ?? []).join(', ')}], as a JSON array.`),
      input,
      h('div', { class: 'toolbar' }, h('button', {
        class: 'primary',
        onclick: async () => {
          try {
            const inputs = JSON.parse(/** @type {HTMLTextAreaElement} */ (input).value);
            const res = await api.post(`${path}/predict`, { inputs });
            out.replaceChildren(JSON.stringify(res.outputs));
          } catch (err) {
            out.replaceChildren(errorBox(err));
          }
        },
      }, 'Predict')),
      out,
    );
  }
  predictCard();
  main.dataset.loaded = 'true';

  return () => {
    source.close();
    for (const c of charts.values()) c.destroy();
  };
}
