/** The dashboard: a hash router over the views, each a function that fills `main` and returns its cleanup. */
import { api, currentSession, signIn } from './api.js';
import { errorBox, setOptimizerOrder } from './dom.js';
import { compareView } from './views/compare.js';
import { experimentView, experimentsView } from './views/experiments.js';
import { jobView } from './views/job.js';
import { jobsView } from './views/jobs.js';
import { newJobView } from './views/new-job.js';
import { optimizersView } from './views/optimizers.js';
import { usagePanel } from './usage.js';

/** @typedef {(main: HTMLElement, params: URLSearchParams, id?: string) => (void | (() => void)) | Promise<void | (() => void)>} View */

/** @type {[RegExp, string, View][]} */
const ROUTES = [
  [/^\/jobs\/([^/]+)$/, 'jobs', (main, _params, id) => jobView(main, /** @type {string} */ (id))],
  [/^\/jobs$/, 'jobs', jobsView],
  [/^\/compare$/, 'compare', compareView],
  [/^\/experiments\/([^/]+)$/, 'experiments', (main, params, id) => experimentView(main, /** @type {string} */ (id), params)],
  [/^\/experiments$/, 'experiments', experimentsView],
  [/^\/new$/, 'new', newJobView],
  [/^\/optimizers$/, 'optimizers', optimizersView],
];

const main = /** @type {HTMLElement} */ (document.getElementById('view'));
/** @type {(() => void) | void} */
let cleanup;
let generation = 0;

async function route() {
  const hash = location.hash.replace(/^#/, '') || '/jobs';
  const [path, query = ''] = hash.split('?');
  const found = ROUTES.map(([re, nav, view]) => ({ m: re.exec(path ?? ''), nav, view })).find((r) => r.m);
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const mine = ++generation;
  main.replaceChildren();
  delete main.dataset.loaded; // each view sets it again once it has drawn
  document.querySelectorAll('header [data-nav]').forEach((a) => a.classList.toggle('active', a.getAttribute('data-nav') === found?.nav));
  if (!found) {
    main.append(errorBox({ code: 'not_found', message: `no page ${hash}` }));
    return;
  }
  try {
    const done = await found.view(main, new URLSearchParams(query), found.m?.[1] ? decodeURIComponent(found.m[1]) : undefined);
    if (mine === generation) cleanup = done;
    else if (typeof done === 'function') done();
  } catch (err) {
    if (mine === generation) main.replaceChildren(errorBox(err));
  }
}

const usage = usagePanel(/** @type {HTMLElement} */ (document.getElementById('usage')));

const keyInput = /** @type {HTMLInputElement} */ (document.getElementById('api-key'));
/** @param {{auth: string, tenant: string, scope: string} | null} session */
const showSession = (session) => {
  keyInput.placeholder = session === null ? '(sign in)' : session.auth === 'off' ? '(not needed)' : `${session.tenant} (${session.scope})`;
};
keyInput.addEventListener('change', () => {
  const key = keyInput.value.trim();
  // The key goes to the API once and is forgotten: the session cookie stands for it.
  keyInput.value = '';
  signIn(key).then(showSession, (/** @type {Error} */ err) => {
    keyInput.placeholder = err.message;
  }).finally(() => {
    route();
    void usage.refresh();
  });
});

// Optimizer colours follow the catalogue's order on every view.
currentSession().then(showSession, () => showSession(null));
api.get('/v1/optimizers').then(
  (c) => setOptimizerOrder(c.items.map((/** @type {{name: string}} */ o) => o.name)),
  () => {},
).finally(() => {
  window.addEventListener('hashchange', route);
  route();
});
