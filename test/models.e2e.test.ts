import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JobSpecInput, PRESET_NAMES } from '../src/spec/index.js';
import { type Stack, eventsUntilEnd, startStack, submit, testConfig, xorSpec } from './helpers.js';

type Summary = {
  flopsPerSample: number;
  model: { layers: { type: string; units?: number; activation?: string }[] };
  layers: { name: string; type: string; outputShape: number[]; params: number }[];
  outputShape: number[];
  totalParams: number;
  trainableParams: number;
  memory: { batchSize: number; parametersBytes: number; gradientsBytes: number; optimizerStateBytes: number; activationsBytes: number; totalBytes: number };
  exceeds: { limit: string; value: number; max: number }[];
};
type ErrorBody = { error: { code: string; message: string; details: { path: (string | number)[]; message: string; limit?: string; value?: number }[] } };

const cnnModel = { preset: 'cnn-small', inputShape: [28, 28, 1], outputUnits: 10, outputActivation: 'softmax' };

describe('model summaries and presets (no training)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: false, config: testConfig({ MAX_PARAMS: '200000' }) });
  });
  afterAll(async () => stack.close());

  const summarize = (body: object) => stack.app.inject({ method: 'POST', url: '/v1/models/summary', payload: body });

  it('states shapes, parameters and memory; memory for activations grows with the batch', async () => {
    const small = await summarize({ model: cnnModel, training: { batchSize: 32 } });
    expect(small.statusCode).toBe(200);
    const s = small.json<Summary>();
    expect(s.outputShape).toEqual([10]);
    expect(s.layers.at(-1)!.outputShape).toEqual([10]);
    expect(s.totalParams).toBe(s.layers.reduce((sum, l) => sum + l.params, 0));
    const m = s.memory;
    expect(m.totalBytes).toBe(m.parametersBytes + m.gradientsBytes + m.optimizerStateBytes + m.activationsBytes);
    // adam (the default) keeps two moments per weight.
    expect(m.optimizerStateBytes).toBe(2 * m.gradientsBytes);
    const large = (await summarize({ model: cnnModel, training: { batchSize: 64 } })).json<Summary>();
    expect(large.memory.activationsBytes).toBe(2 * m.activationsBytes);
    expect(large.memory.parametersBytes).toBe(m.parametersBytes);
    const sgd = (await summarize({ model: cnnModel, optimizer: { name: 'sgd' } })).json<Summary>();
    expect(sgd.memory.optimizerStateBytes).toBe(0);
  });

  it('names the limits a job would exceed, with the value', async () => {
    const s = (await summarize({ model: { ...cnnModel, inputShape: [64, 64, 1] } })).json<Summary>();
    const params = s.exceeds.find((e) => e.limit === 'MAX_PARAMS');
    expect(params).toEqual({ limit: 'MAX_PARAMS', path: ['model'], value: s.totalParams, max: 200_000, measure: 'parameters' });
    expect((await summarize({ model: cnnModel })).json<Summary>().exceeds).toEqual([]);
  });

  it('summarizes a model too large to train (counts beyond 2^53 included) and names the limit', async () => {
    const res = await summarize({ model: { inputShape: [100_000_000], layers: [{ type: 'dense', units: 100_000_000 }] } });
    expect(res.statusCode).toBe(200);
    const s = res.json<Summary>();
    expect(s.totalParams).toBe(1e16 + 1e8);
    expect(s.exceeds.map((e) => e.limit)).toContain('MAX_PARAMS');
  });

  it('takes the output of a preset from the dataset and the loss', async () => {
    const res = await summarize({ dataset: { builtin: 'moons' }, model: { preset: 'mlp' } });
    expect(res.statusCode).toBe(200);
    const last = res.json<Summary>().model.layers.at(-1)!;
    expect([last.type, last.units, last.activation]).toEqual(['dense', 1, 'sigmoid']);
  });

  it.each([
    ['a convolution on vectors', { model: { inputShape: [10], layers: [{ type: 'conv2d', filters: 2, kernelSize: 3 }] } }, ['model', 'layers', 0]],
    [
      'an unknown layer name',
      {
        model: {
          inputShape: [2],
          layers: [
            { type: 'dense', units: 2 },
            { type: 'add', inputs: ['dense_1', 'nope'] },
          ],
        },
      },
      ['model', 'layers', 1, 'inputs', 1],
    ],
    ['a preset on the wrong input', { model: { preset: 'cnn-small', inputShape: [10], outputUnits: 2 } }, ['model', 'preset']],
    ['a preset without a dataset or shapes', { model: { preset: 'mlp' } }, ['model', 'inputShape']],
    ['both a preset and layers', { model: { preset: 'mlp', inputShape: [2], layers: [{ type: 'dense', units: 1 }] } }, ['model', 'layers']],
    [
      'a layer output of more than 2^53 values',
      { model: { inputShape: [1e9, 1e9], layers: [{ type: 'flatten' }, { type: 'dense', units: 1 }] } },
      ['model', 'layers', 0],
    ],
  ])('%s -> 400 naming the path', async (_name, body, path) => {
    const res = await summarize(body);
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.details.map((d) => d.path)).toContainEqual(path);
  });

  it('lists the presets and expands one into layers a job accepts as they are', async () => {
    const list = await stack.app.inject({ method: 'GET', url: '/v1/models/presets' });
    expect(list.json<{ items: { name: string }[] }>().items.map((p) => p.name)).toEqual(PRESET_NAMES);
    const res = await stack.app.inject({ method: 'GET', url: '/v1/models/presets/resnet-block?inputShape=8,8,1&outputUnits=3&outputActivation=softmax' });
    expect(res.statusCode).toBe(200);
    const model = res.json<{ model: Summary['model'] }>().model;
    expect(model.layers.map((l) => l.type)).toContain('add');
    const again = await summarize({ model });
    expect(again.statusCode).toBe(200);
    expect(again.json<Summary>().outputShape).toEqual([3]);
    expect((await stack.app.inject({ method: 'GET', url: '/v1/models/presets/nope?inputShape=2&outputUnits=1' })).statusCode).toBe(404);
    for (const query of ['mlp?inputShape=a&outputUnits=1', 'mlp?inputShape=0&outputUnits=2', 'cnn-small?inputShape=2,2,1&outputUnits=2']) {
      expect([query, (await stack.app.inject({ method: 'GET', url: `/v1/models/presets/${query}` })).statusCode]).toEqual([query, 400]);
    }
  });
});

describe('preflight limits refuse a job before it is queued', () => {
  let stack: Stack;
  beforeAll(async () => {
    const config = testConfig({ MAX_UNITS: '200000', MAX_TRAINING_MEMORY_MB: '64', MAX_SAMPLE_EPOCHS: '10000' });
    stack = await startStack({ worker: false, config });
  });
  afterAll(async () => stack.close());

  const refused = async (body: object, limit: string) => {
    const res = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: body });
    expect(res.statusCode).toBe(422);
    const error = res.json<ErrorBody>().error;
    expect(error.code).toBe('limit_exceeded');
    expect(error.details.map((d) => d.limit)).toContain(limit);
    expect(error.message).toContain(String(error.details[0]!.value));
    return error;
  };

  it('a 100000 x 100000 dense layer: MAX_PARAMS, never queued', async () => {
    const body = {
      dataset: { builtin: 'linear', features: 1000 },
      model: {
        inputShape: [1000],
        layers: [
          { type: 'dense', units: 100_000 },
          { type: 'dense', units: 100_000 },
          { type: 'dense', units: 1 },
        ],
      },
    };
    const error = await refused(body, 'MAX_PARAMS');
    expect(error.details.find((d) => d.limit === 'MAX_PARAMS')!.value).toBe(1000 * 100_000 + 100_000 + 100_000 * 100_000 + 100_000 + 100_000 + 1);
    const jobs = await stack.app.inject({ method: 'GET', url: '/v1/jobs' });
    expect(jobs.json<{ items: unknown[] }>().items).toEqual([]);
  });

  it('training memory over MAX_TRAINING_MEMORY_MB', async () => {
    await refused(
      {
        ...xorSpec(),
        dataset: { builtin: 'blobs', samples: 8192, features: 1000, classes: 2 },
        model: {
          inputShape: [1000],
          layers: [
            { type: 'dense', units: 1000 },
            { type: 'dense', units: 1 },
          ],
        },
        training: { epochs: 1, batchSize: 'full' },
      },
      'MAX_TRAINING_MEMORY_MB',
    );
  });

  it('samples x epochs over MAX_SAMPLE_EPOCHS', async () => {
    await refused(xorSpec({ dataset: { builtin: 'xor', samples: 100 }, training: { epochs: 101 } }), 'MAX_SAMPLE_EPOCHS');
  });
});

describe('graph models and presets train through the service', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  it('a preset job: the record shows the layers it expanded to and what the model costs, and it learns', async () => {
    const body = {
      dataset: { builtin: 'moons', samples: 200, seed: 1 },
      model: { preset: 'mlp' },
      metrics: ['accuracy'],
      optimizer: { name: 'adam', learningRate: 0.01 },
      training: { epochs: 30, batchSize: 32, seed: 2 },
    };
    const summary = (await stack.app.inject({ method: 'POST', url: '/v1/models/summary', payload: body })).json<Summary & { trainingFlops: number }>();
    const id = await submit(stack.app, body as JobSpecInput);
    const cost = (await stack.app.inject(`/v1/jobs/${id}`)).json<{ cost: Record<string, number> }>().cost;
    expect(cost).toEqual({
      totalParams: summary.totalParams,
      trainableParams: summary.trainableParams,
      flopsPerSample: summary.flopsPerSample,
      trainingFlops: summary.trainingFlops,
      trainingMemoryBytes: summary.memory.totalBytes,
    });
    expect(cost.trainingFlops).toBe(3 * summary.flopsPerSample * 200 * 30);
    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-1)!.event).toBe('completed');
    const record = (await stack.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json<{
      spec: { model: { preset?: string; inputShape: number[]; layers: { type: string }[] } };
      history: { loss: number; accuracy: number }[];
    }>();
    expect(record.spec.model.preset).toBeUndefined();
    expect(record.spec.model.inputShape).toEqual([2]);
    expect(record.spec.model.layers.map((l) => l.type)).toEqual(['dense', 'dropout', 'dense', 'dense']);
    expect(record.history.at(-1)!.loss).toBeLessThan(record.history[0]!.loss);
    expect(record.history.at(-1)!.accuracy).toBeGreaterThan(0.8);
  });

  it('predict with inputs the model cannot take (embedding ids out of range) is a 400', async () => {
    const id = await submit(stack.app, {
      dataset: {
        inline: {
          x: [
            [0, 1],
            [2, 3],
            [4, 0],
            [1, 2],
          ],
          y: [[0], [1], [1], [0]],
        },
      },
      model: {
        inputShape: [2],
        layers: [{ type: 'embedding', inputDim: 5, outputDim: 3 }, { type: 'flatten' }, { type: 'dense', units: 1, activation: 'sigmoid' }],
      },
      loss: 'binaryCrossentropy',
      training: { epochs: 2, batchSize: 2, seed: 1 },
    });
    expect((await eventsUntilEnd(stack.app, id)).at(-1)!.event).toBe('completed');
    const ok = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/predict`, payload: { inputs: [[1, 4]] } });
    expect(ok.statusCode).toBe(200);
    const bad = await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/predict`, payload: { inputs: [[9, 1]] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<ErrorBody>().error.code).toBe('invalid_inputs');
  });

  it('a model with two inputs and a merge layer learns XOR and predicts from whole rows', async () => {
    const id = await submit(stack.app, {
      dataset: { builtin: 'xor' },
      model: {
        inputs: [
          { name: 'x1', shape: [1] },
          { name: 'x2', shape: [1] },
        ],
        layers: [
          { type: 'dense', name: 'h1', inputs: ['x1'], units: 8, activation: 'tanh' },
          { type: 'dense', name: 'h2', inputs: ['x2'], units: 8, activation: 'tanh' },
          { type: 'concatenate', name: 'both', inputs: ['h1', 'h2'] },
          { type: 'dense', units: 8, activation: 'tanh' },
          { type: 'dense', units: 1, activation: 'sigmoid' },
        ],
      },
      loss: 'binaryCrossentropy',
      optimizer: { name: 'adam', learningRate: 0.05 },
      training: { epochs: 150, batchSize: 4, seed: 3 },
    });
    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-1)!.event).toBe('completed');
    const res = await stack.app.inject({
      method: 'POST',
      url: `/v1/jobs/${id}/predict`,
      payload: {
        inputs: [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ],
      },
    });
    expect(res.statusCode).toBe(200);
    const outputs = res.json<{ outputs: number[][] }>().outputs.map((o) => Math.round(o[0]!));
    expect(outputs).toEqual([0, 1, 1, 0]);
  });
});
