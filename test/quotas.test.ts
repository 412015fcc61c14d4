import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, labelledCsv, startStack, testConfig, xorSpec } from './helpers.js';

describe('quotas per tenant (real Redis, no worker: jobs stay queued)', () => {
  let stack: Stack;
  let admin: string;
  let a: string;
  let b: string;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    stack = await startStack({ worker: false, config: testConfig({ AUTH: 'required', QUOTA_ACTIVE_JOBS: '2', QUOTA_DATASET_BYTES: '200' }) });
    admin = (await stack.app.apiKeys.create({ tenant: 'ops', scope: 'admin' })).key;
    a = (await stack.app.apiKeys.create({ tenant: 'a', scope: 'write' })).key;
    b = (await stack.app.apiKeys.create({ tenant: 'b', scope: 'write' })).key;
  });
  afterAll(() => stack.close());

  const submit = (key: string) => stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: as(key), payload: xorSpec() });

  it('refuses a job over the queued-plus-running quota with 429 and Retry-After, per tenant, until one finishes or an admin raises it', async () => {
    const first = await submit(a);
    expect(first.statusCode).toBe(202);
    expect((await submit(a)).statusCode).toBe(202);
    const over = await submit(a);
    expect(over.statusCode).toBe(429);
    expect(over.headers['retry-after']).toBe('30');
    expect(over.json().error).toEqual({
      code: 'quota_exceeded',
      message: "over the tenant's quota activeJobs: 2 used of 2; retry once some finish",
      details: { quota: 'activeJobs', used: 2, limit: 2 },
    });
    expect((await submit(b)).statusCode).toBe(202);

    // A cancelled job leaves the count as it is cancelled, not at the next submit.
    expect((await stack.app.inject({ url: '/v1/tenant', headers: as(a) })).json()).toMatchObject({ usage: { activeJobs: 2 } });
    expect((await stack.app.inject({ method: 'POST', url: `/v1/jobs/${first.json().id}/cancel`, headers: as(a) })).statusCode).toBe(200);
    expect((await stack.app.inject({ url: '/v1/tenant', headers: as(a) })).json()).toMatchObject({ usage: { activeJobs: 1 } });
    expect((await submit(a)).statusCode).toBe(202);
    expect((await submit(a)).statusCode).toBe(429);

    const raised = await stack.app.inject({ method: 'PATCH', url: '/v1/admin/tenants/a/quotas', headers: as(admin), payload: { activeJobs: 3 } });
    expect(raised.statusCode).toBe(200);
    expect(raised.json()).toMatchObject({ tenant: 'a', quotas: { activeJobs: 3, datasetBytes: 200 }, usage: { activeJobs: 2 } });
    expect((await submit(a)).statusCode).toBe(202);
    expect((await stack.app.inject({ url: '/v1/tenant', headers: as(a) })).json()).toMatchObject({ tenant: 'a', quotas: { activeJobs: 3 } });
    expect((await stack.app.inject({ method: 'PATCH', url: '/v1/admin/tenants/a/quotas', headers: as(a), payload: { activeJobs: 100 } })).statusCode).toBe(403);
    const reset = await stack.app.inject({ method: 'PATCH', url: '/v1/admin/tenants/a/quotas', headers: as(admin), payload: { activeJobs: null } });
    expect(reset.json()).toMatchObject({ quotas: { activeJobs: 2 } });
  });

  it("refuses an experiment over the tenant's experiments quota with 422, per tenant; deleting one gives it back", async () => {
    const experiment = (key: string) =>
      stack.app.inject({
        method: 'POST',
        url: '/v1/experiments',
        headers: as(key),
        payload: { base: xorSpec(), space: { 'optimizer.learningRate': { values: [0.1] } }, objective: { metric: 'loss' } },
      });
    const set = await stack.app.inject({ method: 'PATCH', url: '/v1/admin/tenants/c/quotas', headers: as(admin), payload: { experiments: 1 } });
    expect(set.statusCode).toBe(200);
    const c = (await stack.app.apiKeys.create({ tenant: 'c', scope: 'write' })).key;
    const usage = async (key: string) => (await stack.app.inject({ url: '/v1/tenant', headers: as(key) })).json().usage;
    expect(await usage(c)).toMatchObject({ experiments: 0 });
    const first = await experiment(c);
    expect(first.statusCode).toBe(202);
    expect(await usage(c)).toMatchObject({ experiments: 1 });
    const over = await experiment(c);
    expect(over.statusCode).toBe(422);
    expect(over.json().error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'experiments', used: 1, limit: 1 } });
    expect((await experiment(b)).statusCode).toBe(202);
    expect(await usage(c)).toMatchObject({ experiments: 1 });
    // A cancelled experiment is still held (it counts until deleted).
    expect((await stack.app.inject({ method: 'POST', url: `/v1/experiments/${first.json().id}/cancel`, headers: as(c) })).statusCode).toBe(200);
    expect(await usage(c)).toMatchObject({ experiments: 1 });
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/experiments/${first.json().id}`, headers: as(c) })).statusCode).toBe(204);
    expect(await usage(c)).toMatchObject({ experiments: 0 });
    expect((await experiment(c)).statusCode).toBe(202);
    const admins = (await stack.app.inject({ url: '/v1/admin/tenants/c', headers: as(admin) })).json();
    expect(admins).toMatchObject({ tenant: 'c', quotas: { experiments: 1 }, usage: { experiments: 1 } });
  });

  it('admits exactly one of many concurrent experiments against a quota of 1', async () => {
    expect((await stack.app.inject({ method: 'PATCH', url: '/v1/admin/tenants/e/quotas', headers: as(admin), payload: { experiments: 1 } })).statusCode).toBe(
      200,
    );
    const e = (await stack.app.apiKeys.create({ tenant: 'e', scope: 'write' })).key;
    const payload = { base: xorSpec(), space: { 'optimizer.learningRate': { values: [0.1] } }, objective: { metric: 'loss' } };
    const answers = await Promise.all(Array.from({ length: 12 }, () => stack.app.inject({ method: 'POST', url: '/v1/experiments', headers: as(e), payload })));
    expect(answers.map((r) => r.statusCode).sort()).toEqual([202, ...Array<number>(11).fill(422)]);
    for (const refused of answers.filter((r) => r.statusCode === 422)) {
      expect(refused.json().error).toEqual({
        code: 'quota_exceeded',
        message: "over the tenant's quota experiments: 1 used of 1; delete something first",
        details: { quota: 'experiments', used: 1, limit: 1 },
      });
    }
    const listed = await stack.app.inject({ url: '/v1/experiments', headers: as(e) });
    expect(listed.json().items).toHaveLength(1);
  });

  it("refuses new jobs and experiments with 422 while the tenant's artifacts fill its artifactBytes quota", async () => {
    const f = (await stack.app.apiKeys.create({ tenant: 'f', scope: 'write' })).key;
    expect((await stack.app.inject({ method: 'PATCH', url: '/v1/admin/tenants/f/quotas', headers: as(admin), payload: { artifactBytes: 0 } })).statusCode).toBe(
      200,
    );
    const job = await submit(f);
    expect(job.statusCode).toBe(422);
    expect(job.headers['retry-after']).toBeUndefined();
    expect(job.json().error).toEqual({
      code: 'quota_exceeded',
      message: "over the tenant's quota artifactBytes: 0 used of 0; delete something first",
      details: { quota: 'artifactBytes', used: 0, limit: 0 },
    });
    const experiment = await stack.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      headers: as(f),
      payload: { base: xorSpec(), space: { 'optimizer.learningRate': { values: [0.1] } }, objective: { metric: 'loss' } },
    });
    expect(experiment.statusCode).toBe(422);
    expect(experiment.json().error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'artifactBytes', used: 0, limit: 0 } });
    // Nothing was counted for the refused job.
    expect((await stack.app.inject({ url: '/v1/tenant', headers: as(f) })).json()).toMatchObject({ usage: { activeJobs: 0 } });
    expect(
      (await stack.app.inject({ method: 'PATCH', url: '/v1/admin/tenants/f/quotas', headers: as(admin), payload: { artifactBytes: 1000 } })).statusCode,
    ).toBe(200);
    expect((await submit(f)).statusCode).toBe(202);
  });

  it('counts dataset bytes after decompression: an upload past the quota is a 422 naming it, a delete frees its bytes', async () => {
    const upload = (body: string) =>
      stack.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...as(b), 'content-type': 'text/csv' }, payload: body });
    const small = await upload(labelledCsv(8));
    expect(small.statusCode).toBe(201);
    const used = small.json<{ bytes: { decompressed: number } }>().bytes.decompressed;
    const big = await upload(labelledCsv(40));
    expect(big.statusCode).toBe(422);
    expect(big.headers['retry-after']).toBeUndefined();
    expect(big.json().error.code).toBe('quota_exceeded');
    expect(big.json().error.message).toMatch(/^over the tenant's quota datasetBytes: \d+ used of 200; delete something first$/);
    expect((await stack.app.inject({ url: '/v1/tenant', headers: as(b) })).json()).toMatchObject({ usage: { datasetBytes: used } });
    // Tenant a's bytes are its own.
    expect(
      (await stack.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...as(a), 'content-type': 'text/csv' }, payload: labelledCsv(8) })).statusCode,
    ).toBe(201);

    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/datasets/${small.json().id}`, headers: as(b) })).statusCode).toBe(204);
    expect((await stack.app.inject({ url: '/v1/tenant', headers: as(b) })).json()).toMatchObject({ usage: { datasetBytes: 0 } });
  });
});
