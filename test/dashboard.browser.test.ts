import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_QUOTA_RETRY_AFTER_S, type TenantView } from '../src/api/services/quota-service.js';
import { DEFAULT_TENANT } from '../src/shared/access.js';
import type { ExperimentRecord, JobRecord } from '../src/spec/index.js';
import { type Stack, longSpec, startStack, submit, tempDir, testConfig, xorSpec } from './helpers.js';

/** The page's document, as the predicates passed to waitForFunction see it (they run in the browser, under its CSP: functions, not strings to eval). */
declare const document: { querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null };

/**
 * The dashboard driven in a real headless Chromium (Debian's `chromium`; `.ci/run` installs
 * it) against a real API, worker and Redis. Waits are on the page's DOM and events, never on
 * time. Every view is captured as a screenshot; with UPDATE_SCREENSHOTS=1 they replace the README's
 * pictures in docs/images/, otherwise they go to a temporary directory.
 */
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const IMAGES = process.env.UPDATE_SCREENSHOTS === '1' ? fileURLToPath(new URL('../docs/images/', import.meta.url)) : tempDir('descent-screenshots-');
const TF_BUNDLE = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs/package.json')), 'dist', 'tf.min.js');
const CROSS_ORIGIN_PAGE = readFileSync(new URL('./fixtures/cross-origin.html', import.meta.url), 'utf8');

/** A fresh browser profile; `external` lists every request it made off this machine (none expected: all assets are local). */
async function launch(): Promise<{ context: BrowserContext; external: string[]; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'descent-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', ...FLAGS],
    viewport: { width: 1400, height: 900 },
  });
  const external: string[] = [];
  context.on('request', (r) => {
    const { protocol, hostname } = new URL(r.url());
    if (/^https?:$/.test(protocol) && hostname !== '127.0.0.1' && hostname !== 'localhost') external.push(r.url());
  });
  return {
    context,
    external,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

const pageErrors = new WeakMap<Page, string[]>();

/** A page whose script errors are collected; `closePage` fails the test on any. */
async function openPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  pageErrors.set(page, errors);
  return page;
}

async function closePage(page: Page): Promise<void> {
  await page.close();
  expect(pageErrors.get(page), 'errors in the page').toEqual([]);
}

/** A static server for the cross-origin page (and the tfjs browser bundle it loads). */
async function pageServer(): Promise<{ origin: string; server: Server }> {
  const tf = readFileSync(TF_BUNDLE);
  const server = createServer((req, res) => {
    if (req.url === '/tf.min.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(tf);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(CROSS_ORIGIN_PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { origin: `http://127.0.0.1:${port}`, server };
}

const plotted = (page: Page) => page.locator('[data-testid="epochs-plotted"]').textContent().then(Number);
const waitPlottedAbove = (page: Page, n: number) =>
  page.waitForFunction((min) => Number(document.querySelector('[data-testid="epochs-plotted"]')?.textContent) > min, n, { timeout: 60_000 });
const loaded = (page: Page) => page.locator('main[data-loaded]').waitFor();

interface CrossOriginPage {
  submit(api: string, spec: unknown): Promise<{ ok: boolean; value?: { status: number; body: { id: string } }; error?: string }>;
  get(api: string, path: string): Promise<{ ok: boolean; value?: number; error?: string }>;
  follow(api: string, id: string): Promise<{ epochs: number[]; seen: string[]; errors: number; closed: boolean }>;
  loadAndPredict(api: string, id: string, inputs: number[][]): Promise<{ ok: boolean; value?: number[][]; error?: string }>;
}
/** Calls one of the cross-origin page's functions in the page. */
const call = <K extends keyof CrossOriginPage>(page: Page, name: K, ...args: Parameters<CrossOriginPage[K]>) =>
  page.evaluate(({ name, args }) => (globalThis as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!(...args), {
    name,
    args: args as unknown[],
  }) as ReturnType<CrossOriginPage[K]>;

describe('the dashboard in a browser', () => {
  let stack: Stack;
  let base: string;
  let browser: Awaited<ReturnType<typeof launch>>;
  let allowed: Awaited<ReturnType<typeof pageServer>>;
  let other: Awaited<ReturnType<typeof pageServer>>;

  beforeAll(async () => {
    mkdirSync(IMAGES, { recursive: true });
    [allowed, other] = await Promise.all([pageServer(), pageServer()]);
    stack = await startStack({ config: testConfig({ CORS_ORIGINS: allowed.origin }) });
    base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    for (const s of [allowed, other]) s?.server.close();
  });

  it('submits a job from the form and draws its curve epoch by epoch as it trains', async () => {
    const page = await openPage(browser.context);
    await page.goto(`${base}/#/new`);
    await loaded(page);
    await page.fill('input[name="name"]', 'from-the-form');
    await page.fill('input[name="epochs"]', '80');
    await page.fill('input[name="batchSize"]', '16');
    await page.selectOption('select[name="optimizer"]', 'momentum');
    // The summary follows the form before anything is submitted.
    await page.locator('[data-testid="model-summary"]').waitFor();
    expect(await page.locator('[data-testid="spec-json"]').inputValue()).toContain('"momentum"');
    await page.locator('.rule .katex').first().waitFor();
    await page.screenshot({ path: join(IMAGES, 'dashboard-new-job.png') });

    await page.click('[data-testid="submit-job"]');
    await page.waitForURL(/#\/jobs\/[0-9a-f-]+$/);
    const id = decodeURIComponent(page.url().split('/').pop()!);
    // Each new count comes from a later epoch event: the curve grows while the job runs.
    const seen: number[] = [];
    let n = 0;
    while (n < 80) {
      await waitPlottedAbove(page, n);
      n = await plotted(page);
      seen.push(n);
    }
    expect(seen.length, `counts seen: ${seen.join(',')}`).toBeGreaterThan(2);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    await page.locator('h1 [data-status="completed"]').waitFor();
    expect(await page.locator('[data-chart="loss"]').getAttribute('data-points')).toBe('80');
    expect(await page.locator('[data-chart="learning rate"]').getAttribute('data-points')).toBe('80');
    const record = (await stack.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json<{ name: string; spec: { optimizer: { name: string } } }>();
    expect(record).toMatchObject({ name: 'from-the-form', spec: { optimizer: { name: 'momentum' } } });

    const downloads = new Promise<string[]>((resolve) => {
      const names: string[] = [];
      page.on('download', (d) => {
        names.push(d.suggestedFilename());
        if (names.length === 2) resolve(names);
      });
    });
    await page.click('button:has-text("Download model")');
    expect((await downloads).sort()).toEqual(['model.json', 'weights.bin']);

    // Predict from the page equals the API's answer.
    await page.fill('textarea[name="inputs"]', '[[0.5, -0.25]]');
    await page.click('text=Predict >> nth=-1');
    await page.waitForFunction(() => document.querySelector('[data-testid="predict-output"]')?.textContent?.startsWith('['));
    const api = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/predict`, payload: { inputs: [[0.5, -0.25]] } });
    expect(JSON.parse((await page.locator('[data-testid="predict-output"]').textContent())!)).toEqual(api.json().outputs);
    await page.screenshot({ path: join(IMAGES, 'dashboard-job.png'), fullPage: true });
    await closePage(page);
  });

  it('restores the curve after a reload mid-training and keeps drawing it; cancel and delete work', async () => {
    const id = await submit(stack.app, longSpec(10_000));
    const page = await openPage(browser.context);
    await page.goto(`${base}/#/jobs/${id}`);
    await waitPlottedAbove(page, 5);
    const before = await plotted(page);
    await page.reload();
    await loaded(page);
    // The replayed stream brings back every epoch drawn before the reload ...
    await waitPlottedAbove(page, before - 1);
    const restored = await plotted(page);
    expect(restored).toBeGreaterThanOrEqual(before);
    // ... and the curve still grows, live.
    await waitPlottedAbove(page, restored);
    await page.locator('h1 [data-status="running"]').waitFor();

    await page.click('button:has-text("Cancel")');
    await page.locator('h1 [data-status="cancelled"]').waitFor();
    expect((await stack.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json().status).toBe('cancelled');

    page.once('dialog', (d) => void d.accept());
    await page.click('button:has-text("Delete")');
    await page.waitForURL(/#\/jobs$/);
    expect((await stack.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).statusCode).toBe(404);
    await closePage(page);
  });

  it('overlays jobs coloured by optimizer, and seeds as mean ± σ', async () => {
    const specs = [
      xorSpec({ name: 'adam-seed-1', training: { epochs: 30, batchSize: 4, seed: 1 } }),
      xorSpec({ name: 'adam-seed-2', training: { epochs: 30, batchSize: 4, seed: 2 } }),
      xorSpec({ name: 'sgd-seed-1', optimizer: { name: 'sgd', learningRate: 0.5 }, training: { epochs: 30, batchSize: 4, seed: 1 } }),
    ];
    const page = await openPage(browser.context);
    await page.goto(`${base}/#/jobs`);
    await loaded(page);
    const ids: string[] = [];
    for (const spec of specs) ids.push(await submit(stack.app, spec));
    // The list is live: the new jobs appear and reach `completed` without a reload.
    for (const id of ids) await page.locator(`table.jobs tr[data-id="${id}"][data-status="completed"]`).waitFor({ timeout: 60_000 });
    await page.fill('input[name="text"]', 'sgd-seed');
    expect(await page.locator('table.jobs tbody tr').count()).toBe(1);
    await page.fill('input[name="text"]', '');
    for (const id of ids.slice(0, 2)) await page.check(`input[data-pick="${id}"]`);
    await page.screenshot({ path: join(IMAGES, 'dashboard-jobs.png') });
    await page.click('button:has-text("Compare selected")');
    await page.waitForURL(/#\/compare/);
    await loaded(page);
    const chart = page.locator('[data-testid="compare-chart"]');
    expect(await chart.getAttribute('data-points')).toBe('30');
    expect(await page.locator('[data-testid="compare-table"] tbody tr').count()).toBe(2);

    // Add the third job from the picker; the table gains it, the chart colours it by its optimizer.
    await page.check(`[data-testid="job-picker"] input[value="${ids[2]}"]`);
    await page.locator('[data-testid="compare-table"] tbody tr').nth(2).waitFor();
    const legend = await chart.locator('.u-legend').textContent();
    for (const name of ['adam-seed-1', 'adam-seed-2', 'sgd-seed-1']) expect(legend).toContain(name);
    const swatches = await page
      .locator('[data-testid="compare-table"] .swatch')
      .evaluateAll((els) => els.map((e) => (e as unknown as { style: { background: string } }).style.background));
    expect(swatches[0]).toBe(swatches[1]);
    expect(swatches[2]).not.toBe(swatches[0]);

    await page.check('input[name="seeds"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="compare-chart"] .u-legend')?.textContent?.includes('×2 seeds'));
    expect(await chart.locator('.u-legend').textContent()).toContain('sgd lr=0.5 ×1 seeds');
    await page.screenshot({ path: join(IMAGES, 'dashboard-compare.png') });
    await closePage(page);
  });

  it('lets a page on an allowed origin submit, stream and load the model, and refuses another origin', async () => {
    const page = await openPage(browser.context);
    await page.goto(`${allowed.origin}/`);
    const spec = xorSpec({ name: 'cross-origin', training: { epochs: 20, batchSize: 4, seed: 5 } });
    const submitted = await call(page, 'submit', base, spec);
    expect(submitted.ok, submitted.error).toBe(true);
    expect(submitted.value!.status).toBe(202);
    const id = submitted.value!.body.id;

    // The EventSource is never closed by the page: the reconnect after `completed` gets 204 and it stops.
    const followed = await call(page, 'follow', base, id);
    expect(followed.epochs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(followed.seen.at(-1)).toBe('completed');
    expect(followed.closed).toBe(true);

    const inputs = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ];
    const loadedModel = await call(page, 'loadAndPredict', base, id, inputs);
    expect(loadedModel.ok, loadedModel.error).toBe(true);
    const served = (await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/predict`, payload: { inputs } })).json<{ outputs: number[][] }>().outputs;
    loadedModel.value!.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(served[i]![j]!, 5)));
    await closePage(page);

    const refused = await openPage(browser.context);
    await refused.goto(`${other.origin}/`);
    const post = await call(refused, 'submit', base, spec);
    expect(post.ok).toBe(false);
    expect(post.error).toMatch(/TypeError/);
    const read = await call(refused, 'get', base, '/v1/optimizers');
    expect(read.ok).toBe(false);
    const events = await call(refused, 'follow', base, id);
    expect(events).toMatchObject({ epochs: [], seen: [], closed: true });
    const model = await call(refused, 'loadAndPredict', base, id, inputs);
    expect(model.ok).toBe(false);
    await closePage(refused);
  });

  it('shows the optimizer catalogue with every update rule typeset', async () => {
    const page = await openPage(browser.context);
    await page.goto(`${base}/#/optimizers`);
    await loaded(page);
    const catalogue = (await stack.app.inject({ method: 'GET', url: '/v1/optimizers' })).json<{ items: { name: string }[] }>().items;
    for (const { name } of catalogue) {
      expect(await page.locator(`[data-optimizer="${name}"] .rule .katex`).count(), name).toBeGreaterThan(0);
      expect(await page.locator(`[data-optimizer="${name}"] .katex-error`).count(), name).toBe(0);
    }
    await page.screenshot({ path: join(IMAGES, 'dashboard-optimizers.png') });
    await closePage(page);
  });

  it('serves the API reference at /docs, rendered with no request leaving the machine', async () => {
    const page = await openPage(browser.context);
    await page.goto(`${base}/docs`);
    await page.locator('.swagger-ui .info .title', { hasText: 'Descent' }).waitFor();
    await page.locator('.opblock-summary-path', { hasText: '/v1/jobs/{id}/events' }).first().waitFor();
    await closePage(page);
    expect(browser.external, 'requests to other hosts, from any page of these tests').toEqual([]);
  });

  it('shows an experiment with its leaderboard, or says plainly that the API has none', async (ctx) => {
    const page = await openPage(browser.context);
    const probe = await stack.app.inject({ method: 'GET', url: '/v1/experiments' });
    if (probe.statusCode === 404) {
      await page.goto(`${base}/#/experiments`);
      await page.locator('[data-testid="experiments-unavailable"]').waitFor();
      await closePage(page);
      ctx.skip('GET /v1/experiments is 404 on this API: the experiment view was checked only for its notice');
    }
    const created = await stack.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      payload: {
        base: xorSpec({ training: { epochs: 10, batchSize: 4 } }),
        space: {
          optimizer: {
            choices: [
              { name: 'adam', learningRate: { values: [0.05] } },
              { name: 'sgd', learningRate: { values: [0.5] } },
            ],
          },
        },
        search: { type: 'grid' },
        seeds: 1,
        objective: { metric: 'loss', mode: 'min' },
      },
    });
    expect(created.statusCode, created.body).toBeLessThan(300);
    const id = created.json<{ id: string }>().id;
    await expect
      .poll(async () => (await stack.app.inject({ method: 'GET', url: `/v1/experiments/${id}` })).json<{ status: string }>().status, {
        timeout: 60_000,
        interval: 200,
      })
      .toBe('completed');
    await page.goto(`${base}/#/experiments/${id}`);
    await loaded(page);
    expect(await page.locator('[data-testid="leaderboard"] tbody tr').count()).toBe(2);
    expect(await page.locator('[data-testid="trials"] tbody tr').count()).toBe(2);
    await page.screenshot({ path: join(IMAGES, 'dashboard-experiment.png'), fullPage: true });
    await closePage(page);
  });
});

describe('the job list with 1,000 jobs', () => {
  let stack: Stack;
  let base: string;
  let browser: Awaited<ReturnType<typeof launch>>;
  beforeAll(async () => {
    // No worker: the jobs stay queued; what is measured is listing and drawing them.
    // A tenant's queued jobs are capped by QUOTA_ACTIVE_JOBS; this list needs more of them.
    stack = await startStack({ worker: false, config: testConfig({ QUOTA_ACTIVE_JOBS: '5000' }) });
    base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('lists them all (page load time reported, not asserted)', async () => {
    const total = 1_000;
    for (let i = 0; i < total; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => submit(stack.app, xorSpec({ name: `job-${i + j}` }))));
    }
    const page = await openPage(browser.context);
    await page.goto(`${base}/#/jobs`);
    await page.waitForFunction((expected) => document.querySelector('[data-testid="job-count"]')?.textContent === expected, String(total), { timeout: 60_000 });
    expect(await page.locator('table.jobs tbody tr').count()).toBe(total);
    const [firstPage, all] = await page.evaluate(() =>
      ['descent:jobs-first-page', 'descent:jobs-rendered'].map((m) => performance.getEntriesByName(m)[0]!.startTime),
    );
    console.log(`dashboard: the newest 100 of ${total} jobs drawn ${firstPage!.toFixed(0)} ms after navigation start, all ${total} ${all!.toFixed(0)} ms`);
    await closePage(page);
  });
});

describe('the dashboard with API keys required', () => {
  let stack: Stack;
  let base: string;
  let browser: Awaited<ReturnType<typeof launch>>;
  beforeAll(async () => {
    stack = await startStack({ config: testConfig({ AUTH: 'required' }) });
    base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("signs in with a key it does not keep, streams the tenant's job over the session cookie, cancels it with the CSRF token, and shows no other tenant's job", async () => {
    const as = async (tenant: string) => ({ authorization: `Bearer ${(await stack.app.apiKeys.create({ tenant, scope: 'write' })).key}` });
    const { key } = await stack.app.apiKeys.create({ tenant: 'team-a', scope: 'write' });
    const other = await as('team-b');
    const post = async (headers: Record<string, string>, name: string) =>
      (await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers, payload: { ...longSpec(10_000), name } })).json<{ id: string }>().id;
    const id = await post({ authorization: `Bearer ${key}` }, 'team-a-job');
    await post(other, 'team-b-job');

    const page = await openPage(browser.context);
    await page.goto(`${base}/#/jobs`);
    await page.locator('#api-key').fill(key);
    await page.locator('#api-key').dispatchEvent('change');
    await page.waitForFunction(() => document.querySelector('[data-testid="job-count"]')?.textContent === '1', null, { timeout: 30_000 });
    expect(await page.locator('table.jobs tbody').textContent()).toContain('team-a-job');
    expect(await page.locator('table.jobs tbody').textContent()).not.toContain('team-b-job');
    // The usage panel appears with the signed-in tenant's own count (team-b's job is not in it).
    await page.locator('[data-testid="usage"]', { hasText: 'team-a' }).waitFor();
    expect(await page.locator('[data-testid="usage-activeJobs"]').textContent()).toMatch(/^1 \/ /);
    // The key is in neither the page's storage nor its cookies: only the HttpOnly session is.
    const stored = await page.evaluate(() => {
      const g = globalThis as unknown as { localStorage: object; sessionStorage: object; document: { cookie: string } };
      return JSON.stringify(g.localStorage) + JSON.stringify(g.sessionStorage) + g.document.cookie;
    });
    expect(stored).not.toContain(key.slice(21));
    const cookies = await browser.context.cookies(base);
    expect(cookies.find((c) => c.name === 'descent_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    await page.goto(`${base}/#/jobs/${id}`);
    await waitPlottedAbove(page, 2);
    await page.click('button:has-text("Cancel")');
    await page.locator('h1 [data-status="cancelled"]').waitFor();
    expect((await stack.app.inject({ url: `/v1/jobs/${id}`, headers: { authorization: `Bearer ${key}` } })).json().status).toBe('cancelled');
    await closePage(page);
  });
});

describe("the dashboard at a tenant's quotas", () => {
  let stack: Stack;
  let base: string;
  let browser: Awaited<ReturnType<typeof launch>>;
  const ACTIVE_JOBS = 5;
  beforeAll(async () => {
    stack = await startStack({ config: testConfig({ QUOTA_ACTIVE_JOBS: String(ACTIVE_JOBS), QUOTA_DATASET_BYTES: '4096', QUOTA_EXPERIMENTS: '1' }) });
    base = await stack.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const tenant = async () => (await stack.app.inject({ method: 'GET', url: '/v1/tenant' })).json<TenantView>();
  const record = async <T = JobRecord>(url: string) => (await stack.app.inject({ method: 'GET', url })).json<T>();
  const quota = (page: Page, name: string) => page.locator(`[data-testid="usage"] [data-quota="${name}"]`);
  /** Waits until the usage panel shows `used` of the quota `name` (it re-reads by itself: no reload). */
  const waitUsage = (page: Page, name: string, used: number) =>
    page.waitForFunction(
      ({ name, used }) => document.querySelector(`[data-testid="usage"] [data-quota="${name}"] [role="meter"]`)?.getAttribute('aria-valuenow') === String(used),
      { name, used },
      { timeout: 30_000 },
    );
  const inlineXor = (samples: number) => {
    const x = Array.from({ length: samples }, (_, i) => [i % 2, (i >> 1) % 2]);
    return xorSpec({ name: `inline-${samples}`, dataset: { inline: { x, y: x.map(([a, b]) => [a! ^ b!]) } }, training: { epochs: 5, batchSize: 4, seed: 1 } });
  };

  it("shows each quota as used / limit, live, and each job's stored bytes in its detail and the list", async () => {
    const id = await submit(stack.app, inlineXor(8));
    const page = await openPage(browser.context);
    await page.goto(`${base}/#/jobs`);
    await loaded(page);
    await page.locator(`table.jobs tr[data-id="${id}"][data-status="completed"]`).waitFor({ timeout: 60_000 });
    const job = await record(`/v1/jobs/${id}`);
    expect(job.storedBytes.artifactBytes).toBeGreaterThan(0);
    expect(job.storedBytes.datasetBytes).toBeGreaterThan(0);
    // Every quota the API reports is shown with its usage and limit.
    const view = await tenant();
    for (const [name, used] of Object.entries(view.usage)) {
      await waitUsage(page, name, used);
      expect(await quota(page, name).locator('[role="meter"]').getAttribute('aria-valuemax'), name).toBe(
        String(view.quotas[name as keyof TenantView['quotas']]),
      );
    }
    expect(await page.locator('[data-testid="usage"]').textContent()).toContain(DEFAULT_TENANT);
    // Sizes as a person reads them.
    expect(await page.locator('[data-testid="usage-datasetBytes"]').textContent()).toBe(`${job.storedBytes.datasetBytes} B / 4 KB`);
    expect(await page.locator('[data-testid="usage-experiments"]').textContent()).toBe('0 / 1');
    expect(await quota(page, 'activeJobs').getAttribute('data-state')).toBe('ok');
    // The list's stored column and the job's detail show what the record says it holds.
    expect(await page.locator(`table.jobs tr[data-id="${id}"] td[data-stored]`).getAttribute('data-stored')).toBe(String(job.storedBytes.artifactBytes));
    // Its last metrics column shows the record's last epoch, each metric to 4 significant digits.
    const { epoch: _epoch, ...last } = job.history.at(-1)!;
    const shown = (await page.locator(`table.jobs tr[data-id="${id}"] td.metrics`).textContent())!.split(' · ').map((m) => m.split(' '));
    expect(shown.map(([name]) => name)).toEqual(Object.keys(last));
    for (const [name, value] of shown) expect(Number(value), name).toBeCloseTo(last[name!]!, 3);
    await page.goto(`${base}/#/jobs/${id}`);
    await loaded(page);
    expect(await page.locator('[data-testid="stored-bytes"]').textContent()).toMatch(/^ · stores [\d.]+ [KMG]?B of artifacts, \d+ B of dataset$/);
    expect(await page.locator('[data-testid="stored-bytes"]').getAttribute('data-artifact-bytes')).toBe(String(job.storedBytes.artifactBytes));

    // Jobs submitted elsewhere fill the active-jobs quota: the panel follows, near full, then full.
    await page.goto(`${base}/#/jobs`);
    await loaded(page);
    for (let i = 0; i < ACTIVE_JOBS - 1; i++) await submit(stack.app, longSpec(10_000));
    await waitUsage(page, 'activeJobs', ACTIVE_JOBS - 1);
    expect(await quota(page, 'activeJobs').getAttribute('data-state')).toBe('near');
    await submit(stack.app, longSpec(10_000));
    await waitUsage(page, 'activeJobs', ACTIVE_JOBS);
    expect(await quota(page, 'activeJobs').getAttribute('data-state')).toBe('full');
    expect(await page.locator('[data-testid="usage-activeJobs"]').textContent()).toBe(`${ACTIVE_JOBS} / ${ACTIVE_JOBS}`);
    await closePage(page);
  });

  it("shows the API's message and when to retry when its own submission is refused (422 dataset quota, 429 active jobs)", async () => {
    const page = await openPage(browser.context);
    await page.goto(`${base}/#/new`);
    await loaded(page);
    // Over the dataset quota: a 422 that no wait cures.
    const big = inlineXor(400);
    const refused = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: big });
    expect(refused.statusCode).toBe(422);
    await page.fill('[data-testid="spec-json"]', JSON.stringify(big));
    await page.click('[data-testid="submit-job"]');
    const error = page.locator('.error[data-code="quota_exceeded"]');
    await error.waitFor();
    expect(await error.textContent()).toContain(refused.json<{ error: { message: string } }>().error.message);
    expect(await error.locator('[data-testid="retry-after"]').textContent()).toContain('until something is deleted or the quota is raised');

    // At the active-jobs quota: a 429 whose Retry-After the page turns into a wait.
    const small = inlineXor(4);
    const busy = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: small });
    expect(busy.statusCode).toBe(429);
    await page.fill('[data-testid="spec-json"]', JSON.stringify(small));
    await page.click('[data-testid="submit-job"]');
    await page.locator('.error[data-code="quota_exceeded"]', { hasText: 'activeJobs' }).waitFor();
    expect(await error.textContent()).toContain(busy.json<{ error: { message: string } }>().error.message);
    expect(await error.locator('[data-testid="retry-after"]').textContent()).toMatch(new RegExp(`^Retry in ${JOB_QUOTA_RETRY_AFTER_S} s \\(after .+\\)\\.$`));
    expect(page.url()).toMatch(/#\/new$/);
    await page.screenshot({ path: join(IMAGES, 'dashboard-quota-refused.png') });
    await closePage(page);
  });

  it('shows a trial waiting for quota room as waiting, with the quota, until room frees', async () => {
    const created = await stack.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      payload: {
        name: 'waits-for-room',
        base: xorSpec({ training: { epochs: 5, batchSize: 4 } }),
        space: { optimizer: { choices: [{ name: 'adam', learningRate: { values: [0.05] } }] } },
        search: { type: 'grid' },
        seeds: 1,
        objective: { metric: 'loss', mode: 'min' },
      },
    });
    expect(created.statusCode, created.body).toBe(202);
    const exp = created.json<ExperimentRecord>();
    expect(exp.waitingFor).toMatchObject({ trial: 0, quota: 'activeJobs', used: ACTIVE_JOBS, limit: ACTIVE_JOBS });

    const page = await openPage(browser.context);
    await page.goto(`${base}/#/experiments`);
    await loaded(page);
    expect(await page.locator(`[data-testid="experiments"] tr[data-waiting-for="activeJobs"]`).textContent()).toContain('waits for activeJobs');
    // The experiments quota (1) is now full too.
    await waitUsage(page, 'experiments', 1);
    expect(await quota(page, 'experiments').getAttribute('data-state')).toBe('full');

    await page.goto(`${base}/#/experiments/${exp.id}`);
    await loaded(page);
    const notice = page.locator('[data-testid="trial-waiting"]');
    expect(await notice.getAttribute('data-quota')).toBe('activeJobs');
    expect(await notice.textContent()).toContain(`active jobs (activeJobs): ${ACTIVE_JOBS} used of ${ACTIVE_JOBS}`);
    const row = page.locator('[data-testid="trials"] tr[data-waiting-for="activeJobs"]');
    expect(await row.locator('[data-status="waiting"]').count()).toBe(1);
    await page.screenshot({ path: join(IMAGES, 'dashboard-trial-waiting.png'), fullPage: true });

    // A slot frees (a job cancelled): the trial is queued and the page says so without a reload.
    const running = (await stack.app.inject({ method: 'GET', url: '/v1/jobs?status=running' })).json<{ items: { id: string }[] }>().items;
    expect((await stack.app.inject({ method: 'POST', url: `/v1/jobs/${running[0]!.id}/cancel` })).statusCode).toBe(200);
    await notice.waitFor({ state: 'detached', timeout: 30_000 });
    expect(await page.locator('[data-testid="trials"] tr[data-waiting-for]').count()).toBe(0);
    expect((await record<ExperimentRecord>(`/v1/experiments/${exp.id}`)).waitingFor).toBeNull();
    await closePage(page);
  });
});
