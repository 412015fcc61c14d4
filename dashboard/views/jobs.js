/** The job list: every job, live (status, epoch, last metrics), with filters and a pick for comparing. */
import { api, listAll } from '../api.js';
import { bytes, datasetLabel, esc, fmt, h } from '../dom.js';
import { usageMayHaveChanged } from '../usage.js';

const REFRESH_MS = 2_000;
const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'];

/** The last epoch's metrics in one line (a list item's `lastEpoch`, a full record's last history entry). @param {any} job */
export function lastMetrics(job) {
  const last = job.lastEpoch ?? job.history?.at?.(-1);
  if (!last) return '';
  return Object.entries(last)
    .filter(([k]) => k !== 'epoch')
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(' · ');
}

/** What a job holds in the artifact store, as a cell (its dataset bytes in the tooltip). @param {any} job */
function storedCell(job) {
  const s = job.storedBytes;
  if (!s) return '<td class="num"></td>';
  return `<td class="num" data-stored="${s.artifactBytes}" title="${esc(`${bytes(s.artifactBytes)} of artifacts, ${bytes(s.datasetBytes)} of dataset`)}">${esc(bytes(s.artifactBytes))}</td>`;
}

/** @param {any} job @param {Set<string>} picked */
function rowHtml(job, picked) {
  const name = job.name ?? job.id.slice(0, 8);
  const optimizer = job.spec?.optimizer?.name ?? '';
  return (
    `<tr data-id="${esc(job.id)}" data-status="${esc(job.status)}">` +
    `<td><input type="checkbox" data-pick="${esc(job.id)}"${picked.has(job.id) ? ' checked' : ''}></td>` +
    `<td><a href="#/jobs/${encodeURIComponent(job.id)}">${esc(name)}</a></td>` +
    `<td><span class="badge s-${esc(job.status)}">${esc(job.status)}</span></td>` +
    `<td>${esc(optimizer)}</td><td>${esc(datasetLabel(job.spec?.dataset))}</td>` +
    `<td class="num">${job.epoch}/${job.epochs}</td>` +
    `<td class="metrics">${esc(lastMetrics(job))}</td>` +
    storedCell(job) +
    `<td class="muted">${esc(new Date(job.createdAt).toLocaleString())}</td></tr>`
  );
}

/** @param {HTMLElement} main */
export async function jobsView(main) {
  /** @type {Map<string, any>} */
  const jobs = new Map();
  /** @type {Set<string>} */
  const picked = new Set();
  const filter = { status: '', optimizer: '', text: '' };
  const count = h('span', { class: 'muted', 'data-testid': 'job-count' });
  const body = h('tbody');
  const compare = /** @type {HTMLButtonElement} */ (h('button', { disabled: true, onclick: () => (location.hash = `#/compare?ids=${[...picked].join(',')}`) }, 'Compare selected'));

  const optimizers = h('select', { name: 'optimizer', onchange: (/** @type {Event} */ e) => ((filter.optimizer = /** @type {HTMLSelectElement} */ (e.target).value), render()) }, h('option', { value: '' }, 'any optimizer'));
  main.append(
    h('h1', null, 'Jobs ', count, h('a', { href: '#/new' }, h('button', { class: 'primary' }, 'New job'))),
    h(
      'div',
      { class: 'toolbar' },
      h('select', { name: 'status', onchange: (/** @type {Event} */ e) => ((filter.status = /** @type {HTMLSelectElement} */ (e.target).value), render()) }, h('option', { value: '' }, 'any status'), ...STATUSES.map((s) => h('option', { value: s }, s))),
      optimizers,
      h('input', { type: 'search', name: 'text', placeholder: 'name, id or dataset', oninput: (/** @type {Event} */ e) => ((filter.text = /** @type {HTMLInputElement} */ (e.target).value.toLowerCase()), render()) }),
      compare,
    ),
    h(
      'table',
      { class: 'jobs' },
      h('thead', null, h('tr', null, ...['', 'name', 'status', 'optimizer', 'dataset', 'epoch', 'last metrics', 'stored', 'created'].map((c) => h('th', { class: c === 'stored' || c === 'epoch' ? 'num' : null }, c)))),
      body,
    ),
  );
  body.addEventListener('change', (e) => {
    const box = /** @type {HTMLInputElement} */ (e.target);
    const id = box.dataset.pick;
    if (!id) return;
    if (box.checked) picked.add(id);
    else picked.delete(id);
    compare.disabled = picked.size === 0;
  });

  /** @param {any} job */
  const visible = (job) =>
    (!filter.status || job.status === filter.status) &&
    (!filter.optimizer || job.spec?.optimizer?.name === filter.optimizer) &&
    (!filter.text || `${job.name ?? ''} ${job.id} ${datasetLabel(job.spec?.dataset)}`.toLowerCase().includes(filter.text));

  function render() {
    const all = [...jobs.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
    const shown = all.filter(visible);
    body.innerHTML = shown.map((j) => rowHtml(j, picked)).join('');
    count.textContent = shown.length === all.length ? `${all.length}` : `${shown.length} of ${all.length}`;
    const names = new Set(all.map((j) => j.spec?.optimizer?.name).filter(Boolean));
    for (const n of names) if (!optimizers.querySelector(`option[value="${CSS.escape(n)}"]`)) optimizers.append(h('option', { value: n }, n));
  }

  /** @param {any[]} items */
  const merge = (items) => {
    let changed = false;
    let moved = false;
    for (const j of items) {
      const old = jobs.get(j.id);
      if (!old || old.status !== j.status || old.epoch !== j.epoch || old.storedBytes?.artifactBytes !== j.storedBytes?.artifactBytes) changed = true;
      if (old && old.status !== j.status) moved = true;
      jobs.set(j.id, j);
    }
    if (moved) usageMayHaveChanged();
    return changed;
  };

  // The first page is drawn at once; the rest when every page is in.
  let first = true;
  await listAll('/v1/jobs', {
    onPage: (items) => {
      merge(items);
      if (!first) return;
      first = false;
      render();
      performance.mark('descent:jobs-first-page');
    },
  });
  render();
  main.dataset.loaded = 'true';
  performance.mark('descent:jobs-rendered');

  // Live: the newest page and every unfinished job, every couple of seconds (one request each;
  // an EventSource per job would exhaust the browser's connections per host).
  let stopped = false;
  const timer = setInterval(async () => {
    try {
      const pages = await Promise.all(['/v1/jobs?limit=100', '/v1/jobs?status=running&limit=100', '/v1/jobs?status=queued&limit=100'].map((p) => api.get(p)));
      const fresh = pages.flatMap((p) => p.items);
      // Unfinished jobs this round did not list have just ended (or were deleted): read them one by one.
      const seen = new Set(fresh.map((j) => j.id));
      const ended = [...jobs.values()].filter((j) => (j.status === 'running' || j.status === 'queued') && !seen.has(j.id)).slice(0, 20);
      const reread = await Promise.all(ended.map((j) => api.get(`/v1/jobs/${encodeURIComponent(j.id)}`).catch(() => (jobs.delete(j.id), null))));
      if (!stopped && (merge([...fresh, ...reread.filter(Boolean)]) || reread.includes(null))) render();
    } catch {
      // The next tick tries again.
    }
  }, REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
