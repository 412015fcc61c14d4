/**
 * The tenant's quotas (GET /v1/tenant) under the header on every view: each as used / limit with
 * a bar, marked near full and full. It re-reads after every write the dashboard makes, when a
 * view sees a job change state, and every few seconds while the page is visible (checkpoints and
 * other clients change it too).
 */
import { ApiError, WRITE_EVENT, api } from './api.js';
import { bytes, fmt, h } from './dom.js';

const REFRESH_MS = 5_000;
/** From this share of a quota on, it shows as near full. */
export const NEAR_FULL = 0.8;

/** The window event views fire when they see a job change state (it frees or takes quota room): the panel re-reads. */
const CHANGED_EVENT = 'descent:usage-changed';
/** Tells the usage panel that what it shows may have changed (a job ended, started or was deleted). */
export const usageMayHaveChanged = () => window.dispatchEvent(new Event(CHANGED_EVENT));

/** Each quota of the tenant view, as a person reads its name and its amounts. */
const QUOTAS = [
  { name: 'activeJobs', label: 'active jobs', amount: fmt },
  { name: 'datasetBytes', label: 'datasets', amount: bytes },
  { name: 'artifactBytes', label: 'artifacts', amount: bytes },
  { name: 'experiments', label: 'experiments', amount: fmt },
];

/** A quota's name as the dashboard shows it, with the API's name (the one errors and events use). @param {string} name */
export function quotaLabel(name) {
  const q = QUOTAS.find((x) => x.name === name);
  return q ? `${q.label} (${name})` : name;
}

/** An amount of a quota (bytes for the byte quotas). @param {string} name @param {number} n */
export const quotaAmount = (name, n) => (QUOTAS.find((x) => x.name === name)?.amount ?? fmt)(n);

/** ok, near or full. @param {number} used @param {number} limit */
export const quotaState = (used, limit) => (used >= limit ? 'full' : used >= NEAR_FULL * limit ? 'near' : 'ok');

/** One quota: its name, used / limit and a bar. @param {typeof QUOTAS[number]} q @param {number} used @param {number} limit */
function meter(q, used, limit) {
  const fill = h('div', { class: 'fill' });
  fill.style.width = `${limit > 0 ? Math.min(100, (100 * used) / limit) : 100}%`;
  return h(
    'div',
    { class: 'quota', 'data-quota': q.name, 'data-state': quotaState(used, limit), title: `${q.name}: ${fmt(used)} of ${fmt(limit)}` },
    h('span', { class: 'label' }, q.label),
    h('span', { class: 'value', 'data-testid': `usage-${q.name}` }, `${q.amount(used)} / ${q.amount(limit)}`),
    h('div', { class: 'bar', role: 'meter', 'aria-label': q.label, 'aria-valuemin': '0', 'aria-valuemax': String(limit), 'aria-valuenow': String(used) }, fill),
  );
}

/**
 * Fills `panel` with the tenant's usage and keeps it current; hidden while the API asks for a key.
 * @param {HTMLElement} panel
 * @returns {{refresh(): Promise<void>}}
 */
export function usagePanel(panel) {
  let busy = false;
  // A refresh asked for while one is under way runs after it (that one may predate the write).
  let again = false;
  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const view = await api.get('/v1/tenant');
      const shown = QUOTAS.filter((q) => typeof view.usage?.[q.name] === 'number' && typeof view.quotas?.[q.name] === 'number');
      panel.replaceChildren(
        h('span', { class: 'muted', title: 'the tenant whose quotas these are' }, view.tenant),
        ...shown.map((q) => meter(q, view.usage[q.name], view.quotas[q.name])),
      );
      panel.hidden = false;
      panel.dataset.loaded = 'true';
    } catch (err) {
      // Signed out (401) or an API without /v1/tenant (404): nothing to show. Other failures keep the last reading.
      if (err instanceof ApiError && (err.status === 401 || err.status === 404)) panel.hidden = true;
    } finally {
      busy = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  }
  for (const type of [WRITE_EVENT, CHANGED_EVENT]) window.addEventListener(type, () => void refresh());
  setInterval(() => {
    if (!document.hidden) void refresh();
  }, REFRESH_MS);
  void refresh();
  return { refresh };
}
