import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetRecord, JobRecord, JobSpecInput } from '../src/spec/index.js';
import { type Stack, clustersCsv, eventsUntilEnd, longSpec, readLive, startStack, submit, testConfig } from './helpers.js';

const classifier = (id: string): JobSpecInput => ({
  dataset: { id },
  model: {
    inputShape: [4],
    layers: [
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dense', units: 3, activation: 'softmax' },
    ],
  },
  metrics: ['accuracy'],
  optimizer: { name: 'adam', learningRate: 0.05 },
  training: { epochs: 30, batchSize: 16, seed: 11 },
});

describe('training on an uploaded dataset (real worker and training process)', () => {
  let stack: Stack;
  let baseUrl: string;
  beforeAll(async () => {
    stack = await startStack({ config: testConfig({ MAX_UPLOAD_BYTES: '1048576' }) });
    baseUrl = await stack.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => stack.close());

  it('an uploaded holdout gives val_* metrics; one with other class names is refused', async () => {
    const up = async (csv: string) =>
      (await stack.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: csv })).json<DatasetRecord>().id;
    const csv = clustersCsv(180).split('\n');
    const [trainId, heldId] = [await up(`${csv.slice(0, 151).join('\n')}\n`), await up(`${[csv[0], ...csv.slice(151)].join('\n')}`)];
    const spec = classifier(trainId);
    const id = await submit(stack.app, { ...spec, training: { ...spec.training, epochs: 5, validationData: { id: heldId } } });
    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-1)!.event).toBe('completed');
    expect(events.find((e) => e.event === 'epoch')!.data).toHaveProperty('val_accuracy');

    // Two of the three classes: class numbers 0 and 1 would mean other regions than in training.
    const twoClasses = await up(`${[csv[0], ...csv.slice(1).filter((l) => !l.endsWith('south'))].join('\n')}`);
    const refused = await stack.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { ...spec, training: { ...spec.training, validationData: { id: twoClasses } } },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json<{ error: { details: { path: unknown[] }[] } }>().error.details.map((d) => d.path)).toContainEqual(['training', 'validationData', 'id']);
  });

  it('uploads gzip CSV over HTTP, trains on {id} until the loss falls, and predicts', async () => {
    const res = await fetch(`${baseUrl}/v1/datasets?name=clusters`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', 'content-encoding': 'gzip' },
      body: gzipSync(clustersCsv(150)),
    });
    expect(res.status).toBe(201);
    const dataset = (await res.json()) as DatasetRecord;
    expect(dataset).toMatchObject({ rows: 150, inputShape: [4], targetShape: [3], labels: 'onehot', classNames: ['east', 'north', 'south'] });

    const id = await submit(stack.app, classifier(dataset.id));
    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-1)!.event).toBe('completed');
    const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
    expect(record.spec.loss).toBe('categoricalCrossentropy');
    expect(record.history).toHaveLength(30);
    expect(record.history.at(-1)!.loss!).toBeLessThan(record.history[0]!.loss! / 2);
    expect(record.history.at(-1)!.accuracy).toBeGreaterThan(0.9);

    const predict = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/predict`, payload: { inputs: [[3, 0, 1, 0]] } });
    const [probabilities] = predict.json<{ outputs: number[][] }>().outputs;
    expect(probabilities!.indexOf(Math.max(...probabilities!))).toBe(dataset.classNames!.indexOf('east'));
  });

  it('answers an oversized upload over HTTP with 413, not a dropped connection', async () => {
    const res = await fetch(`${baseUrl}/v1/datasets`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b\n'.repeat(300_000) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upload_too_large');

    // Chunked, with no Content-Length: refused once the counted bytes pass the limit.
    const chunks = Array.from({ length: 40 }, () => new TextEncoder().encode('1,2\n'.repeat(10_000)));
    const body = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const chunked = await fetch(`${baseUrl}/v1/datasets?header=false`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body, duplex: 'half' });
    expect(chunked.status).toBe(413);
    expect(((await chunked.json()) as { error: { details: { limit: string } } }).error.details.limit).toBe('MAX_UPLOAD_BYTES');
  });

  it('keeps nothing of an upload whose client disconnects mid-body', async () => {
    const { port } = new URL(baseUrl);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    const head = 'a,b,label\n' + '1,2,x\n'.repeat(10_000);
    socket.write(`POST /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nContent-Length: ${head.length * 2}\r\n\r\n${head}`);
    await expect
      .poll(() => existsSync(join(stack.config.DATA_DIR, 'tmp', 'uploads')) && readdirSync(join(stack.config.DATA_DIR, 'tmp', 'uploads')).length > 0, {
        timeout: 10_000,
        interval: 20,
      })
      .toBe(true);
    socket.destroy();
    await expect.poll(() => readdirSync(join(stack.config.DATA_DIR, 'tmp', 'uploads')), { timeout: 10_000, interval: 20 }).toEqual([]);
    const listed = (await stack.app.inject('/v1/datasets')).json<{ items: DatasetRecord[] }>().items;
    expect(listed.every((d) => d.rows !== 10_000)).toBe(true);
  });

  it('fails a queued job whose dataset was deleted with dataset_not_found, without retrying', async () => {
    const dataset = (
      await stack.app.inject({ method: 'POST', url: '/v1/datasets', headers: { 'content-type': 'text/csv' }, payload: clustersCsv(30) })
    ).json<DatasetRecord>();
    // Keep the only worker busy so the job stays queued while its dataset goes.
    const blocker = await submit(stack.app, longSpec(5_000));
    await readLive(baseUrl, blocker, (e) => e.event === 'epoch');
    const id = await submit(stack.app, classifier(dataset.id));
    expect((await stack.app.inject({ method: 'DELETE', url: `/v1/datasets/${dataset.id}` })).statusCode).toBe(204);
    expect((await stack.app.inject({ method: 'POST', url: `/v1/jobs/${blocker}/cancel` })).statusCode).toBe(200);

    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-1)!.event).toBe('failed');
    const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
    expect(record.error?.code).toBe('dataset_not_found');
    expect(record.attempts).toBe(1);
  });
});
