import { DEFAULT_TENANT } from '../src/shared/access.js';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JobRecord, type StoredJobSpec, newJobEventSchema } from '../src/spec/index.js';
import { JobLifecycle } from '../src/store/job-lifecycle.js';
import { JobStore } from '../src/store/job-store.js';
import { TRAINING_QUEUE, redisKeys } from '../src/store/keys.js';
import { TenantStore } from '../src/store/tenant-store.js';
import { type Stack, eventsUntilEnd, resolveStoredSpec, startStack, xorSpec } from './helpers.js';

describe('job lifecycle', () => {
  let stack: Stack;
  let lifecycle: JobLifecycle;
  let store: JobStore;
  let spec: StoredJobSpec;
  beforeAll(async () => {
    stack = await startStack({ worker: false });
    store = new JobStore(stack.app.redis, redisKeys(stack.config.REDIS_PREFIX), 1000);
    lifecycle = new JobLifecycle(store);
    spec = resolveStoredSpec(xorSpec({ training: { epochs: 3, batchSize: 4, seed: 1 } }));
  });
  afterAll(async () => stack.close());

  const created = async () => {
    const id = randomUUID();
    await lifecycle.create({ id, tenant: DEFAULT_TENANT, name: null, spec });
    return id;
  };

  it('ends the stream of a job that could not be queued with a failed event', async () => {
    // Break BullMQ's job counter for real: the add script's INCR fails, while the job store
    // (other keys, same Redis) keeps working.
    const counter = `${redisKeys(stack.config.REDIS_PREFIX).bull}:${TRAINING_QUEUE}:id`;
    await stack.app.redis.set(counter, 'not-a-number');
    try {
      const res = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec() });
      expect(res.statusCode).toBe(500);
      const failed = (await stack.app.inject('/v1/jobs?status=failed')).json<{ items: JobRecord[] }>().items;
      expect(failed).toHaveLength(1);
      const record = failed[0]!;
      expect(record.error?.code).toBe('enqueue_failed');
      expect(record.error?.message).toMatch(/not an integer/);
      expect(record.finishedAt).not.toBeNull();
      const events = await eventsUntilEnd(stack.app, record.id);
      expect(events.map((e) => [e.event, e.data.status])).toEqual([
        ['status', 'queued'],
        ['status', 'failed'],
        ['failed', 'failed'],
      ]);
      expect(events.at(-1)!.data.error).toEqual(record.error);
    } finally {
      await stack.app.redis.del(counter);
    }
  });

  it('moves a job through a restart to completion, one schema-checked event per step', async () => {
    const id = await created();
    const first = await lifecycle.start((await store.get(id))!, 'w1');
    expect(first).toEqual({ started: true, attempt: 1 });
    const report = { epoch: 1, loss: 0.5, accuracy: 0.75, learningRate: 0.05, durationMs: 3 };
    expect(await lifecycle.recordEpoch(id, report, 3, undefined, 1)).toBe('appended');
    expect((await lifecycle.requeue(id, { reason: 'worker_shutdown', attempt: 1 })).ok).toBe(true);
    // A shutdown spends no attempt: the job resumes on the one it was on.
    expect(await store.get(id)).toMatchObject({ status: 'queued', attempts: 0, starts: 1 });
    const second = await lifecycle.start((await store.get(id))!, 'w2');
    expect(second).toEqual({ started: true, attempt: 1, resumeEpoch: 1 });
    expect((await lifecycle.complete(id, { numTensors: 0, stoppedEarly: { epoch: 1, bestEpoch: 1, restoredBestWeights: false } })).ok).toBe(true);
    // Finished is finished: no later transition applies.
    expect(await lifecycle.cancel(id)).toEqual({ ok: false, previous: 'completed' });
    expect((await lifecycle.fail(id, { code: 'training_error', message: 'late' })).ok).toBe(false);

    const events = await eventsUntilEnd(stack.app, id);
    expect(events.map((e) => e.event)).toEqual(['status', 'status', 'epoch', 'status', 'status', 'status', 'completed']);
    expect(events.map((e) => e.data.status ?? null)).toEqual(['queued', 'running', null, 'queued', 'running', 'completed', 'completed']);
    expect(events[2]!.data).toEqual({ ...report, epochs: 3 });
    expect(events[3]!.data).toMatchObject({ reason: 'worker_shutdown', checkpointEpoch: 1 });
    expect(events[4]!.data).toMatchObject({ attempt: 1, worker: 'w2', resumed: true, fromEpoch: 1 });
    expect(events[6]!.data).toMatchObject({ epoch: 1, final: { epoch: 1, loss: 0.5, accuracy: 0.75 }, numTensors: 0 });
    const record = (await store.get(id))!;
    expect(record).toMatchObject({ status: 'completed', attempts: 1, starts: 2, epoch: 1, checkpointEpoch: 1, error: null });
  });

  it('records what a completion reports that the job record keeps', async () => {
    const id = await created();
    await lifecycle.start((await store.get(id))!, 'w1');
    const preprocessing = { labels: { to: 'onehot' as const, classes: 3 } };
    await lifecycle.complete(id, { numTensors: 2, preprocessing });
    expect((await store.get(id))!.preprocessing).toEqual(preprocessing);
    expect((await eventsUntilEnd(stack.app, id)).at(-1)!.data.preprocessing).toEqual(preprocessing);
  });

  it('writes nothing when an event does not match its schema', async () => {
    const id = await created();
    await lifecycle.start((await store.get(id))!, 'w1');
    await expect(lifecycle.complete(id, { numTensors: 1, bogus: true } as never)).rejects.toThrow(/bogus/);
    expect(await store.getStatus(id)).toBe('running');
    expect(await lifecycle.recordEpoch(id, { epoch: 1, loss: 1, learningRate: 0.1, durationMs: 1 }, 3, undefined)).toBe('appended');
    await expect(lifecycle.recordEpoch(id, { epoch: 2, loss: 'x', learningRate: 0.1, durationMs: 1 } as never, 3, undefined)).rejects.toThrow();
    expect((await store.get(id))!.epoch).toBe(1);
  });

  it('a crash with attempts left requeues with the crash; a failure ends the job with its error', async () => {
    const id = await created();
    await lifecycle.start((await store.get(id))!, 'w1');
    await lifecycle.requeue(id, { reason: 'worker_crashed', message: 'training process exited (SIGKILL) before finishing', attempt: 1 });
    // A crash spent its attempt: the next start is a new one.
    expect(await lifecycle.start((await store.get(id))!, 'w2')).toEqual({ started: true, attempt: 2 });
    expect(await store.get(id)).toMatchObject({ attempts: 2, starts: 2 });
    await lifecycle.fail(id, { code: 'worker_crashed', message: 'again' });
    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-4)!.data).toMatchObject({ status: 'queued', reason: 'worker_crashed', attempt: 1 });
    expect(events.at(-1)).toMatchObject({ event: 'failed', data: { status: 'failed', error: { code: 'worker_crashed', message: 'again' } } });
    expect((await store.get(id))!.error).toEqual({ code: 'worker_crashed', message: 'again' });
  });

  it('a job picked up still running after its last attempt fails instead of starting again', async () => {
    const id = await created();
    expect(await lifecycle.start((await store.get(id))!, 'w1', 2)).toEqual({ started: true, attempt: 1 });
    // Its worker died: the job is still running when the next worker picks it up.
    expect(await lifecycle.start((await store.get(id))!, 'w2', 2)).toEqual({ started: true, attempt: 2 });
    const third = await lifecycle.start((await store.get(id))!, 'w3', 2);
    expect(third).toMatchObject({ started: false, failed: { code: 'worker_crashed' } });
    expect(await store.get(id)).toMatchObject({ status: 'failed', attempts: 2, starts: 2, error: third.started ? null : third.failed });
    expect((await eventsUntilEnd(stack.app, id)).at(-1)).toMatchObject({ event: 'failed', data: { error: { code: 'worker_crashed' } } });
  });

  it('a job deleted while its worker starts stays deleted: no late field brings back a record', async () => {
    const id = await created();
    await lifecycle.start((await store.get(id))!, 'w1');
    await lifecycle.cancel(id);
    expect(await store.remove(id)).toBe(true);
    // The training process reports its backend after the DELETE (the worker's 'started' message).
    await store.setFields(id, { backend: 'cpu', versions: '{}' });
    expect(await store.exists(id)).toBe(false);
    expect((await stack.app.inject(`/v1/jobs/${id}/events`)).statusCode).toBe(404);
  });

  it("charges a job's stored bytes to its tenant and gives them back when it is deleted; a deleted job is charged nothing", async () => {
    const tenant = `t-${randomUUID()}`;
    const tenants = new TenantStore(stack.app.redis, redisKeys(stack.config.REDIS_PREFIX));
    const [one, two] = [randomUUID(), randomUUID()];
    // Its inline data at creation, then what its training wrote.
    await lifecycle.create({ id: one, tenant, name: null, spec, charge: { datasetBytes: 100, artifactBytes: 40 } });
    await lifecycle.create({ id: two, tenant, name: null, spec, charge: { artifactBytes: 7 } });
    expect(await store.settleTrained(one, 60)).toBe(true);
    expect((await store.get(one))!.storedBytes).toEqual({ datasetBytes: 100, artifactBytes: 100 });
    expect(await tenants.usage(tenant)).toEqual({ datasetBytes: 100, artifactBytes: 107 });
    expect(await store.remove(one)).toBe(true);
    expect(await tenants.usage(tenant)).toEqual({ datasetBytes: 0, artifactBytes: 7 });
    expect(await store.settleTrained(one, 500)).toBe(false);
    expect(await store.remove(one)).toBe(false);
    expect(await tenants.usage(tenant)).toEqual({ datasetBytes: 0, artifactBytes: 7 });
  });

  it("settles what a job's training holds as an absolute: measuring again charges each byte once, beside other charges, and nothing once the job is deleted", async () => {
    const tenant = `t-${randomUUID()}`;
    const tenants = new TenantStore(stack.app.redis, redisKeys(stack.config.REDIS_PREFIX));
    const id = randomUUID();
    await lifecycle.create({ id, tenant, name: null, spec, charge: { datasetBytes: 10, artifactBytes: 10 } });
    expect(await store.settleTrained(id, 300)).toBe(true);
    expect(await store.settleTrained(id, 300)).toBe(true);
    expect(await tenants.usage(tenant)).toEqual({ datasetBytes: 10, artifactBytes: 310 });
    // Checkpoints deleted, the model kept: the next measure gives the difference back.
    expect(await store.settleTrained(id, 120)).toBe(true);
    expect((await store.get(id))!.storedBytes).toEqual({ datasetBytes: 10, artifactBytes: 130 });
    expect(await tenants.usage(tenant)).toEqual({ datasetBytes: 10, artifactBytes: 130 });
    expect(await store.remove(id)).toBe(true);
    expect(await store.settleTrained(id, 500)).toBe(false);
    expect(await tenants.usage(tenant)).toEqual({ datasetBytes: 0, artifactBytes: 0 });
  });

  it("settles what a completing job's training keeps in the complete step itself, and nothing when the job was not running", async () => {
    const tenant = `t-${randomUUID()}`;
    const tenants = new TenantStore(stack.app.redis, redisKeys(stack.config.REDIS_PREFIX));
    const [done, cancelled] = [randomUUID(), randomUUID()];
    for (const id of [done, cancelled]) {
      await lifecycle.create({ id, tenant, name: null, spec });
      await lifecycle.start((await store.get(id))!, 'w1');
      // Model and checkpoints, as measured while it trained.
      await store.settleTrained(id, 500);
    }
    expect(await tenants.usage(tenant)).toEqual({ datasetBytes: 0, artifactBytes: 1000 });
    expect((await lifecycle.complete(done, { numTensors: 0 }, 120)).ok).toBe(true);
    expect((await store.get(done))!.storedBytes).toEqual({ datasetBytes: 0, artifactBytes: 120 });
    expect(await tenants.usage(tenant)).toEqual({ datasetBytes: 0, artifactBytes: 620 });
    // Measuring the model again after the checkpoints are deleted changes nothing.
    await store.settleTrained(done, 120);
    expect(await tenants.usage(tenant)).toEqual({ datasetBytes: 0, artifactBytes: 620 });
    // A job cancelled meanwhile is not completed, and keeps what it holds.
    await lifecycle.cancel(cancelled);
    expect((await lifecycle.complete(cancelled, { numTensors: 0 }, 120)).ok).toBe(false);
    expect((await store.get(cancelled))!.storedBytes.artifactBytes).toBe(500);
    expect(await tenants.usage(tenant)).toEqual({ datasetBytes: 0, artifactBytes: 620 });
  });

  it("takes a job out of its tenant's active count in the same step as it completes, fails, is cancelled or cannot be queued", async () => {
    const tenant = `t-${randomUUID()}`;
    const tenants = new TenantStore(stack.app.redis, redisKeys(stack.config.REDIS_PREFIX));
    const ids = Array.from({ length: 6 }, () => randomUUID());
    for (const id of ids)
      expect(await lifecycle.create({ id, tenant, name: null, spec, quotas: { activeJobs: 10, datasetBytes: 0, artifactBytes: 0 } })).toBeUndefined();
    // A seventh finds no free slot and is not recorded.
    const over = randomUUID();
    expect(await lifecycle.create({ id: over, tenant, name: null, spec, quotas: { activeJobs: 6, datasetBytes: 0, artifactBytes: 0 } })).toEqual({
      quota: 'activeJobs',
      used: 6,
      limit: 6,
    });
    expect(await store.exists(over)).toBe(false);
    const [done, failed, cancelledQueued, cancelledRunning, unqueued, deleted] = ids as [string, string, string, string, string, string];
    for (const id of [done, failed, cancelledRunning]) expect((await lifecycle.start((await store.get(id))!, 'w')).started).toBe(true);
    // Starting and requeueing keep a job counted.
    expect((await lifecycle.requeue(done, { reason: 'worker_shutdown', attempt: 1 })).ok).toBe(true);
    expect((await lifecycle.start((await store.get(done))!, 'w')).started).toBe(true);
    expect(await tenants.activeCount(tenant)).toBe(6);
    expect((await lifecycle.complete(done, { numTensors: 0 })).ok).toBe(true);
    expect(await tenants.activeCount(tenant)).toBe(5);
    expect((await lifecycle.fail(failed, { code: 'training_error', message: 'x' })).ok).toBe(true);
    expect(await tenants.activeCount(tenant)).toBe(4);
    expect((await lifecycle.cancel(cancelledQueued)).ok).toBe(true);
    expect((await lifecycle.cancel(cancelledRunning)).ok).toBe(true);
    expect(await tenants.activeCount(tenant)).toBe(2);
    expect((await lifecycle.failToEnqueue(unqueued, 'queue down')).ok).toBe(true);
    expect(await tenants.activeCount(tenant)).toBe(1);
    expect(await store.remove(deleted)).toBe(true);
    expect(await tenants.activeCount(tenant)).toBe(0);
    // A refused move changes nothing.
    expect((await lifecycle.cancel(done)).ok).toBe(false);
    expect(await tenants.activeCount(tenant)).toBe(0);
  });

  it('event schemas refuse fields they do not name', () => {
    const at = new Date().toISOString();
    expect(newJobEventSchema.safeParse({ type: 'cancelled', data: { status: 'cancelled', at } }).success).toBe(true);
    expect(newJobEventSchema.safeParse({ type: 'cancelled', data: { status: 'cancelled', at, extra: 1 } }).success).toBe(false);
    expect(newJobEventSchema.safeParse({ type: 'failed', data: { status: 'failed', at } }).success).toBe(false);
    expect(newJobEventSchema.safeParse({ type: 'nope', data: {} }).success).toBe(false);
  });
});

describe('one owner of job state', () => {
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  const writers = (files: string[]) => files.filter((f) => /\.(transition|appendEpoch)\(/.test(readFileSync(f, 'utf8')));

  it('only the job lifecycle calls the job store transitions', () => {
    const files = [...sources('src'), ...sources('workers')];
    expect(writers(files)).toEqual([join('src', 'store', 'job-lifecycle.ts')]);
    // The scanner sees a call where there is one.
    expect(files).toContain(join('workers', 'training-runner.ts'));
  });
});
