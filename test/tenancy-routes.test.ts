import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetRecord, ExperimentRecord, JobRecord } from '../src/spec/index.js';
import { type Stack, startStack, testConfig, xorSpec } from './helpers.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
interface Operation {
  method: Method;
  path: string;
}

/** Routes anyone may call: the probes; the login takes its key in the body (and answers 401 for a bad one). */
const PROBES = new Set(['GET /healthz', 'GET /readyz']);

/** What an `{id}` names, by the path's prefix: the kinds a tenant owns. */
const KIND_OF: [string, 'job' | 'dataset' | 'experiment'][] = [
  ['/v1/jobs/{id}', 'job'],
  ['/v1/datasets/{id}', 'dataset'],
  ['/v1/experiments/{id}', 'experiment'],
];

const SECRET_NAME = 'secret-of-tenant-a';
const SECRET_COLUMN = 'secretcolumn';

/**
 * Every operation of the OpenAPI document the app itself generates (so routes other modules add
 * are covered the day they are registered), tried with no key and with another tenant's key.
 */
describe('every route of the OpenAPI document, AUTH=required (real app, real Redis)', () => {
  let stack: Stack;
  let operations: Operation[];
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  let a: string;
  let b: string;
  const owned: Record<string, string> = {};

  beforeAll(async () => {
    stack = await startStack({ worker: false, config: testConfig({ AUTH: 'required', METRICS_TOKEN: 'metrics-secret', RATE_LIMIT_MAX: '0' }) });
    const doc = stack.app.swagger() as { paths: Record<string, Partial<Record<Method, unknown>>> };
    operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      (['get', 'post', 'put', 'patch', 'delete'] as const).filter((m) => item[m] !== undefined).map((method) => ({ method, path })),
    );
    a = (await stack.app.apiKeys.create({ tenant: 'tenant-a', scope: 'write' })).key;
    b = (await stack.app.apiKeys.create({ tenant: 'tenant-b', scope: 'write' })).key;
    const dataset = await stack.app.inject({
      method: 'POST',
      url: '/v1/datasets?label=label',
      headers: { ...auth(a), 'content-type': 'text/csv' },
      payload: `x1,${SECRET_COLUMN},label\n1,2,p\n3,4,q\n5,6,p\n7,8,q\n`,
    });
    expect(dataset.statusCode).toBe(201);
    owned.dataset = dataset.json<DatasetRecord>().id;
    const job = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: auth(a), payload: xorSpec({ name: SECRET_NAME }) });
    expect(job.statusCode).toBe(202);
    owned.job = job.json<JobRecord>().id;
    const experiment = await stack.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: auth(a),
      payload: {
        name: SECRET_NAME,
        base: xorSpec({ name: SECRET_NAME }),
        space: { 'optimizer.learningRate': { values: [0.1, 0.5] } },
        objective: { metric: 'loss' },
      },
    });
    expect(experiment.statusCode).toBe(202);
    owned.experiment = experiment.json<ExperimentRecord>().id;
  });
  afterAll(() => stack.close());

  const url = (op: Operation, ids: Record<string, string>) =>
    op.path
      .replace('{id}', () => {
        const kind = KIND_OF.find(([prefix]) => op.path.startsWith(prefix))?.[1];
        if (!kind) return 'some-id';
        const id = ids[kind];
        if (!id) throw new Error(`the test has no ${kind} of tenant A for ${op.method.toUpperCase()} ${op.path}: create one in beforeAll`);
        return id;
      })
      .replace(/\{(\w+)\}/g, (_, name: string) => (name === 'tenant' ? 'tenant-a' : name === 'name' ? 'mlp' : 'x'));

  /** A body each write could take: another tenant's dataset named where a spec can name one. */
  const body = (op: Operation) =>
    op.path === '/v1/session'
      ? { key: 'dsk_not_a_key' }
      : { ...xorSpec(), dataset: { id: owned.dataset }, inputs: [[0, 1]], key: 'x', tenant: 'tenant-b', scope: 'read' };

  const call = (op: Operation, path: string, headers: Record<string, string>) =>
    stack.app.inject({
      method: op.method.toUpperCase() as 'GET',
      url: path,
      headers,
      ...(op.method === 'post' || op.method === 'put' || op.method === 'patch' ? { payload: body(op) } : {}),
    });

  it('the document has the routes this test is about', () => {
    const names = operations.map((o) => `${o.method.toUpperCase()} ${o.path}`);
    expect(names).toEqual(
      expect.arrayContaining(['GET /v1/jobs/{id}', 'POST /v1/jobs', 'DELETE /v1/datasets/{id}', 'GET /v1/jobs/{id}/events', 'POST /v1/admin/keys']),
    );
  });

  it('answers 401 on every route but the probes without a key', async () => {
    const open: string[] = [];
    for (const op of operations) {
      const name = `${op.method.toUpperCase()} ${op.path}`;
      const res = await call(op, url(op, owned), {});
      if (PROBES.has(name)) continue;
      if (res.statusCode !== 401 || res.json<{ error: { code: string } }>().error.code !== 'unauthorized') open.push(`${name} -> ${res.statusCode}`);
    }
    expect(open).toEqual([]);
  });

  it("gives tenant B a 404 on every route that names tenant A's resource, exactly as for an id that does not exist, and changes nothing", async () => {
    const seen: string[] = [];
    const leaks: string[] = [];
    for (const op of operations.filter((o) => o.path.includes('{id}') && KIND_OF.some(([p]) => o.path.startsWith(p)))) {
      const name = `${op.method.toUpperCase()} ${op.path}`;
      const theirs = await call(op, url(op, owned), auth(b));
      const missing = await call(op, url(op, { job: 'no-such-job', dataset: 'ds_no-such-dataset', experiment: 'no-such-experiment' }), auth(b));
      seen.push(name);
      if (theirs.statusCode !== 404) leaks.push(`${name} -> ${theirs.statusCode} ${theirs.body.slice(0, 200)}`);
      if (theirs.statusCode !== missing.statusCode) leaks.push(`${name}: ${theirs.statusCode} for A's id, ${missing.statusCode} for none`);
      if (theirs.body.includes(SECRET_NAME) || theirs.body.includes(SECRET_COLUMN)) leaks.push(`${name} shows A's data`);
    }
    expect(leaks).toEqual([]);
    expect(seen.length).toBeGreaterThanOrEqual(8);

    // Routes without an id (lists, submits naming A's dataset, summaries) show nothing of A's either.
    for (const op of operations.filter((o) => !o.path.includes('{'))) {
      const res = await call(op, url(op, owned), auth(b));
      if (res.body.includes(SECRET_NAME) || res.body.includes(SECRET_COLUMN) || res.body.includes(owned.job!) || res.body.includes(owned.experiment!))
        leaks.push(`${op.method} ${op.path}`);
    }
    expect(leaks).toEqual([]);
    const submitted = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: auth(b), payload: { ...xorSpec(), dataset: { id: owned.dataset } } });
    expect(submitted.statusCode).toBe(400);
    expect(submitted.json().error.details).toEqual([{ path: ['dataset', 'id'], message: `no uploaded dataset has id ${JSON.stringify(owned.dataset)}` }]);

    // Tenant A's job, dataset and experiment are as they were.
    const job = await stack.app.inject({ url: `/v1/jobs/${owned.job}`, headers: auth(a) });
    expect(job.statusCode).toBe(200);
    expect(job.json<JobRecord>()).toMatchObject({ name: SECRET_NAME, status: 'queued' });
    expect((await stack.app.inject({ url: `/v1/datasets/${owned.dataset}`, headers: auth(a) })).statusCode).toBe(200);
    const experiment = await stack.app.inject({ url: `/v1/experiments/${owned.experiment}`, headers: auth(a) });
    expect(experiment.statusCode).toBe(200);
    expect(experiment.json<ExperimentRecord>()).toMatchObject({ name: SECRET_NAME, status: 'running' });
  });
});
