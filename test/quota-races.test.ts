import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetRecord, JobRecord, JobSpecInput } from '../src/spec/index.js';
import { experimentArtifacts, jobArtifacts } from '../src/storage/artifact-keys.js';
import { redisKeys } from '../src/store/keys.js';
import { type Stack, inlineXorSpec, labelledCsv, startStack, testConfig, xorSpec } from './helpers.js';

const inlineBytes = (spec: JobSpecInput) => Buffer.byteLength(JSON.stringify(spec.dataset.inline));

/** Many submissions at once, as many clients would send them: the quota must hold at the edge. */
const CONCURRENT = 12;
const FITS = 4;

describe('quotas hold under concurrent submissions (real Redis, real artifact store, no worker)', () => {
  let stack: Stack;
  let admin: string;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const tenantKey = async (tenant: string) => (await stack.app.apiKeys.create({ tenant, scope: 'write' })).key;
  const setQuotas = async (tenant: string, quotas: Record<string, number>) =>
    expect((await stack.app.inject({ method: 'PATCH', url: `/v1/admin/tenants/${tenant}/quotas`, headers: as(admin), payload: quotas })).statusCode).toBe(200);
  const tenantView = async (key: string) => (await stack.app.inject({ url: '/v1/tenant', headers: as(key) })).json();
  const statuses = (answers: { statusCode: number }[]) => answers.map((r) => r.statusCode).sort();

  beforeAll(async () => {
    stack = await startStack({ worker: false, config: testConfig({ AUTH: 'required' }) });
    admin = (await stack.app.apiKeys.create({ tenant: 'ops', scope: 'admin' })).key;
  });
  afterAll(() => stack.close());

  it('admits exactly the inline jobs that fit datasetBytes; the refused ones leave no files and no charge', async () => {
    const spec = inlineXorSpec(64);
    const bytes = inlineBytes(spec);
    await setQuotas('inline-jobs', { datasetBytes: FITS * bytes });
    const key = await tenantKey('inline-jobs');
    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, () => stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: as(key), payload: spec })),
    );
    expect(statuses(answers)).toEqual([...Array<number>(FITS).fill(202), ...Array<number>(CONCURRENT - FITS).fill(422)]);
    for (const refused of answers.filter((r) => r.statusCode === 422)) {
      expect(refused.json().error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'datasetBytes', limit: FITS * bytes } });
    }
    const view = await tenantView(key);
    expect(view.usage).toMatchObject({ datasetBytes: FITS * bytes, artifactBytes: FITS * bytes, activeJobs: FITS });
    // Only the admitted jobs' data is stored.
    const admitted = new Set(answers.filter((r) => r.statusCode === 202).map((r) => r.json<JobRecord>().id));
    const owners = new Set((await stack.app.artifacts.list('jobs')).map((k) => k.split('/')[1]));
    expect(owners).toEqual(admitted);
    const listed = (await stack.app.inject({ url: '/v1/jobs', headers: as(key) })).json<{ items: JobRecord[] }>().items;
    expect(new Set(listed.map((j) => j.id))).toEqual(admitted);
    for (const id of admitted) await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}`, headers: as(key) });
    expect((await tenantView(key)).usage).toMatchObject({ datasetBytes: 0, artifactBytes: 0, activeJobs: 0 });
    for (const id of admitted) expect(await stack.app.artifacts.list(jobArtifacts(id))).toEqual([]);
  });

  it('queues exactly activeJobs of many concurrent submissions', async () => {
    await setQuotas('active', { activeJobs: FITS });
    const key = await tenantKey('active');
    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, () => stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: as(key), payload: xorSpec() })),
    );
    expect(statuses(answers)).toEqual([...Array<number>(FITS).fill(202), ...Array<number>(CONCURRENT - FITS).fill(429)]);
    for (const refused of answers.filter((r) => r.statusCode === 429)) {
      expect(refused.json().error).toEqual({
        code: 'quota_exceeded',
        message: `over the tenant's quota activeJobs: ${FITS} used of ${FITS}; retry once some finish`,
        details: { quota: 'activeJobs', used: FITS, limit: FITS },
      });
    }
    const listed = (await stack.app.inject({ url: '/v1/jobs?status=queued', headers: as(key) })).json<{ items: JobRecord[] }>().items;
    expect(listed).toHaveLength(FITS);
    expect((await tenantView(key)).usage.activeJobs).toBe(FITS);
  });

  it('frees the slots of ids an older version left in the active set without a record', async () => {
    await setQuotas('stale', { activeJobs: 1 });
    const key = await tenantKey('stale');
    // As versions that admitted a job before recording it left one whose process died in between.
    await stack.app.redis.sadd(redisKeys(stack.config.REDIS_PREFIX).tenantActiveJobs('stale'), 'never-recorded');
    const first = await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: as(key), payload: xorSpec() });
    expect(first.statusCode).toBe(202);
    expect((await tenantView(key)).usage.activeJobs).toBe(1);
    expect((await stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: as(key), payload: xorSpec() })).statusCode).toBe(429);
  });

  it('admits exactly the experiments whose shared inline copy fits datasetBytes', async () => {
    const base = inlineXorSpec(64);
    const bytes = inlineBytes(base);
    await setQuotas('inline-experiments', { datasetBytes: FITS * bytes });
    const key = await tenantKey('inline-experiments');
    const payload = { base, space: { 'optimizer.learningRate': { values: [0.1, 0.2] } }, objective: { metric: 'loss' } };
    const answers = await Promise.all(
      Array.from({ length: CONCURRENT }, () => stack.app.inject({ method: 'POST', url: '/v1/experiments', headers: as(key), payload })),
    );
    expect(statuses(answers)).toEqual([...Array<number>(FITS).fill(202), ...Array<number>(CONCURRENT - FITS).fill(422)]);
    for (const refused of answers.filter((r) => r.statusCode === 422)) {
      expect(refused.json().error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'datasetBytes', limit: FITS * bytes } });
    }
    expect((await tenantView(key)).usage).toMatchObject({ datasetBytes: FITS * bytes, artifactBytes: FITS * bytes, experiments: FITS });
    const admitted = new Set(answers.filter((r) => r.statusCode === 202).map((r) => r.json<{ id: string }>().id));
    const owners = new Set((await stack.app.artifacts.list('experiments')).map((k) => k.split('/')[1]));
    expect(owners).toEqual(admitted);
    for (const id of admitted) expect((await stack.app.artifacts.list(experimentArtifacts(id))).length).toBe(1);
  });

  it('keeps exactly the uploads that fit datasetBytes; a refused one leaves no arrays', async () => {
    const body = labelledCsv(20);
    const upload = (key: string) =>
      stack.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...as(key), 'content-type': 'text/csv' }, payload: body });
    // One upload by another tenant measures what each one is charged.
    const probe = (await upload(await tenantKey('upload-probe'))).json<DatasetRecord>();
    const bytes = probe.bytes.decompressed;
    await setQuotas('uploads', { datasetBytes: FITS * bytes });
    const key = await tenantKey('uploads');
    const answers = await Promise.all(Array.from({ length: CONCURRENT }, () => upload(key)));
    expect(statuses(answers)).toEqual([...Array<number>(FITS).fill(201), ...Array<number>(CONCURRENT - FITS).fill(422)]);
    for (const refused of answers.filter((r) => r.statusCode === 422)) {
      expect(refused.json().error).toMatchObject({ code: 'quota_exceeded', details: { quota: 'datasetBytes', limit: FITS * bytes } });
    }
    expect((await tenantView(key)).usage).toMatchObject({ datasetBytes: FITS * bytes, artifactBytes: FITS * probe.bytes.stored });
    const kept = new Set([probe.id, ...answers.filter((r) => r.statusCode === 201).map((r) => r.json<DatasetRecord>().id)]);
    const owners = new Set((await stack.app.artifacts.list('datasets')).map((k) => k.split('/')[1]));
    expect(owners).toEqual(kept);
  });
});
