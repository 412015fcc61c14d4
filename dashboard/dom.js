/** Small DOM helpers shared by the views. */

/**
 * An element: `h('a', {href: '#/'}, 'text', child)`. Attributes starting with `on` are listeners.
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && k !== 'list' && typeof v !== 'string') /** @type {any} */ (el)[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** @param {unknown} s */
export const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A number as a person reads it: 4 significant digits, exponent when tiny or huge. @param {unknown} n */
export function fmt(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return n === null || n === undefined ? '' : String(n);
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return n.toLocaleString('en-US');
  const a = Math.abs(n);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? n.toExponential(3) : String(Number(n.toPrecision(4)));
}

/** Bytes in KB/MB/GB. @param {number | null | undefined} b */
export function bytes(b) {
  if (typeof b !== 'number') return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return `${Number(b.toPrecision(3))} ${units[i]}`;
}

/** @param {string} status */
export const badge = (status) => h('span', { class: `badge s-${status}`, 'data-status': status }, status);

/** A dataset spec in a few words. @param {any} dataset */
export function datasetLabel(dataset) {
  if (!dataset) return '';
  if (dataset.builtin) return dataset.builtin;
  if (dataset.id) return `upload ${dataset.id}`;
  if (dataset.inline) return 'inline';
  return '?';
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#ad494a'];
/** @type {string[]} */
let optimizerOrder = [];
/** The optimizer catalogue's order decides each optimizer's colour, the same on every view. @param {string[]} names */
export function setOptimizerOrder(names) {
  optimizerOrder = names;
}
/** @param {string} name */
export function optimizerColor(name) {
  let i = optimizerOrder.indexOf(name);
  if (i < 0) i = [...name].reduce((a, c) => a + c.charCodeAt(0), 0);
  return PALETTE[i % PALETTE.length];
}
/** A colour for the n-th series of one chart. @param {number} i */
export const seriesColor = (i) => PALETTE[i % PALETTE.length];

/**
 * When a refused request may be tried again: the API's Retry-After as a wait and a clock time, or
 * for a quota refusal without one (a 422: only deleting frees room), that.
 * @param {any} e
 */
function retryHint(e) {
  if (e?.retryAt instanceof Date) {
    return h('p', { 'data-testid': 'retry-after' }, `Retry in ${fmt(e.retryAfterSeconds)} s (after ${e.retryAt.toLocaleTimeString()}).`);
  }
  if (e?.code === 'quota_exceeded') return h('p', { 'data-testid': 'retry-after' }, 'Retrying will not help until something is deleted or the quota is raised.');
  return null;
}

/** An error shown in place. @param {unknown} err */
export function errorBox(err) {
  const e = /** @type {any} */ (err);
  const details = e?.details ? h('pre', null, JSON.stringify(e.details, null, 2)) : null;
  return h('div', { class: 'error', role: 'alert', 'data-code': e?.code ?? 'error' }, h('strong', null, e?.code ?? 'error'), ': ', e?.message ?? String(err), retryHint(e), details);
}

/**
 * A table of rows of plain values; `columns` are [header, (row) => value].
 * @param {[string, (row: any) => any][]} columns @param {any[]} rows @param {Record<string, any>} [attrs]
 */
export function table(columns, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    h('thead', null, h('tr', null, ...columns.map(([name]) => h('th', null, name)))),
    h('tbody', null, ...rows.map((r) => h('tr', null, ...columns.map(([, get]) => { const v = get(r); return h('td', null, v instanceof Node ? v : typeof v === 'number' ? fmt(v) : v ?? ''); })))),
  );
}
