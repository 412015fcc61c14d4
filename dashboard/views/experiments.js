/**
 * Experiments (GET /v1/experiments): the list, and one experiment's per-optimizer summary,
 * leaderboard, trials (those a scheduler stopped marked) and curves. Trials are ordinary jobs,
 * so each links to its job view. An API without experiments (404) gets a plain notice.
 */
import { ApiError, api } from '../api.js';
import { chartControls, lineChart } from '../chart.js';
import { jobLabel, metricKeys, overlay } from '../curves.js';
import { badge, errorBox, fmt, h, optimizerColor } from '../dom.js';
import { quotaAmount, quotaLabel } from '../usage.js';

const REFRESH_MS = 3_000;

/** @param {unknown} err @param {HTMLElement} main */
function unavailable(err, main) {
  if (err instanceof ApiError && err.status === 404 && err.message.startsWith('no route')) {
    main.append(
      h('h1', null, 'Experiments'),
      h('p', { class: 'card', 'data-testid': 'experiments-unavailable' }, 'This API does not serve experiments: /v1/experiments answered 404. Compare jobs instead.'),
      h('a', { href: '#/compare' }, 'Compare jobs'),
    );
    return true;
  }
  return false;
}

/** A cell for any value the API returns: numbers formatted, {mean, std} as mean ± std, job ids linked. */
function cell(/** @type {string} */ key, /** @type {any} */ v) {
  if (typeof v === 'number') return fmt(v);
  if (v === null || v === undefined) return '';
  if (typeof v === 'object' && !Array.isArray(v) && 'mean' in v) return `${fmt(v.mean)}${typeof v.std === 'number' ? ` ± ${fmt(v.std)}` : ''}`;
  if (typeof v === 'object') return JSON.stringify(v);
  // Trial job ids share the experiment's prefix: show their ends.
  if (/^(jobId|trialId|job|id)$/.test(key) && typeof v === 'string') return h('a', { href: `#/jobs/${encodeURIComponent(v)}`, title: v }, v.length > 12 ? `…${v.slice(-10)}` : v);
  if (key === 'status') return badge(v);
  return String(v);
}

/**
 * A table of objects with the union of their keys as columns (but `omit`).
 * @param {any[] | Record<string, any>} rows @param {string} testid @param {string[]} [omit]
 */
function objectTable(rows, testid, omit = []) {
  const list = Array.isArray(rows) ? rows : Object.entries(rows ?? {}).map(([name, r]) => ({ name, ...(typeof r === 'object' ? r : { value: r }) }));
  if (list.length === 0) return h('p', { class: 'muted', 'data-testid': testid }, 'None yet.');
  const keys = [...new Set(list.flatMap((r) => Object.keys(r)))].filter((k) => !omit.includes(k) && k !== 'waitingQuota'); // waitingQuota marks a row, it is no column
  return h(
    'table',
    { 'data-testid': testid },
    h('thead', null, h('tr', null, ...keys.map((k) => h('th', null, k)))),
    h(
      'tbody',
      null,
      ...list.map((r) =>
        h(
          'tr',
          { class: r.stoppedBy ? 'stopped' : '', 'data-stopped-by': r.stoppedBy ?? null, 'data-waiting-for': r.waitingQuota ?? null },
          ...keys.map((k) => h('td', null, cell(k, r[k]))),
        ),
      ),
    ),
  );
}

/** A trial waiting for quota room (an experiment's `waitingFor`) in words. @param {any} w */
const waitText = (w) => `${quotaLabel(w.quota)}: ${quotaAmount(w.quota, w.used)} used of ${quotaAmount(w.quota, w.limit)}`;

/** The notice of an experiment whose next trial waits for room in a tenant quota (null: none waits). @param {any} exp */
function waitingNotice(exp) {
  const w = exp.waitingFor;
  if (!w) return null;
  return h(
    'p',
    { class: 'notice', 'data-testid': 'trial-waiting', 'data-quota': w.quota },
    `Trial ${w.trial} waits for room in the tenant's quota ${waitText(w)}. It is queued once room frees (a job ends or is deleted, or the quota is raised).`,
  );
}

/** @param {HTMLElement} main */
export async function experimentsView(main) {
  let list;
  try {
    list = await api.get('/v1/experiments');
  } catch (err) {
    if (unavailable(err, main)) return;
    throw err;
  }
  const items = list.items ?? list;
  main.append(
    h('h1', null, 'Experiments'),
    items.length === 0
      ? h('p', { class: 'muted' }, 'No experiments yet: POST /v1/experiments starts one (see the API reference).')
      : h(
          'table',
          { 'data-testid': 'experiments' },
          h('thead', null, h('tr', null, ...['experiment', 'status', 'trials', 'created'].map((c) => h('th', null, c)))),
          h(
            'tbody',
            null,
            ...items.map((/** @type {any} */ e) =>
              h(
                'tr',
                { 'data-waiting-for': e.waitingFor?.quota ?? null },
                h('td', null, h('a', { href: `#/experiments/${encodeURIComponent(e.id)}` }, e.name ?? e.id)),
                h(
                  'td',
                  null,
                  badge(e.status ?? ''),
                  e.waitingFor ? h('span', { class: 'muted', title: waitText(e.waitingFor) }, ` a trial waits for ${e.waitingFor.quota}`) : null,
                ),
                h('td', null, fmt(e.counts ? Object.values(e.counts).reduce((a, b) => a + b, 0) : e.trials?.length)),
                h('td', { class: 'muted' }, e.createdAt ? new Date(e.createdAt).toLocaleString() : ''),
              ),
            ),
          ),
        ),
  );
  main.dataset.loaded = 'true';
}

/** The job id of a trial, as the experiment lists it. @param {any} t */
const trialJobId = (t) => t.jobId ?? t.job?.id ?? t.id;

/**
 * The experiment's curves endpoint (epochs x trials, aligned) as chart data, matched to the
 * trial jobs; undefined when the endpoint or its shape is not there (the trial jobs'
 * histories are plotted instead).
 * @param {string} path @param {string} metric @param {any[]} trialJobs
 */
async function fromCurves(path, metric, trialJobs) {
  const data = await api.get(`${path}/curves?metric=${encodeURIComponent(metric)}`).catch(() => null);
  const columns = data?.trials ?? data?.series;
  if (!Array.isArray(data?.epochs) || !Array.isArray(columns)) return undefined;
  const order = columns.map((/** @type {any} */ c) => trialJobs.findIndex((j) => j.id === (c.jobId ?? c.trialId ?? c.id)));
  if (order.some((/** @type {number} */ i) => i < 0)) return undefined;
  const jobs = order.map((/** @type {number} */ i) => trialJobs[i]);
  trialJobs.splice(0, trialJobs.length, ...jobs);
  return {
    xs: data.epochs,
    series: jobs.map((j) => /** @type {import('../chart.js').SeriesSpec} */ ({ label: jobLabel(j), color: '' })),
    ys: columns.map((/** @type {any} */ c) => c.values ?? c.points ?? []),
  };
}

/** @param {HTMLElement} main @param {string} id @param {URLSearchParams} params */
export async function experimentView(main, id, params) {
  const path = `/v1/experiments/${encodeURIComponent(id)}`;
  /** @type {any} */
  let exp;
  try {
    exp = await api.get(path);
  } catch (err) {
    if (unavailable(err, main)) return;
    throw err;
  }
  const view = { smoothing: 0, log: false };
  let metric = params.get('metric') ?? exp.objective?.metric ?? 'loss';
  const head = h('h1');
  const waitingBox = h('div');
  const summaryBox = h('div');
  const leaderboardBox = h('div');
  const trialsBox = h('div');
  const chartBox = h('div');
  const metricSelect = h('select', { name: 'metric', onchange: (/** @type {Event} */ e) => ((metric = /** @type {HTMLSelectElement} */ (e.target).value), refresh()) });
  const chart = lineChart(chartBox, 'trials');
  main.append(
    head,
    waitingBox,
    h('h2', null, 'Per optimizer'),
    summaryBox,
    h('h2', null, 'Leaderboard'),
    leaderboardBox,
    h('h2', null, 'Curves'),
    h('div', { class: 'toolbar' }, h('label', null, 'metric ', metricSelect), chartControls(view, () => refresh(false))),
    chartBox,
    h('h2', null, 'Trials'),
    trialsBox,
  );

  /** @type {any[]} */
  let trialJobs = [];
  async function refresh(reload = true) {
    if (reload) {
      exp = await api.get(path);
      const ids = (exp.trials ?? []).map(trialJobId).filter(Boolean);
      trialJobs = (await Promise.all(ids.map((/** @type {string} */ t) => api.get(`/v1/jobs/${encodeURIComponent(t)}`).catch(() => null)))).filter(Boolean);
    }
    head.replaceChildren(exp.name ?? 'experiment', ' ', badge(exp.status ?? ''), h('code', { class: 'muted' }, exp.id));
    waitingBox.replaceChildren(waitingNotice(exp) ?? '');
    summaryBox.replaceChildren(objectTable(exp.summary ?? exp.optimizers ?? [], 'experiment-summary'));
    leaderboardBox.replaceChildren(objectTable(exp.leaderboard ?? [], 'leaderboard'));
    // A trial's scheduler decisions in one cell: the stop, if any, with the value and the bar it missed.
    const trials = (exp.trials ?? []).map((/** @type {any} */ t) => {
      const stop = (t.decisions ?? []).find((/** @type {any} */ d) => d.action === 'stop');
      const decision = stop ? `stopped at epoch ${stop.epoch}: ${fmt(stop.value)} vs ${fmt(stop.cutoff)}` : '';
      // The trial held back by a quota shows as waiting, with the quota, rather than as one more pending trial.
      const w = exp.waitingFor?.trial === t.index && t.status === 'pending' ? exp.waitingFor : null;
      return w ? { ...t, status: 'waiting', decision: `waits for ${waitText(w)}`, waitingQuota: w.quota } : { ...t, decision };
    });
    trialsBox.replaceChildren(objectTable(trials, 'trials', ['decisions']));
    const keys = metricKeys(trialJobs);
    metricSelect.replaceChildren(...(keys.includes(metric) ? keys : [metric, ...keys]).map((k) => h('option', { value: k, selected: k === metric }, k)));
    const curves = (await fromCurves(path, metric, trialJobs)) ?? overlay(trialJobs, metric, false);
    // Trials a scheduler stopped are drawn dashed.
    const stopped = new Set((exp.trials ?? []).filter((/** @type {any} */ t) => t.stoppedBy).map(trialJobId));
    curves.series.forEach((s, i) => {
      if (stopped.has(trialJobs[i]?.id)) s.dash = [4, 4];
      s.color = optimizerColor(trialJobs[i]?.spec?.optimizer?.name ?? '');
    });
    chart.update(curves.xs, curves.series, curves.ys, view);
    main.dataset.loaded = 'true';
  }
  try {
    await refresh();
  } catch (err) {
    main.append(errorBox(err));
  }
  const timer = setInterval(() => {
    if (['completed', 'failed', 'cancelled'].includes(exp.status)) return;
    refresh().catch(() => {});
  }, REFRESH_MS);
  return () => {
    clearInterval(timer);
    chart.destroy();
  };
}
