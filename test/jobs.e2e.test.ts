import { DEFAULT_TENANT } from '../src/shared/access.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { buildApp } from '../src/api/app.js';
import { graphAvailability } from '../src/training/engine.js';
import { type Stack, eventsUntilEnd, longSpec, readLive, startStack, submit, xorSpec } from './helpers.js';
import { type JobRecord, type ResolvedJobSpec, jobSpecSchema } from '../src/spec/index.js';

describe('a training job end to end (real Redis, BullMQ, worker, training child)', () => {
  let stack: Stack;
  let baseUrl: string;

  beforeAll(async () => {
    stack = await startStack();
    baseUrl = await stack.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => stack.close());

  it('reports health with the worker backend', async () => {
    const res = await stack.app.inject('/healthz');
    expect(res.statusCode).toBe(200);
    const body = res.json<{ status: string; backend: string; graphEngine: { available: boolean; reason?: string }; workers: { graphEngine: boolean }[] }>();
    expect(body.status).toBe('ok');
    expect(body.backend).toBe(stack.worker!.backend.backend);
    expect(body.workers).toHaveLength(1);
    // The worker runs in this process: what it can do is what this process can.
    const graph = graphAvailability();
    expect(body.graphEngine).toEqual({ available: graph.available, ...(graph.reason ? { reason: graph.reason } : {}) });
    expect(body.workers[0]!.graphEngine).toBe(graph.available);
  });

  it('refuses engine graph for a layer without a graph form, naming it (400)', async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: xorSpec({
        model: {
          inputShape: [2],
          layers: [
            { type: 'reshape', targetShape: [2, 1] },
            { type: 'gru', units: 2, recurrentDropout: 0.1 },
            { type: 'dense', units: 1, activation: 'sigmoid' },
          ],
        },
        training: { epochs: 1, engine: 'graph' },
      }),
    });
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json())).toContain('layer 1 (gru)');
  });

  it('trains XOR to accuracy 1.0, streams every epoch in order, and predicts it', async () => {
    const post = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: xorSpec() });
    expect(post.statusCode).toBe(202);
    const created = post.json<JobRecord>();
    expect(created.status).toBe('queued');
    expect(created.spec.training.seed).toBe(7);

    const events = await eventsUntilEnd(stack.app, created.id);
    const types = events.map((e) => e.event);
    expect(types[0]).toBe('status');
    expect(events[0]!.data.status).toBe('queued');
    expect(events.find((e) => e.event === 'status' && e.data.status === 'running')).toBeDefined();
    const epochs = events.filter((e) => e.event === 'epoch');
    expect(epochs.map((e) => e.data.epoch)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    for (const e of epochs) {
      expect(typeof e.data.loss).toBe('number');
      expect(e.data.learningRate).toBe(0.05);
      expect(typeof e.data.durationMs).toBe('number');
    }
    expect(types.at(-1)).toBe('completed');
    // Event ids strictly increase: the order a reconnecting client relies on.
    const ids = events.map((e) => e.id);
    expect([...ids].sort(compareIds)).toEqual(ids);

    const record = (await stack.app.inject(`/v1/jobs/${created.id}`)).json<JobRecord>();
    expect(record.status).toBe('completed');
    expect(record.epoch).toBe(100);
    expect(record.history).toHaveLength(100);
    expect(record.history.at(-1)!.accuracy).toBe(1);
    expect(record.backend).toBe(stack.worker!.backend.backend);
    expect(record.versions).toMatchObject({ descent: expect.any(String), 'tfjs-core': expect.any(String) });
    expect(record.startedAt).not.toBeNull();
    expect(record.finishedAt).not.toBeNull();

    const predict = await stack.app.inject({
      method: 'POST',
      url: `/v1/jobs/${created.id}/predict`,
      payload: {
        inputs: [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ],
      },
    });
    expect(predict.statusCode).toBe(200);
    const outputs = predict.json<{ outputs: number[][] }>().outputs.map((o) => o[0]!);
    expect(outputs.map((o) => (o > 0.5 ? 1 : 0))).toEqual([0, 1, 1, 0]);

    // The model downloads as a tfjs layers model that loads from the API URL and agrees.
    const model = await tf.loadLayersModel(`${baseUrl}/v1/jobs/${created.id}/model`);
    const local = model.predict(
      tf.tensor2d([
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ]),
    ) as tf.Tensor;
    const localValues = Array.from(await local.data());
    localValues.forEach((v, i) => expect(v).toBeCloseTo(outputs[i]!, 5));
    tf.dispose([local]);
    model.dispose();

    // After the end, a reconnect gets exactly what followed its last id, then the stream closes.
    const cut = events[Math.floor(events.length / 2)]!;
    const rest = await eventsUntilEnd(stack.app, created.id, cut.id);
    expect(rest).toEqual(events.slice(events.indexOf(cut) + 1));
    // One that already has the terminal event gets 204: nothing more will come (EventSource stops).
    const over = await stack.app.inject({ url: `/v1/jobs/${created.id}/events`, headers: { 'last-event-id': events.at(-1)!.id } });
    expect(over.statusCode).toBe(204);
    const viaQuery = await stack.app.inject(`/v1/jobs/${created.id}/events?lastEventId=${cut.id}`);
    expect(viaQuery.body).toContain(`id: ${events.at(-1)!.id}`);
  });

  it('resumes a live stream mid-run from Last-Event-ID, through another API process, with no gap or duplicate', async () => {
    const id = await submit(stack.app, longSpec(60));
    const first = await readLive(baseUrl, id, (e) => e.event === 'epoch' && e.data.epoch === 5);
    expect(first.ended).toBe(false);
    const last = first.events.at(-1)!;

    const other = await buildApp(stack.config, { logger: false });
    try {
      const otherUrl = await other.listen({ port: 0, host: '127.0.0.1' });
      const second = await readLive(otherUrl, id, () => false, { 'last-event-id': last.id });
      expect(second.ended).toBe(true);
      const all = await eventsUntilEnd(stack.app, id);
      expect([...first.events, ...second.events]).toEqual(all);
      expect(all.filter((e) => e.event === 'epoch').map((e) => e.data.epoch)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect(all.at(-1)!.event).toBe('completed');
    } finally {
      await other.close();
    }
  });

  it('cancels a running job: the training process stops and the stream ends with cancelled', async () => {
    const id = await submit(stack.app, longSpec(5_000));
    const started = await readLive(baseUrl, id, (e) => e.event === 'epoch');
    expect(started.events.at(-1)!.event).toBe('epoch');

    const streamToEnd = readLive(baseUrl, id, () => false, { 'last-event-id': started.events.at(-1)!.id });
    const cancel = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json<JobRecord>().status).toBe('cancelled');

    const rest = await streamToEnd;
    expect(rest.ended).toBe(true);
    expect(rest.events.at(-1)!.event).toBe('cancelled');
    expect(rest.events.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event))).toHaveLength(1);

    // The worker lets go of the job once its training process has exited.
    await expect.poll(() => stack.worker!.activeJobs().includes(id), { timeout: 10_000, interval: 50 }).toBe(false);
    const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
    expect(record.status).toBe('cancelled');
    expect(record.epoch).toBeLessThan(5_000);

    // Cancelling again is harmless; a finished job cannot be cancelled.
    expect((await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` })).statusCode).toBe(200);
  });

  it('fails a job whose model cannot be built, without retrying, and says why', async () => {
    const bad = xorSpec({
      model: {
        inputShape: [2],
        layers: [
          { type: 'conv2d', filters: 2, kernelSize: 3 },
          { type: 'dense', units: 1, activation: 'sigmoid' },
        ],
      },
    });
    // The API refuses it before queueing ...
    const refused = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: bad });
    expect(refused.statusCode).toBe(400);
    expect(refused.json<{ error: { details: { path: unknown[] }[] } }>().error.details[0]!.path).toEqual(['model', 'layers', 0]);
    // ... and a worker given it anyway (queued past the checks) fails it as invalid_model.
    const parsed = jobSpecSchema.parse(bad);
    const { id } = await stack.app.jobs.enqueue(
      {
        ...parsed,
        model: parsed.model as ResolvedJobSpec['model'],
        loss: 'binaryCrossentropy',
        training: { ...parsed.training, seed: 1, maxRuntimeSeconds: 60 },
      },
      DEFAULT_TENANT,
    );
    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-1)!.event).toBe('failed');
    const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
    expect(record.status).toBe('failed');
    expect(record.error?.code).toBe('invalid_model');
    expect(record.attempts).toBe(1);
    const cancel = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
    expect(cancel.statusCode).toBe(409);
    const predict = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/predict`, payload: { inputs: [[0, 0]] } });
    expect(predict.statusCode).toBe(409);
  });

  it('fails a diverging job as diverged, without retrying', async () => {
    const id = await submit(stack.app, {
      dataset: { inline: { x: [[1e30], [2e30]], y: [[1], [2]] } },
      model: { inputShape: [1], layers: [{ type: 'dense', units: 1 }] },
      loss: 'meanSquaredError',
      optimizer: { name: 'sgd', learningRate: 1 },
      training: { epochs: 50, batchSize: 1 },
    });
    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-1)!.event).toBe('failed');
    expect(events.at(-1)!.data.error).toMatchObject({ code: 'diverged' });
    const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
    expect(record.attempts).toBe(1);
    expect(record.epoch).toBe(0);
  });
});

describe('listing jobs', () => {
  let stack: Stack;
  beforeAll(async () => {
    // No worker: the jobs this test makes stay where it puts them, and no other test's jobs share its prefix.
    stack = await startStack({ worker: false });
  });
  afterAll(async () => stack.close());

  it('lists jobs newest first, pages with a cursor and filters by status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(stack.app, xorSpec({ name: `list-${i}` })));
    expect((await stack.app.inject({ method: 'POST', url: `/v1/jobs/${ids[1]}/cancel` })).statusCode).toBe(200);

    const page1 = (await stack.app.inject('/v1/jobs?limit=2')).json<{ items: JobRecord[]; next: string | null }>();
    expect(page1.items.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    expect(page1.next).not.toBeNull();
    const page2 = (await stack.app.inject(`/v1/jobs?limit=2&cursor=${page1.next}`)).json<{ items: JobRecord[]; next: string | null }>();
    expect(page2.items.map((j) => j.id)).toEqual([ids[0]]);
    expect(page2.next).toBeNull();
    expect(page1.items[0]!.createdAt >= page1.items[1]!.createdAt).toBe(true);

    const cancelled = (await stack.app.inject('/v1/jobs?status=cancelled')).json<{ items: JobRecord[] }>();
    expect(cancelled.items.map((j) => j.id)).toEqual([ids[1]]);
    const queued = (await stack.app.inject('/v1/jobs?status=queued')).json<{ items: JobRecord[] }>();
    expect(queued.items.map((j) => j.id)).toEqual([ids[2], ids[0]]);
    expect((await stack.app.inject('/v1/jobs?status=nope')).statusCode).toBe(400);
    expect((await stack.app.inject('/v1/jobs?cursor=garbage')).statusCode).toBe(400);
  });
});

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}
