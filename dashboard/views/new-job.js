/**
 * New job: a form seeded from the catalogues (built-in datasets, model presets, optimizers)
 * that writes the job spec as JSON; the JSON can be edited directly and is what is submitted.
 * The model summary follows the JSON as it changes, before anything is queued.
 */
import { api } from '../api.js';
import { errorBox, h } from '../dom.js';
import { summaryCard } from './job.js';
import { rule } from './optimizers.js';

const SUMMARY_DELAY_MS = 300;

/** @param {string} name @param {HTMLElement} input */
const field = (name, input) => h('label', null, h('span', null, name), input);

/** @param {HTMLElement} main @param {URLSearchParams} params */
export async function newJobView(main, params) {
  const [datasets, presets, optimizers] = await Promise.all(['/v1/datasets/builtin', '/v1/models/presets', '/v1/optimizers'].map((p) => api.get(p).then((r) => r.items)));
  const byName = (/** @type {any[]} */ list, /** @type {string} */ n) => list.find((x) => x.name === n);

  const f = {
    name: h('input', { name: 'name', value: params.get('name') ?? '' }),
    dataset: h('select', { name: 'dataset' }, ...datasets.map((/** @type {any} */ d) => h('option', { value: d.name, selected: d.name === 'moons' }, `${d.name} (${d.task}, ${d.samples} samples)`))),
    preset: h('select', { name: 'preset' }, ...presets.map((/** @type {any} */ p) => h('option', { value: p.name, title: p.description }, p.name))),
    optimizer: h('select', { name: 'optimizer' }, ...optimizers.map((/** @type {any} */ o) => h('option', { value: o.name, selected: o.name === 'adam' }, `${o.name}: ${o.title}`))),
    learningRate: h('input', { name: 'learningRate', type: 'number', step: 'any', value: '0.01' }),
    epochs: h('input', { name: 'epochs', type: 'number', min: '1', value: '50' }),
    batchSize: h('input', { name: 'batchSize', value: '32' }),
    validationSplit: h('input', { name: 'validationSplit', type: 'number', step: '0.05', min: '0', max: '0.9', value: '0.2' }),
    seed: h('input', { name: 'seed', type: 'number', value: '1' }),
    accuracy: h('input', { name: 'accuracy', type: 'checkbox', checked: true }),
  };
  const value = (/** @type {string} */ k) => /** @type {HTMLInputElement} */ (f[/** @type {keyof typeof f} */ (k)]).value;
  const json = /** @type {HTMLTextAreaElement} */ (h('textarea', { name: 'spec', spellcheck: 'false', 'data-testid': 'spec-json' }));
  const ruleBox = h('div');
  const summaryBox = h('div');
  const problems = h('div');

  /** The spec the form describes. */
  function fromForm() {
    const task = byName(datasets, value('dataset'))?.task;
    const batch = value('batchSize').trim();
    return {
      ...(value('name') ? { name: value('name') } : {}),
      dataset: { builtin: value('dataset') },
      model: { preset: value('preset') },
      ...(/** @type {HTMLInputElement} */ (f.accuracy).checked && task !== 'regression' ? { metrics: ['accuracy'] } : {}),
      optimizer: { name: value('optimizer'), learningRate: Number(value('learningRate')) },
      training: {
        epochs: Number(value('epochs')),
        batchSize: batch === 'full' ? 'full' : Number(batch),
        validationSplit: Number(value('validationSplit')),
        seed: Number(value('seed')),
      },
    };
  }

  function showRule() {
    const o = byName(optimizers, value('optimizer'));
    ruleBox.replaceChildren(o ? rule(o.rule) : '', h('p', { class: 'muted' }, o?.when ?? ''));
  }

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let asked = 0;
  function summarize() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++asked;
      let spec;
      try {
        spec = JSON.parse(json.value);
      } catch (err) {
        summaryBox.replaceChildren(errorBox({ code: 'invalid_json', message: /** @type {Error} */ (err).message }));
        return;
      }
      try {
        const s = await api.post('/v1/models/summary', spec);
        if (mine === asked) summaryBox.replaceChildren(summaryCard(s));
      } catch (err) {
        if (mine === asked) summaryBox.replaceChildren(errorBox(err));
      }
    }, SUMMARY_DELAY_MS);
  }

  const sync = () => {
    json.value = JSON.stringify(fromForm(), null, 2);
    showRule();
    summarize();
  };
  const form = h(
    'form',
    { class: 'spec card', oninput: sync, onchange: sync, onsubmit: (/** @type {Event} */ e) => e.preventDefault() },
    field('name', f.name),
    field('dataset', f.dataset),
    field('model preset', f.preset),
    field('optimizer', f.optimizer),
    field('learning rate', f.learningRate),
    field('epochs', f.epochs),
    field('batch size', f.batchSize),
    field('validation split', f.validationSplit),
    field('seed', f.seed),
    field('accuracy metric', f.accuracy),
    ruleBox,
  );
  json.addEventListener('input', summarize);

  const submit = h('button', {
    class: 'primary',
    type: 'button',
    'data-testid': 'submit-job',
    onclick: async () => {
      problems.replaceChildren();
      try {
        const job = await api.post('/v1/jobs', JSON.parse(json.value));
        location.hash = `#/jobs/${encodeURIComponent(job.id)}`;
      } catch (err) {
        problems.replaceChildren(errorBox(err));
      }
    },
  }, 'Submit job');

  main.append(
    h('h1', null, 'New job'),
    h(
      'div',
      { class: 'grid2' },
      h('div', null, form, h('h2', null, 'Model summary'), summaryBox),
      h('div', null, h('p', { class: 'muted' }, 'The job spec (the form writes it; edit it freely, this is what is submitted):'), json, h('div', { class: 'toolbar' }, submit), problems),
    ),
  );
  sync();
  main.dataset.loaded = 'true';
}
