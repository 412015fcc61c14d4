import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import type { TrainingState } from '../src/training/checkpoint.js';
import { BUILTIN_DATASET_NAMES, type DatasetSpec, describeDataset, jobSpecSchema } from '../src/spec/index.js';
import { prepareSpec } from '../src/planning/index.js';
import { loadDataset, loadHoldout } from '../src/training/datasets.js';
import { applyScaling, prepareData } from '../src/training/preprocessing.js';
import { train } from '../src/training/train.js';
import { initTestBackend, resolveSpec, xorSpec } from './helpers.js';

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Per-channel mean and population standard deviation of flat samples. */
function channelStats(x: ArrayLike<number>, channels: number) {
  const n = x.length / channels;
  const mean = Array.from({ length: channels }, (_, c) => {
    let s = 0;
    for (let i = c; i < x.length; i += channels) s += x[i]!;
    return s / n;
  });
  const std = mean.map((m, c) => {
    let s = 0;
    for (let i = c; i < x.length; i += channels) s += (x[i]! - m) ** 2;
    return Math.sqrt(s / n);
  });
  return { mean, std };
}

describe('built-in datasets', () => {
  const variants: DatasetSpec[] = [
    ...BUILTIN_DATASET_NAMES.map((builtin) => ({ builtin })),
    { builtin: 'mnist', samples: 50, shape: 'flat', labels: 'index' },
    { builtin: 'iris', samples: 30, offset: 100, labels: 'index' },
    { builtin: 'blobs', features: 5, classes: 4, samples: 40 },
    { builtin: 'sine-sequence', timesteps: 7, samples: 30 },
    { builtin: 'airline-like', timesteps: 24, samples: 50 },
  ];

  it.each(variants.map((v) => [JSON.stringify(v), v] as const))('%s: the data has the shapes describeDataset announces', (_name, spec) => {
    const shape = describeDataset(spec)!;
    const data = loadDataset(spec, 3);
    expect({ samples: data.samples, inputShape: data.inputShape, targetShape: data.targetShape, labels: data.labels }).toEqual({
      samples: shape.samples,
      inputShape: shape.inputShape,
      targetShape: shape.targetShape,
      labels: shape.labels,
    });
    expect(data.x.length).toBe(shape.samples * size(shape.inputShape));
    expect(data.y.length).toBe(shape.samples * size(shape.targetShape));
    expect(data.x.every(Number.isFinite)).toBe(true);
  });

  it('mnist: 10,000 real digits in a fixed class round-robin order, pixels in [0, 1], one-hot labels', () => {
    const a = loadDataset({ builtin: 'mnist' }, 1);
    const b = loadDataset({ builtin: 'mnist' }, 2);
    expect(a.samples).toBe(10_000);
    expect(a.inputShape).toEqual([28, 28, 1]);
    const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    expect(bytes(b.x).equals(bytes(a.x))).toBe(true);
    let min = Infinity;
    let max = -Infinity;
    for (const v of a.x) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 1]);
    const label = (i: number) => Array.from(a.y.subarray(i * 10, (i + 1) * 10));
    for (let i = 0; i < 20; i++) {
      expect(label(i).reduce((s, v) => s + v, 0)).toBe(1);
      expect(label(i).indexOf(1)).toBe(i % 10);
    }
    // Every digit is a real image: not blank, and not the same as the next one.
    expect(a.x.subarray(0, 784).some((v) => v > 0.5)).toBe(true);
    expect(Array.from(a.x.subarray(0, 784))).not.toEqual(Array.from(a.x.subarray(7840, 7840 + 784)));

    const flat = loadDataset({ builtin: 'mnist', shape: 'flat', offset: 100, samples: 20, labels: 'index' }, 1);
    expect(flat.inputShape).toEqual([784]);
    expect(bytes(flat.x).equals(bytes(a.x.subarray(100 * 784, 120 * 784)))).toBe(true);
    expect(Array.from(flat.y)).toEqual(Array.from({ length: 20 }, (_, i) => (100 + i) % 10));
  });

  it("iris: Fisher's 150 flowers, 4 features, 3 balanced species in round-robin order", () => {
    const d = loadDataset({ builtin: 'iris', labels: 'index' }, 1);
    expect([d.samples, d.inputShape, d.targetShape]).toEqual([150, [4], [1]]);
    expect(Array.from(d.y.subarray(0, 6))).toEqual([0, 1, 2, 0, 1, 2]);
    const counts = [0, 1, 2].map((k) => d.y.filter((v) => v === k).length);
    expect(counts).toEqual([50, 50, 50]);
    // The published column means (cm).
    expect(channelStats(d.x, 4).mean.map((m) => Math.round(m * 1000) / 1000)).toEqual([5.843, 3.057, 3.758, 1.199]);
    expect(Array.from(d.x.subarray(0, 4)).map((v) => Math.round(v * 10) / 10)).toEqual([5.1, 3.5, 1.4, 0.2]);
  });

  it('sequences: windows of [timesteps, 1]; airline-like windows are consecutive months of one series', () => {
    const T = 6;
    const d = loadDataset({ builtin: 'airline-like', timesteps: T, samples: 40, noise: 0.05 }, 9);
    for (let i = 0; i + 1 < d.samples; i++) {
      expect(Array.from(d.x.subarray((i + 1) * T, (i + 1) * T + T - 1))).toEqual(Array.from(d.x.subarray(i * T + 1, i * T + T)));
      expect(d.x[(i + 1) * T + T - 1]).toBe(d.y[i]);
    }
    const s = loadDataset({ builtin: 'sine-sequence', timesteps: T, samples: 40, noise: 0 }, 9);
    expect(s.inputShape).toEqual([T, 1]);
    // Noise-free: each window continues a sine of period 20 steps, and the target is its next step.
    const w = Array.from(s.x.subarray(0, T));
    const step = (2 * Math.PI) / 20;
    const phase = Math.atan2(w[0]!, (w[1]! - w[0]! * Math.cos(step)) / Math.sin(step));
    expect(s.y[0]).toBeCloseTo(Math.sin(phase + T * step), 5);
  });

  it('synthetic and sequence data follow their seed', () => {
    const x = (spec: DatasetSpec, seed: number) => Array.from(loadDataset(spec, seed).x);
    for (const builtin of ['spirals', 'sine-sequence', 'airline-like'] as const) {
      expect(x({ builtin, samples: 20 }, 1)).toEqual(x({ builtin, samples: 20 }, 1));
      expect(x({ builtin, samples: 20 }, 1)).not.toEqual(x({ builtin, samples: 20 }, 2));
      expect(x({ builtin, samples: 20, seed: 4 }, 1)).toEqual(x({ builtin, samples: 20, seed: 4 }, 2));
    }
  });
});

describe('holdouts', () => {
  /** Mean of the features of the samples of class k (index labels). */
  const centroid = (d: ReturnType<typeof loadDataset>, k: number) => {
    const f = d.inputShape[0]!;
    const sum = new Array<number>(f).fill(0);
    let n = 0;
    for (let i = 0; i < d.samples; i++) {
      if (d.y[i] !== k) continue;
      n++;
      for (let j = 0; j < f; j++) sum[j]! += d.x[i * f + j]!;
    }
    return sum.map((v) => v / n);
  };

  it('a blobs holdout draws new samples around the training centres', () => {
    const spec: DatasetSpec = { builtin: 'blobs', samples: 300, classes: 3, labels: 'index' };
    const training = loadDataset(spec, 7);
    const holdout = loadHoldout({ ...spec, samples: 90 }, spec, 7);
    for (let k = 0; k < 3; k++) {
      const [a, b] = [centroid(training, k), centroid(holdout, k)];
      // Noise 1 around each centre: 30 holdout samples put the mean within ~0.2 of it; centres lie in [-10, 10].
      a.forEach((v, j) => expect(Math.abs(v - b[j]!)).toBeLessThan(0.75));
    }
    expect(Array.from(holdout.x.subarray(0, 4))).not.toEqual(Array.from(training.x.subarray(0, 4)));
  });

  it('an airline-like holdout is the windows that follow the training ones', () => {
    const spec: DatasetSpec = { builtin: 'airline-like', samples: 100, noise: 0 };
    const longer = loadDataset({ ...spec, samples: 130 }, 3);
    const holdout = loadHoldout({ ...spec, samples: 30 }, spec, 3);
    const width = 12;
    const tail = Array.from(longer.x.subarray(100 * width));
    Array.from(holdout.x).forEach((v, i) => expect(v).toBeCloseTo(tail[i]!, 5));
  });

  it('a holdout overlapping the training part of a real dataset is refused', () => {
    const spec = (validationData: object) =>
      jobSpecSchema.parse({
        dataset: { builtin: 'iris', samples: 120 },
        model: { inputShape: [4], layers: [{ type: 'dense', units: 3, activation: 'softmax' }] },
        training: { validationData },
      });
    expect(prepareSpec(spec({ builtin: 'iris', samples: 30 })).issues.map((i) => i.path)).toContainEqual(['training', 'validationData', 'offset']);
    expect(prepareSpec(spec({ builtin: 'iris', offset: 120, samples: 30 })).issues).toEqual([]);
  });
});

describe('preprocessing', () => {
  beforeAll(async () => {
    await initTestBackend();
  });

  const irisJob = (training: object, preprocessing?: object, other: object = {}) =>
    resolveSpec({
      dataset: { builtin: 'iris' },
      model: { inputShape: [4], layers: [{ type: 'dense', units: 3, activation: 'softmax' }] },
      metrics: ['accuracy'],
      loss: 'categoricalCrossentropy',
      ...(preprocessing ? { preprocessing } : {}),
      training: { epochs: 2, batchSize: 16, ...training },
      ...other,
    });

  it('standardizes with statistics of the training portion only, and applies them to the validation split', () => {
    const spec = irisJob({ validationSplit: 0.2 }, { inputs: 'standardize' });
    const raw = loadDataset(spec.dataset, 1);
    const { train: t, val, state } = prepareData(spec, raw);
    expect([t.samples, val!.samples]).toEqual([120, 30]);
    const scaled = channelStats(t.x, 4);
    for (const m of scaled.mean) expect(m).toBeCloseTo(0, 5);
    for (const s of scaled.std) expect(s).toBeCloseTo(1, 5);
    const fitted = channelStats(raw.x.subarray(0, 120 * 4), 4);
    expect(state.inputs).toEqual({ method: 'standardize', mean: fitted.mean, std: fitted.std });
    // The validation rows use the training statistics, not their own.
    const v = Array.from(raw.x.subarray(120 * 4));
    Array.from(val!.x).forEach((value, i) => expect(value).toBeCloseTo((v[i]! - fitted.mean[i % 4]!) / fitted.std[i % 4]!, 5));
    expect(channelStats(val!.x, 4).mean.some((m) => Math.abs(m) > 1e-3)).toBe(true);
  });

  it('min-max scales the training portion to [0, 1] per channel', () => {
    const spec = irisJob({ validationSplit: 0.5 }, { inputs: 'minmax' });
    const { train: t, state } = prepareData(spec, loadDataset(spec.dataset, 1));
    for (let c = 0; c < 4; c++) {
      const column = Array.from(t.x).filter((_, i) => i % 4 === c);
      expect(Math.min(...column)).toBe(0);
      expect(Math.max(...column)).toBeCloseTo(1, 6);
    }
    expect(state.inputs?.method).toBe('minmax');
    expect(Array.from(applyScaling([5, 3, 1, 0.2], state.inputs!))).toHaveLength(4);
  });

  it('scales images per channel: one mean and one deviation for a grey image', () => {
    const spec = resolveSpec({
      dataset: { builtin: 'mnist', samples: 200 },
      model: { inputShape: [28, 28, 1], layers: [{ type: 'flatten' }, { type: 'dense', units: 10, activation: 'softmax' }] },
      preprocessing: { inputs: 'standardize' },
      training: { epochs: 1 },
    });
    const { train: t, state } = prepareData(spec, loadDataset(spec.dataset, 1));
    expect(state.inputs).toMatchObject({ method: 'standardize', mean: [expect.any(Number)], std: [expect.any(Number)] });
    const stats = channelStats(t.x, 1);
    expect(stats.mean[0]).toBeCloseTo(0, 4);
    expect(stats.std[0]).toBeCloseTo(1, 4);
  });

  it('turns class indices into one-hot rows and back', () => {
    const indexed = irisJob({}, { labels: 'onehot' }, { dataset: { builtin: 'iris', labels: 'index' } });
    const { train: t, state } = prepareData(indexed, loadDataset(indexed.dataset, 1));
    expect(t.targetShape).toEqual([3]);
    expect(Array.from(t.y.subarray(0, 9))).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(state.labels).toEqual({ to: 'onehot', classes: 3 });
    const spec = irisJob({}, { labels: 'index' }, { loss: 'sparseCategoricalCrossentropy' });
    const back = prepareData(spec, loadDataset(spec.dataset, 1));
    expect(Array.from(back.train.y.subarray(0, 4))).toEqual([0, 1, 2, 0]);
  });

  it('reports val_* metrics for an explicit holdout, and trains the same as without one', async () => {
    const holdout = { builtin: 'iris', offset: 120, samples: 30 };
    const spec = irisJob({ validationData: holdout, seed: 3 }, { inputs: 'standardize' }, { dataset: { builtin: 'iris', samples: 120 } });
    const withHoldout = await train(spec);
    withHoldout.model.dispose();
    expect(Object.keys(withHoldout.history[0]!)).toEqual(expect.arrayContaining(['val_loss', 'val_accuracy']));
    // The holdout equals the last fifth of iris: the same numbers as validationSplit 0.2 on all 150.
    const split = await train(irisJob({ validationSplit: 0.2, seed: 3 }, { inputs: 'standardize' }));
    split.model.dispose();
    expect(withHoldout.history.map((h) => [h.loss, h.val_loss])).toEqual(split.history.map((h) => [h.loss, h.val_loss]));
  });

  it('resumes a preprocessed job with a holdout from a checkpoint exactly', async () => {
    const spec = irisJob(
      { epochs: 5, seed: 8, validationData: { builtin: 'iris', offset: 100, samples: 50, labels: 'index' } },
      { inputs: 'minmax', labels: 'onehot' },
      { dataset: { builtin: 'iris', samples: 100, labels: 'index' } },
    );
    const states: TrainingState[] = [];
    const straight = await train(spec, { checkpoint: { every: 1, save: async (st) => void states.push(st) } });
    const expected = Array.from(await tf.concat(straight.model.getWeights().map((w) => w.flatten())).data());
    straight.model.dispose();
    const resumed = await train(spec, { resume: states[1] });
    expect(resumed.history.map((h) => [h.loss, h.val_loss])).toEqual(straight.history.map((h) => [h.loss, h.val_loss]));
    expect(Array.from(await tf.concat(resumed.model.getWeights().map((w) => w.flatten())).data())).toEqual(expected);
    resumed.model.dispose();
  });

  it('trains a small MLP on real MNIST digits well above chance in a few epochs', async () => {
    const spec = resolveSpec(
      xorSpec({
        dataset: { builtin: 'mnist', samples: 1_000, shape: 'flat' },
        model: {
          inputShape: [784],
          layers: [
            { type: 'dense', units: 64, activation: 'relu' },
            { type: 'dense', units: 10, activation: 'softmax' },
          ],
        },
        loss: 'categoricalCrossentropy',
        optimizer: { name: 'adam', learningRate: 0.003 },
        training: { epochs: 3, batchSize: 32, seed: 1, validationData: { builtin: 'mnist', shape: 'flat', offset: 9_000, samples: 500 } },
      }),
    );
    const { model, history } = await train(spec);
    model.dispose();
    expect(history.at(-1)!.val_accuracy).toBeGreaterThan(0.6);
    expect(history.at(-1)!.loss!).toBeLessThan(history[0]!.loss!);
  });

  it('trains an LSTM on sine-sequence windows: the loss falls', async () => {
    const spec = resolveSpec({
      dataset: { builtin: 'sine-sequence', samples: 128, timesteps: 10 },
      model: {
        inputShape: [10, 1],
        layers: [
          { type: 'lstm', units: 8 },
          { type: 'dense', units: 1 },
        ],
      },
      optimizer: { name: 'adam', learningRate: 0.02 },
      loss: 'meanSquaredError',
      training: { epochs: 8, batchSize: 32, seed: 2, validationSplit: 0.25 },
    });
    const { model, history } = await train(spec);
    model.dispose();
    expect(history.at(-1)!.loss!).toBeLessThan(history[0]!.loss! / 2);
    expect(history.at(-1)!.val_loss).toEqual(expect.any(Number));
  });

  it('schema: preprocessing and the holdout are part of the one job spec', () => {
    const parsed = jobSpecSchema.parse({
      ...xorSpec(),
      preprocessing: { inputs: 'minmax' },
      training: { epochs: 1, validationData: { builtin: 'xor' } },
    });
    expect(parsed.preprocessing).toEqual({ inputs: 'minmax', labels: 'keep' });
    expect(parsed.training.validationData).toEqual({ builtin: 'xor' });
  });
});
