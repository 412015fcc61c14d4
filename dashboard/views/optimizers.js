/** The optimizer catalogue: each update rule typeset with KaTeX (served from its npm package), its parameters and when to use it. */
import katex from '/vendor/katex/katex.mjs';
import { api } from '../api.js';
import { h, optimizerColor, table } from '../dom.js';

/** An update rule (LaTeX) typeset, one step of it per line. @param {string} latex */
export function rule(latex) {
  const el = h('div', { class: 'rule' });
  for (const step of latex.split(/;\s*\\quad\s*/)) {
    const line = h('div');
    katex.render(step, line, { displayMode: true, throwOnError: false });
    el.append(line);
  }
  return el;
}

/** @param {any} p */
function range(p) {
  const lo = p.minimum !== undefined ? `≥ ${p.minimum}` : p.exclusiveMinimum !== undefined ? `> ${p.exclusiveMinimum}` : '';
  const hi = p.maximum !== undefined ? `≤ ${p.maximum}` : p.exclusiveMaximum !== undefined ? `< ${p.exclusiveMaximum}` : '';
  return [lo, hi].filter(Boolean).join(', ');
}

/** @param {any} o */
export function optimizerCard(o) {
  return h(
    'section',
    { class: 'card', id: `optimizer-${o.name}`, 'data-optimizer': o.name },
    h('h2', null, h('span', { class: 'swatch', style: `background:${optimizerColor(o.name)}` }), h('code', null, o.name), ' ', o.title),
    rule(o.rule),
    h('p', null, o.when),
    h('p', { class: 'muted' }, `PyTorch: ${o.reference}; weight decay ${o.weightDecay}.`),
    table(
      [
        ['parameter', (/** @type {any} */ p) => h('code', null, p.name)],
        ['default', (/** @type {any} */ p) => (p.default === undefined ? '' : JSON.stringify(p.default))],
        ['range', range],
        ['meaning', (/** @type {any} */ p) => p.description ?? ''],
      ],
      o.parameters,
    ),
  );
}

/** @param {HTMLElement} main */
export async function optimizersView(main) {
  const { items } = await api.get('/v1/optimizers');
  main.append(h('h1', null, 'Optimizers'), h('div', { class: 'optimizers' }, ...items.map(optimizerCard)));
  main.dataset.loaded = 'true';
}
