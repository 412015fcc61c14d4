import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT } from '../src/shared/access.js';
import type { ExperimentRecord, JobListItem, JobRecord, JobSpecInput, StoredJobSpec } from '../src/spec/index.js';
import { experimentArtifacts, jobArtifacts } from '../src/storage/artifact-keys.js';
import { type RedisKeys, TRAINING_QUEUE, redisKeys } from '../src/store/keys.js';
import { train } from '../src/training/train.js';
import { JobStore } from '../src/store/job-store.js';
import { JobLifecycle } from '../src/store/job-lifecycle.js';
import { sweepFinishedJobs } from '../workers/retention.js';
import { createLogger } from '../src/shared/logger.js';
import { startWorker } from '../workers/worker-app.js';
import { type Stack, eventsUntilEnd, initTestBackend, resolveSpec, startStack, testConfig } from './helpers.js';

/** Full-precision doubles (no short decimal form), so any rounding on the way would show. */
const noise = (i: number) => (Math.sin(i * 12.9898 + 78.233) * 43758.5453) % 1;
const rows = (n: number, width: number, from = 0) => Array.from({ length: n }, (_, i) => Array.from({ length: width }, (_, j) => noise(from + i * width + j)));

/** A regression job on inline data: `samples` rows of `features` values, and an inline holdout. */
function inlineSpec(samples: number, features: number, epochs = 3): JobSpecInput {
  const x = rows(samples, features);
  const holdout = rows(16, features, 1e7);
  const target = (r: number[]) => [r.reduce((a, b) => a + b, 0) / features + 0.1];
  return {
    name: 'inline',
    dataset: { inline: { x, y: x.map(target) } },
    model: {
      inputShape: [features],
      layers: [
        { type: 'dense', units: 8, activation: 'tanh' },
        { type: 'dense', units: 1 },
      ],
    },
    loss: 'meanSquaredError',
    optimizer: { name: 'adam', learningRate: 0.01 },
    training: { epochs, batchSize: 16, seed: 3, validationData: { inline: { x: holdout, y: holdout.map(target) } } },
  };
}

type Inline = { x: unknown[]; y: unknown[] };
const inlineOf = (spec: JobSpecInput): Inline => spec.dataset.inline as Inline;
const holdoutOf = (spec: JobSpecInput): Inline => spec.training!.validationData!.inline as Inline;
/** What the tenant is charged for a spec's inline data: the JSON text of each dataset. */
const textBytes = (spec: JobSpecInput) => [inlineOf(spec), holdoutOf(spec)].reduce((n, d) => n + Buffer.byteLength(JSON.stringify({ x: d.x, y: d.y })), 0);

/** Bytes of a Redis hash as the raw client reads them (field names and values). */
async function hashBytes(redis: Redis, key: string): Promise<number> {
  const hash = await redis.hgetallBuffer(key);
  return Object.entries(hash).reduce((n, [k, v]) => n + Buffer.byteLength(k) + v.length, 0);
}

describe('inline datasets live in the artifact store (real Redis, local store, no worker)', () => {
  let stack: Stack;
  let redis: Redis;
  let keys: RedisKeys;
  const big = inlineSpec(4_000, 32);
  const bigBytes = textBytes(big);
  const usage = () => stack.app.quotas.tenants.usage(DEFAULT_TENANT);

  beforeAll(async () => {
    stack = await startStack({ worker: false });
    redis = stack.app.redis;
    keys = redisKeys(stack.config.REDIS_PREFIX);
  });
  afterAll(() => stack.close());

  it('keeps a large inline dataset out of the job hash and the queue entry; every view gives back the exact arrays; DELETE frees them', async () => {
    expect(bigBytes).toBeGreaterThan(2_000_000);
    const posted = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: big });
    expect(posted.statusCode).toBe(202);
    const id = posted.json<JobRecord>().id;
    expect(posted.json<JobRecord>().spec.dataset.inline).toEqual(inlineOf(big));

    // The record and BullMQ's copy hold a reference, not the data.
    expect(await hashBytes(redis, keys.job(id))).toBeLessThan(8_000);
    const queued = `${keys.bull}:${TRAINING_QUEUE}:${id}`;
    expect(JSON.parse((await redis.hget(queued, 'data'))!)).toMatchObject({ jobId: id, spec: { dataset: { inline: { samples: 4_000 } } } });
    expect(await hashBytes(redis, queued)).toBeLessThan(8_000);
    expect((await stack.app.artifacts.list(jobArtifacts(id))).length).toBe(2);
    expect(await usage()).toEqual({ datasetBytes: bigBytes, artifactBytes: bigBytes });

    const got = (await stack.app.inject({ url: `/v1/jobs/${id}` })).json<JobRecord>();
    expect(got.spec.dataset.inline).toEqual(inlineOf(big));
    expect(got.spec.training.validationData!.inline).toEqual(holdoutOf(big));
    const full = (await stack.app.inject({ url: '/v1/jobs?view=full' })).json<{ items: JobRecord[] }>();
    expect(full.items.find((j) => j.id === id)!.spec.dataset.inline).toEqual(inlineOf(big));
    const slim = (await stack.app.inject({ url: '/v1/jobs' })).json<{ items: JobListItem[] }>();
    expect(slim.items.find((j) => j.id === id)!.spec.dataset.inline).toEqual({ samples: 4_000 });
    expect(slim.items.find((j) => j.id === id)!.spec.training.validationData!.inline).toEqual({ samples: 16 });

    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(204);
    expect(await stack.app.artifacts.list(jobArtifacts(id))).toEqual([]);
    expect(await usage()).toEqual({ datasetBytes: 0, artifactBytes: 0 });
  });

  it('answers an Idempotency-Key replay with the job the first request created, data included, storing it once', async () => {
    const spec = inlineSpec(50, 3);
    const post = () => stack.app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'idempotency-key': 'inline-once' }, payload: spec });
    const first = await post();
    const again = await post();
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json<JobRecord>().id).toBe(first.json<JobRecord>().id);
    expect(again.json<JobRecord>().spec.dataset.inline).toEqual(inlineOf(spec));
    expect(await usage()).toEqual({ datasetBytes: textBytes(spec), artifactBytes: textBytes(spec) });
    await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${first.json<JobRecord>().id}` });
    expect(await usage()).toEqual({ datasetBytes: 0, artifactBytes: 0 });
  });

  it("stores an experiment's inline data once for all its trials, charged to the experiment and given back when it is deleted", async () => {
    const posted = await stack.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      payload: { base: big, space: { 'optimizer.learningRate': { values: [0.01, 0.02, 0.03] } }, objective: { metric: 'loss' }, maxConcurrentTrials: 3 },
    });
    expect(posted.statusCode).toBe(202);
    const experiment = posted.json<ExperimentRecord>();
    expect(experiment.spec.base.dataset.inline).toEqual(inlineOf(big));
    expect(experiment.trials).toHaveLength(3);

    // One copy of each distinct dataset, under the experiment; none under its trials' jobs.
    expect((await stack.app.artifacts.list(experimentArtifacts(experiment.id))).length).toBe(2);
    for (const t of experiment.trials) expect(await stack.app.artifacts.list(jobArtifacts(t.jobId))).toEqual([]);
    expect(await usage()).toEqual({ datasetBytes: bigBytes, artifactBytes: bigBytes });
    expect(await hashBytes(redis, keys.experiment(experiment.id))).toBeLessThan(8_000);
    expect(await hashBytes(redis, keys.experimentTrials(experiment.id))).toBeLessThan(3 * 8_000);
    for (const t of experiment.trials) expect(await hashBytes(redis, keys.job(t.jobId))).toBeLessThan(8_000);

    const read = (await stack.app.inject({ url: `/v1/experiments/${experiment.id}` })).json<ExperimentRecord>();
    expect(read.spec.base.training.validationData!.inline).toEqual(holdoutOf(big));
    const trial = (await stack.app.inject({ url: `/v1/jobs/${experiment.trials[2]!.jobId}` })).json<JobRecord>();
    expect(trial.spec.optimizer.learningRate).toBe(0.03);
    expect(trial.spec.dataset.inline).toEqual(inlineOf(big));

    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/experiments/${experiment.id}` })).statusCode).toBe(204);
    expect(await stack.app.artifacts.list(experimentArtifacts(experiment.id))).toEqual([]);
    expect(await usage()).toEqual({ datasetBytes: 0, artifactBytes: 0 });
  });

  it('stores the data of trials whose parameters change it beside the shared copy, each distinct dataset once', async () => {
    const base = inlineSpec(40, 2);
    const other = inlineSpec(24, 2).dataset;
    const posted = await stack.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      payload: { base, space: { dataset: { choices: [base.dataset, other] } }, objective: { metric: 'loss' } },
    });
    expect(posted.statusCode).toBe(202);
    const experiment = posted.json<ExperimentRecord>();
    // The base's data and holdout, and the second choice: the first choice is the base's data again.
    expect((await stack.app.artifacts.list(experimentArtifacts(experiment.id))).length).toBe(3);
    const bytes = textBytes(base) + Buffer.byteLength(JSON.stringify(other.inline));
    expect(await usage()).toEqual({ datasetBytes: bytes, artifactBytes: bytes });
    const trials = await Promise.all(experiment.trials.map(async (t) => (await stack.app.inject({ url: `/v1/jobs/${t.jobId}` })).json<JobRecord>()));
    expect(trials.map((t) => t.spec.dataset.inline)).toEqual([inlineOf(base), other.inline]);
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/experiments/${experiment.id}` })).statusCode).toBe(204);
    expect(await usage()).toEqual({ datasetBytes: 0, artifactBytes: 0 });
  });

  it("goes with its job in the retention sweep, which gives the job's bytes back", async () => {
    const spec = inlineSpec(30, 2);
    const id = (await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec })).json<JobRecord>().id;
    expect((await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` })).statusCode).toBe(200);
    expect(await usage()).toEqual({ datasetBytes: textBytes(spec), artifactBytes: textBytes(spec) });
    const swept = await sweepFinishedJobs(new JobStore(redis, keys, 1_000), stack.app.artifacts, { maxAgeMs: 1, maxCount: 0 }, Date.now() + 60_000);
    expect(swept).toContain(id);
    expect(await stack.app.artifacts.list(jobArtifacts(id))).toEqual([]);
    expect(await usage()).toEqual({ datasetBytes: 0, artifactBytes: 0 });
  });

  it('still reads a record written before inline data moved to the artifact store (the arrays in its spec)', async () => {
    const spec = inlineSpec(10, 2);
    const id = randomUUID();
    // As the job store wrote records before: the resolved spec, arrays and all.
    const legacy = resolveSpec(spec) as unknown as StoredJobSpec;
    await new JobLifecycle(new JobStore(redis, keys, 1_000)).create({ id, tenant: DEFAULT_TENANT, name: null, spec: legacy });
    expect((await stack.app.inject({ url: `/v1/jobs/${id}` })).json<JobRecord>().spec.dataset.inline).toEqual(inlineOf(spec));
    const slim = (await stack.app.inject({ url: '/v1/jobs' })).json<{ items: JobListItem[] }>();
    expect(slim.items.find((j) => j.id === id)!.spec.dataset.inline).toEqual({ samples: 10 });
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(204);
  });

  it('says so with 410 when the stored data is gone; the slim list and DELETE still work', async () => {
    const spec = inlineSpec(20, 2);
    const id = (await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec })).json<JobRecord>().id;
    await stack.app.artifacts.delete(`${jobArtifacts(id)}/inline`);
    const gone = await stack.app.inject({ url: `/v1/jobs/${id}` });
    expect(gone.statusCode).toBe(410);
    expect(gone.json().error.code).toBe('inline_data_missing');
    expect(gone.json().error.message).toContain(`the inline data of job ${id} is gone from the artifact store`);
    expect((await stack.app.inject({ url: '/v1/jobs?view=full' })).statusCode).toBe(410);
    expect((await stack.app.inject({ url: '/v1/jobs' })).json<{ items: JobListItem[] }>().items.map((j) => j.id)).toContain(id);
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(204);
    expect(await usage()).toEqual({ datasetBytes: 0, artifactBytes: 0 });
  });
});

describe('the datasetBytes quota covers inline data', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });
  afterAll(() => stack.close());

  it('refuses a job or an experiment whose inline data would pass it with 422, and stores, records, queues and charges nothing', async () => {
    const spec = inlineSpec(200, 4);
    await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { datasetBytes: textBytes(spec) - 1 });
    const job = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec });
    expect(job.statusCode).toBe(422);
    expect(job.json().error).toEqual({
      code: 'quota_exceeded',
      message: `over the tenant's quota datasetBytes: ${textBytes(spec)} used of ${textBytes(spec) - 1}; delete something first`,
      details: { quota: 'datasetBytes', used: textBytes(spec), limit: textBytes(spec) - 1 },
    });
    const experiment = await stack.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      payload: { base: spec, space: { 'optimizer.learningRate': { values: [0.01, 0.02] } }, objective: { metric: 'loss' } },
    });
    expect(experiment.statusCode).toBe(422);
    expect(experiment.json().error.details).toMatchObject({ quota: 'datasetBytes' });

    expect(await stack.app.artifacts.list('jobs')).toEqual([]);
    expect(await stack.app.artifacts.list('experiments')).toEqual([]);
    expect((await stack.app.inject({ url: '/v1/jobs' })).json().items).toEqual([]);
    expect((await stack.app.inject({ url: '/v1/experiments' })).json().items).toEqual([]);
    expect(await stack.app.jobs.queueStats()).toMatchObject({ counts: { waiting: 0, prioritized: 0 } });
    expect(await stack.app.quotas.tenants.usage(DEFAULT_TENANT)).toEqual({ datasetBytes: 0, artifactBytes: 0 });

    // At the quota exactly, it fits.
    await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { datasetBytes: textBytes(spec) });
    expect((await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec })).statusCode).toBe(202);
  });
});

describe('training reads inline data from the store', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, config: testConfig() });
    await initTestBackend();
  });
  afterAll(() => stack.close());

  it('trains to the same losses as train() on the spec as posted, and fails a job whose data is gone with dataset_not_found', async () => {
    const spec = inlineSpec(96, 3, 6);
    const submit = async () => (await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: spec })).json<JobRecord>().id;
    const [kept, lost] = [await submit(), await submit()];
    await stack.app.artifacts.delete(`${jobArtifacts(lost)}/inline`);
    const worker = await startWorker(stack.config, createLogger('warn', 'test-worker'));
    try {
      expect((await eventsUntilEnd(stack.app, kept)).at(-1)!.event).toBe('completed');
      const failed = (await eventsUntilEnd(stack.app, lost)).at(-1)!;
      expect(failed.event).toBe('failed');
      expect(failed.data.error).toMatchObject({ code: 'dataset_not_found' });
    } finally {
      await worker.close();
    }
    const record = (await stack.app.inject({ url: `/v1/jobs/${kept}` })).json<JobRecord>();
    const direct = await train(resolveSpec(spec, 3));
    direct.model.dispose();
    expect(record.history).toHaveLength(6);
    expect(record.history.map((h) => [h.loss, h.val_loss])).toEqual(direct.history.map((h) => [h.loss, h.val_loss]));
  });
});
