import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT } from '../src/shared/access.js';
import { trainingJobData } from '../src/queue/enqueue.js';
import { createTrainingQueue } from '../src/queue/queues.js';
import type { ExperimentRecord, JobRecord, StoredJobSpec } from '../src/spec/index.js';
import { checkpointKeys } from '../src/storage/artifact-keys.js';
import { TRAINING_QUEUE, redisKeys } from '../src/store/keys.js';
import { createBlockingRedis } from '../src/store/redis.js';
import { type Stack, experimentEventCheck, longSpec, parseSse, readLive, recoverableSpec, startStack, submit, testConfig, xorSpec } from './helpers.js';

describe('quotas with a real worker training', () => {
  let stack: Stack;
  let connection: Redis;
  let queueEvents: QueueEvents;
  /** Every job BullMQ saw finish (its processor returned: the worker has measured what the job holds). */
  const finished = new Map<string, () => void>();
  const seen = new Set<string>();
  const processed = (id: string) => (seen.has(id) ? Promise.resolve() : new Promise<void>((resolve) => finished.set(id, resolve)));
  const usage = async () => (await stack.app.inject('/v1/tenant')).json<{ usage: { activeJobs: number; artifactBytes: number } }>().usage;
  /** An experiment of two XOR trials (learning rates 0.05 and 0.1). */
  const twoTrials = (epochs: number, maxConcurrentTrials: number) =>
    stack.app.inject({
      method: 'POST',
      url: '/v1/experiments',
      payload: {
        base: xorSpec({ training: { epochs, batchSize: 4, seed: 1 } }),
        space: { 'optimizer.learningRate': { values: [0.05, 0.1] } },
        objective: { metric: 'loss' },
        maxConcurrentTrials,
      },
    });
  let listening: Promise<string> | undefined;
  const baseUrl = () => (listening ??= stack.app.listen({ port: 0, host: '127.0.0.1' }));
  const record = async (id: string) => (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();

  /** Bytes of a job's files on disk, read with fs (not through the artifact store), and its checkpoint files. */
  const onDisk = (id: string) => {
    const dir = join(stack.config.DATA_DIR, 'artifacts', 'jobs', id);
    const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && !e.name.endsWith('.tmp'));
    const paths = files.map((e) => join(e.parentPath, e.name));
    const size = (list: string[]) => list.reduce((n, p) => n + statSync(p).size, 0);
    const checkpoints = paths.filter((p) => p.includes('/checkpoints/'));
    return { bytes: size(paths), modelBytes: size(paths.filter((p) => p.includes('/model/'))), checkpoints: checkpoints.length };
  };

  /** The job holds its model alone (on disk, in its record, in the tenant's usage, then `used`); then it is deleted. */
  const expectModelAloneThenDelete = async (id: string, used: number, modelBytes: number) => {
    expect(onDisk(id)).toEqual({ bytes: modelBytes, modelBytes, checkpoints: 0 });
    expect((await record(id)).storedBytes.artifactBytes).toBe(modelBytes);
    expect((await usage()).artifactBytes).toBe(used);
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(204);
  };

  beforeAll(async () => {
    stack = await startStack({ config: testConfig({ EXPERIMENT_SWEEP_MS: '200', CHECKPOINT_MIN_INTERVAL_MS: '0', JOB_ATTEMPTS: '3' }) });
    connection = createBlockingRedis(stack.config);
    queueEvents = new QueueEvents(TRAINING_QUEUE, { connection, prefix: redisKeys(stack.config.REDIS_PREFIX).bull });
    queueEvents.on('completed', ({ jobId }) => {
      seen.add(jobId);
      finished.get(jobId)?.();
    });
    await queueEvents.waitUntilReady();
  });
  afterAll(async () => {
    await queueEvents.close();
    connection.disconnect();
    await stack.close();
  });

  it("charges a job's model and checkpoints to its tenant as the files on disk, and gives them back when it is deleted", async () => {
    const before = (await usage()).artifactBytes;
    const id = await submit(stack.app, xorSpec({ training: { epochs: 4, batchSize: 4, seed: 1 } }));
    await processed(id);
    const job = await record(id);
    expect(job.status).toBe('completed');
    // The checkpoints went with completion; the model stays.
    const disk = onDisk(id);
    expect(disk.checkpoints).toBe(0);
    expect(disk.bytes).toBeGreaterThan(0);
    expect(job.storedBytes).toEqual({ artifactBytes: disk.bytes, datasetBytes: 0 });
    expect((await usage()).artifactBytes).toBe(before + disk.bytes);
    // The list shows it too.
    const listed = (await stack.app.inject('/v1/jobs')).json<{ items: JobRecord[] }>().items.find((j) => j.id === id)!;
    expect(listed.storedBytes).toEqual(job.storedBytes);

    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(204);
    expect((await usage()).artifactBytes).toBe(before);
  });

  it("has a job's stored bytes final when its completed event arrives: the model alone, in the record and in the tenant's usage", async () => {
    const before = (await usage()).artifactBytes;
    const id = await submit(stack.app, xorSpec({ training: { epochs: 4, batchSize: 4, seed: 1 } }));
    await readLive(await baseUrl(), id, (e) => e.event === 'completed');
    // Read as a client reacting to the event does: before the worker has handed the job back to BullMQ.
    const [job, used] = await Promise.all([record(id), usage()]);
    expect(job).toMatchObject({ status: 'completed', checkpointEpoch: 4 });
    const { modelBytes } = onDisk(id);
    expect(modelBytes).toBeGreaterThan(0);
    expect(job.storedBytes).toEqual({ artifactBytes: modelBytes, datasetBytes: 0 });
    expect(used.artifactBytes).toBe(before + modelBytes);
    // Once the worker is done the checkpoints are gone and nothing changed.
    await processed(id);
    await expectModelAloneThenDelete(id, before + modelBytes, modelBytes);
  });

  it('deletes and uncounts the checkpoints a worker that died right after completing a job left, when BullMQ hands that job out again', async () => {
    const before = (await usage()).artifactBytes;
    const spec = xorSpec({ training: { epochs: 2, batchSize: 4, seed: 1 } });
    const id = await submit(stack.app, spec);
    await processed(id);
    const { modelBytes } = onDisk(id);
    // What such a worker leaves: the job completed (its bytes settled to the model) and a checkpoint still in the store.
    const leftover = checkpointKeys(id);
    await stack.app.artifacts.put(leftover.data(2), new Uint8Array(100));
    await stack.app.artifacts.put(leftover.manifest(2), '{}');
    expect(onDisk(id).checkpoints).toBe(2);
    expect((await usage()).artifactBytes).toBe(before + modelBytes);
    // BullMQ hands a stalled job out again; here the same job under a second BullMQ id, as its record is what the worker reads.
    const queue = createTrainingQueue(connection, redisKeys(stack.config.REDIS_PREFIX));
    try {
      const again = `${id}-again`;
      await queue.add('train', trainingJobData({ id, spec: (await record(id)).spec as StoredJobSpec }), { jobId: again });
      await processed(again);
    } finally {
      await queue.close();
    }
    await expectModelAloneThenDelete(id, before + modelBytes, modelBytes);
  });

  it("counts a cancelled job's checkpoints while it keeps them, and refuses new work (422) once they fill the quota", async () => {
    const before = (await usage()).artifactBytes;
    const id = await submit(stack.app, longSpec());
    await readLive(await baseUrl(), id, (e) => e.event === 'epoch' && e.data.epoch === 5);
    expect((await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` })).statusCode).toBe(200);
    await processed(id);
    const disk = onDisk(id);
    expect(disk.checkpoints).toBeGreaterThan(0);
    expect((await record(id)).storedBytes.artifactBytes).toBe(disk.bytes);
    expect(await usage()).toMatchObject({ activeJobs: 0, artifactBytes: before + disk.bytes });

    await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { artifactBytes: before + disk.bytes });
    try {
      const refused = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec() });
      expect(refused.statusCode).toBe(422);
      expect(refused.json().error).toEqual({
        code: 'quota_exceeded',
        message: `over the tenant's quota artifactBytes: ${before + disk.bytes} used of ${before + disk.bytes}; delete something first`,
        details: { quota: 'artifactBytes', used: before + disk.bytes, limit: before + disk.bytes },
      });
      expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(204);
      expect((await usage()).artifactBytes).toBe(before);
      const admitted = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec({ training: { epochs: 1, batchSize: 4 } }) });
      expect(admitted.statusCode).toBe(202);
      await processed(admitted.json<JobRecord>().id);
    } finally {
      await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { artifactBytes: null });
    }
  });

  it('leaves no drift when a training process is killed with SIGKILL: the killed run checkpoints go with completion, and usage is the model on disk', async () => {
    const before = (await usage()).artifactBytes;
    const id = await submit(stack.app, recoverableSpec(30));
    await readLive(await baseUrl(), id, (e) => e.event === 'epoch' && e.data.epoch === 10);
    process.kill(stack.worker!.trainingPid(id)!, 'SIGKILL');
    await processed(id);
    const job = await record(id);
    expect(job).toMatchObject({ status: 'completed', attempts: 2 });
    const disk = onDisk(id);
    expect(disk.checkpoints).toBe(0);
    expect(job.storedBytes.artifactBytes).toBe(disk.bytes);
    expect((await usage()).artifactBytes).toBe(before + disk.bytes);
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })).statusCode).toBe(204);
    expect((await usage()).artifactBytes).toBe(before);
  });

  it('counts experiment trials as active jobs: a trial with no room waits, told once, and starts when a slot frees', async () => {
    await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { activeJobs: 1 });
    try {
      const res = await twoTrials(3, 2);
      expect(res.statusCode).toBe(202);
      const submitted = res.json<ExperimentRecord>();
      expect(submitted.counts).toEqual({ queued: 1, pending: 1 });
      expect(submitted.waitingFor).toEqual({ trial: 1, jobId: submitted.trials[1]!.jobId, quota: 'activeJobs', used: 1, limit: 1 });

      const events = parseSse((await stack.app.inject(`/v1/experiments/${submitted.id}/events`)).body, experimentEventCheck);
      const order = events.map((e) => `${e.event}${typeof e.data.trial === 'number' ? e.data.trial : ''}`).filter((e) => !e.startsWith('trial_epoch'));
      expect(order).toEqual(['trial_waiting1', 'trial_started0', 'trial_ended0', 'trial_started1', 'trial_ended1', 'completed']);
      expect(events[0]!.data).toEqual({ trial: 1, jobId: submitted.trials[1]!.jobId, quota: 'activeJobs', used: 1, limit: 1 });

      const done = (await stack.app.inject(`/v1/experiments/${submitted.id}`)).json<ExperimentRecord>();
      expect(done).toMatchObject({ status: 'completed', counts: { completed: 2 }, waitingFor: null });
      expect((await usage()).activeJobs).toBe(0);
    } finally {
      await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { activeJobs: null });
    }
  });
  it("holds a trial back while the tenant's artifacts fill its quota, and queues it once the quota is raised", async () => {
    const before = (await usage()).artifactBytes;
    // Room for the experiment and its first trial, which then fills it with what it writes.
    await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { artifactBytes: before + 1 });
    try {
      const res = await twoTrials(2, 1);
      expect(res.statusCode).toBe(202);
      const id = res.json<ExperimentRecord>().id;
      const { events } = await readLive(await baseUrl(), id, (e) => e.event === 'trial_waiting', {}, 'experiments');
      const waiting = events.at(-1)!.data;
      expect(waiting).toMatchObject({ trial: 1, quota: 'artifactBytes', limit: before + 1 });
      expect(waiting.used).toBeGreaterThanOrEqual(before + 1);
      const held = (await stack.app.inject(`/v1/experiments/${id}`)).json<ExperimentRecord>();
      expect(held).toMatchObject({ status: 'running', waitingFor: { trial: 1, quota: 'artifactBytes' } });
      expect(held.trials[1]!.status).toBe('pending');

      await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { artifactBytes: null });
      const rest = parseSse((await stack.app.inject(`/v1/experiments/${id}/events`)).body, experimentEventCheck);
      expect(rest.filter((e) => e.event === 'trial_waiting')).toHaveLength(1);
      expect(rest.at(-1)!.event).toBe('completed');
      expect((await stack.app.inject(`/v1/experiments/${id}`)).json<ExperimentRecord>()).toMatchObject({ counts: { completed: 2 }, waitingFor: null });
    } finally {
      await stack.app.quotas.tenants.setQuotas(DEFAULT_TENANT, { artifactBytes: null });
    }
  });
});
