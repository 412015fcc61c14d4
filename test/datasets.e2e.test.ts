import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { BUILTIN_DATASET_NAMES, type JobRecord, type JobSpecInput, describeDataset } from '../src/spec/index.js';
import { type BuiltinDatasetInfo } from '../src/catalog/index.js';
import { loadDataset } from '../src/training/datasets.js';
import { type Stack, eventsUntilEnd, startStack, submit } from './helpers.js';

describe('datasets through the API (real Redis, worker, training child)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => stack.close());

  it('GET /v1/datasets/builtin lists every built-in with its shapes, labels and default loss', async () => {
    const res = await stack.app.inject('/v1/datasets/builtin');
    expect(res.statusCode).toBe(200);
    const items = res.json<{ items: BuiltinDatasetInfo[] }>().items;
    expect(items.map((d) => d.name)).toEqual(BUILTIN_DATASET_NAMES);
    for (const d of items) {
      const shape = describeDataset({ builtin: d.name })!;
      expect(d).toMatchObject({ samples: shape.samples, inputShape: shape.inputShape, targetShape: shape.targetShape, labels: shape.labels });
      expect(d.options.length).toBeGreaterThan(0);
    }
    const mnist = items.find((d) => d.name === 'mnist')!;
    expect(mnist).toMatchObject({ kind: 'real', inputShape: [28, 28, 1], classes: 10, defaultLoss: 'categoricalCrossentropy', maxSamples: 10_000 });
    expect(mnist.options.find((o) => o.name === 'samples')).toMatchObject({ default: 10_000, minimum: 1, maximum: 10_000 });
    expect(mnist.options.find((o) => o.name === 'shape')).toMatchObject({ default: 'image', enum: ['image', 'flat'] });
    expect(items.find((d) => d.name === 'iris')).toMatchObject({ samples: 150, inputShape: [4], classes: 3 });
    expect(items.find((d) => d.name === 'sine-sequence')).toMatchObject({ inputShape: [20, 1], defaultLoss: 'meanSquaredError' });
    expect(items.find((d) => d.name === 'airline-like')).toMatchObject({ inputShape: [12, 1], labels: 'regression' });
  });

  it('rejects more digits than mnist has with a 400 naming dataset.samples', async () => {
    const res = await stack.app.inject({ method: 'POST', url: '/v1/jobs', payload: irisSpec({ dataset: { builtin: 'mnist', samples: 10_001 } }) });
    expect(res.statusCode).toBe(400);
    const details = res.json<{ error: { details: { path: unknown[]; message: string }[] } }>().error.details;
    expect(details.find((d) => d.path.join('.') === 'dataset.samples')?.message).toContain('10000');
  });

  it('standardizes with training statistics, reports val_* for a holdout, and predicts through the same scaling', async () => {
    const id = await submit(stack.app, irisSpec());
    const events = await eventsUntilEnd(stack.app, id);
    expect(events.at(-1)!.event).toBe('completed');
    const epochs = events.filter((e) => e.event === 'epoch');
    expect(epochs).toHaveLength(20);
    for (const e of epochs) expect(e.data).toMatchObject({ val_loss: expect.any(Number), val_accuracy: expect.any(Number) });
    const record = (await stack.app.inject(`/v1/jobs/${id}`)).json<JobRecord>();
    expect(record.spec.loss).toBe('categoricalCrossentropy');

    // The statistics are those of the 120 training flowers, computed here independently.
    const raw = loadDataset({ builtin: 'iris' }, 1);
    const rows = Array.from({ length: 150 }, (_, i) => Array.from(raw.x.subarray(i * 4, i * 4 + 4)));
    const mean = [0, 1, 2, 3].map((c) => rows.slice(0, 120).reduce((s, r) => s + r[c]!, 0) / 120);
    const std = [0, 1, 2, 3].map((c) => Math.sqrt(rows.slice(0, 120).reduce((s, r) => s + (r[c]! - mean[c]!) ** 2, 0) / 120));

    const modelJson = (await stack.app.inject(`/v1/jobs/${id}/model`)).json<{
      modelTopology: object;
      weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
      userDefinedMetadata: { descent: { preprocessing: { inputs: { method: string; mean: number[]; std: number[] } } } };
    }>();
    const stats = modelJson.userDefinedMetadata.descent.preprocessing.inputs;
    expect(stats.method).toBe('standardize');
    stats.mean.forEach((m, c) => expect(m).toBeCloseTo(mean[c]!, 5));
    stats.std.forEach((s, c) => expect(s).toBeCloseTo(std[c]!, 5));
    // The job record and the completed event show the same fitted statistics.
    const fitted = (await stack.app.inject(`/v1/jobs/${id}`)).json<{ preprocessing: unknown }>().preprocessing;
    expect(fitted).toEqual(modelJson.userDefinedMetadata.descent.preprocessing);
    expect(events.at(-1)!.data.preprocessing).toEqual(fitted);

    // Predicting raw inputs through the API equals the downloaded model on inputs standardized by hand.
    const inputs = rows.slice(120, 130);
    const predicted = (await stack.app.inject({ method: 'POST', url: `/v1/jobs/${id}/predict`, payload: { inputs } })).json<{ outputs: number[][] }>().outputs;
    const weights = (await stack.app.inject(`/v1/jobs/${id}/model/weights.bin`)).rawPayload;
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      }),
    );
    const run = (x: number[][]) => tf.tidy(() => (model.predict(tf.tensor2d(x)) as tf.Tensor).arraySync() as number[][]);
    const byHand = run(inputs.map((r) => r.map((v, c) => (v - mean[c]!) / std[c]!)));
    const unscaled = run(inputs);
    model.dispose();
    predicted.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(byHand[i]![j]!, 5)));
    expect(predicted.some((row, i) => row.some((v, j) => Math.abs(v - unscaled[i]![j]!) > 1e-3))).toBe(true);
    // Trained on standardized flowers, the model tells the held-out species apart.
    const correct = predicted.filter((row, i) => row.indexOf(Math.max(...row)) === (120 + i) % 3).length;
    expect(correct).toBeGreaterThanOrEqual(8);
  });
});

function irisSpec(overrides: Partial<JobSpecInput> = {}): JobSpecInput {
  return {
    name: 'iris-standardized',
    dataset: { builtin: 'iris', samples: 120 },
    model: {
      inputShape: [4],
      layers: [
        { type: 'dense', units: 8, activation: 'tanh' },
        { type: 'dense', units: 3, activation: 'softmax' },
      ],
    },
    metrics: ['accuracy'],
    optimizer: { name: 'adam', learningRate: 0.05 },
    preprocessing: { inputs: 'standardize' },
    training: {
      epochs: 20,
      batchSize: 16,
      seed: 4,
      validationData: { builtin: 'iris', offset: 120, samples: 30 },
      earlyStopping: { monitor: 'val_loss', patience: 50 },
    },
    ...overrides,
  };
}
