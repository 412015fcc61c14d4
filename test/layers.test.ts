import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { type LayerInput, PRESET_NAMES, type PresetName, layerSchema } from '../src/spec/index.js';
import { LocalArtifactStore } from '../src/storage/artifact-store.js';
import { buildModel, modelInputs } from '../src/training/model.js';
import { loadModel, saveModel } from '../src/training/model-io.js';
import { orthogonalValues } from '../src/training/orthogonal.js';
import { createRng, gaussian } from '../src/training/rng.js';
import { train } from '../src/training/train.js';
import { initTestBackend, resolveSpec, tempDir } from './helpers.js';

const layers = (...l: LayerInput[]) => l.map((x) => layerSchema.parse(x));

describe('layers in training', () => {
  beforeAll(async () => {
    await initTestBackend();
  });

  it('an activity regularizer adds l1*sum|a| + l2*sum a^2 over the batch / batch size to the loss', async () => {
    const model = buildModel(
      {
        inputShape: [3],
        layers: layers({ type: 'dense', units: 2, activation: 'tanh', activityRegularizer: { l1: 0.3, l2: 0.7 } }, { type: 'dense', units: 1 }),
      },
      5,
    );
    model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
    const x = tf.tensor2d([
      [1, -2, 0.5],
      [0.3, 0.1, -1],
      [2, 2, 2],
      [-1, 0, 1],
    ]);
    const y = tf.tensor2d([[1], [0], [-1], [0.5]]);
    const loss = (await model.trainOnBatch(x, y)) as number;
    const expected = tf.tidy(() => {
      const a = model.layers[1]!.apply(x) as tf.Tensor;
      const mse = tf.losses.meanSquaredError(y, model.predict(x) as tf.Tensor);
      const penalty = a.abs().sum().mul(0.3).add(a.square().sum().mul(0.7)).div(4);
      return mse.add(penalty).dataSync()[0]!;
    });
    const withoutPenalty = tf.tidy(() => tf.losses.meanSquaredError(y, model.predict(x) as tf.Tensor).dataSync()[0]!);
    expect(loss).toBeCloseTo(expected, 5);
    expect(loss - withoutPenalty).toBeGreaterThan(0.01);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('a model with an activity regularizer saves and loads (predictions unchanged)', async () => {
    const model = buildModel(
      { inputShape: [2], layers: layers({ type: 'dense', units: 3, activation: 'leakyRelu', activityRegularizer: { l2: 0.1 } }, { type: 'dense', units: 1 }) },
      9,
    );
    const store = new LocalArtifactStore(tempDir('descent-layers-'));
    await saveModel(model, store, 'activity');
    const loaded = (await loadModel(store, 'activity'))!;
    const x = tf.tensor2d([
      [1, -3],
      [-2, 0.5],
    ]);
    const [a, b] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([x, a, b]);
    model.dispose();
    loaded.dispose();
  });

  it('leakyRelu as an activation slopes negative inputs by alpha', async () => {
    const model = buildModel(
      {
        inputShape: [1],
        layers: layers(
          { type: 'dense', units: 1, activation: 'leakyRelu', kernelInitializer: 'ones' },
          { type: 'activation', activation: 'leakyRelu', alpha: 0.5 },
        ),
      },
      1,
    );
    const out = model.predict(tf.tensor2d([[-2], [3]])) as tf.Tensor;
    // dense(-2) = -2 -> 0.3 * -2 = -0.6 -> 0.5 * -0.6 = -0.3; positive values pass through.
    const [neg, pos] = Array.from(await out.data());
    expect(neg).toBeCloseTo(-0.3, 6);
    expect(pos).toBeCloseTo(3, 6);
    out.dispose();
    model.dispose();
  });

  it.each([
    [false, true],
    [true, false],
    [false, false],
  ])('layerNormalization with center %s, scale %s trains and normalizes as (x - mean) / sqrt(var + eps) * gamma + beta', async (center, scale) => {
    const x = [
      [1, -2, 0.5],
      [0.3, 0.1, -1],
      [2, 2.5, 2],
      [-1, 0, 1],
    ];
    const spec = resolveSpec({
      dataset: { inline: { x, y: [[1], [0], [-1], [0.5]] } },
      loss: 'meanSquaredError',
      model: {
        inputShape: [3],
        layers: [
          { type: 'layerNormalization', center, scale, epsilon: 0.1 },
          { type: 'dense', units: 1 },
        ],
      },
      optimizer: { name: 'sgd', learningRate: 0.05 },
      training: { epochs: 3, batchSize: 2, seed: 2, engine: 'eager' },
    });
    const { model, history } = await train(spec);
    expect(history.map((h) => h.loss).every((l) => Number.isFinite(l))).toBe(true);
    const norm = model.layers.find((l) => l.getClassName() === 'LayerNormalization')!;
    const weights = Object.fromEntries(norm.weights.map((w) => [w.originalName.split('/').at(-1), Array.from(w.read().dataSync())]));
    expect(Object.keys(weights).sort()).toEqual([...(center ? ['beta'] : []), ...(scale ? ['gamma'] : [])]);
    const out = tf.tidy(() => Array.from((norm.apply(tf.tensor2d(x)) as tf.Tensor).dataSync()));
    x.forEach((row, i) => {
      const mean = row.reduce((a, b) => a + b, 0) / row.length;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
      row.forEach((v, j) => {
        const expected = ((v - mean) / Math.sqrt(variance + 0.1)) * (weights.gamma?.[j] ?? 1) + (weights.beta?.[j] ?? 0);
        expect(out[i * 3 + j]).toBeCloseTo(expected, 5);
      });
    });
    // Saved, it loads in plain tfjs (whose own layer predicts without center or scale) and predicts the same.
    const store = new LocalArtifactStore(tempDir('descent-layers-'));
    await saveModel(model, store, 'norm');
    const loaded = (await loadModel(store, 'norm'))!;
    const [a, b] = tf.tidy(() => [model, loaded].map((m) => Array.from((m.predict(tf.tensor2d(x)) as tf.Tensor).dataSync())));
    b!.forEach((v, i) => expect(v).toBeCloseTo(a![i]!, 6));
    model.dispose();
    loaded.dispose();
  });

  it('a bidirectional layer starts its two directions from different weights, the same on every build', async () => {
    const spec = { inputShape: [5, 2], layers: layers({ type: 'bidirectional', layer: { type: 'lstm', units: 3 } }) };
    const weights = async () => {
      const model = buildModel(spec, 4);
      const values = await Promise.all(model.layers[1]!.getWeights().map((w) => w.array()));
      model.dispose();
      return values;
    };
    const first = await weights();
    // forward kernel, recurrent kernel, bias, then the backward ones.
    expect(first).toHaveLength(6);
    expect(first[3]).not.toEqual(first[0]);
    expect(first[4]).not.toEqual(first[1]);
    expect(await weights()).toEqual(first);
  });

  it.each([[[5, 3]], [[3, 8]], [[6, 6]], [[2, 3, 4]]])(
    'the orthogonal initializer gives orthonormal rows or columns for a %j kernel, the same per seed',
    (shape) => {
      const cols = shape.at(-1)!;
      const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const w = orthogonalValues(shape, 2, 5);
      const at = (r: number, c: number) => w[r * cols + c]! / 2;
      // Tall kernels have orthonormal columns, wide ones orthonormal rows.
      const [n, m] = rows >= cols ? [cols, rows] : [rows, cols];
      const entry = (a: number, b: number) =>
        Array.from({ length: m }, (_, k) => (rows >= cols ? at(k, a) * at(k, b) : at(a, k) * at(b, k))).reduce((x, y) => x + y, 0);
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) expect(entry(a, b)).toBeCloseTo(a === b ? 1 : 0, 5);
      expect(orthogonalValues(shape, 2, 5)).toEqual(w);
      expect(orthogonalValues(shape, 2, 6)).not.toEqual(w);
    },
  );

  it('an LSTM starts from an orthogonal recurrent kernel, and its model.json loads in plain tfjs', async () => {
    const model = buildModel({ inputShape: [4, 3], layers: layers({ type: 'lstm', units: 6 }) }, 2);
    const recurrent = (await model.layers[1]!.getWeights()[1]!.array()) as number[][];
    // [units, 4 units]: orthonormal rows.
    for (let a = 0; a < 6; a++) {
      for (let b = 0; b < 6; b++) expect(recurrent[a]!.reduce((s, v, k) => s + v * recurrent[b]![k]!, 0)).toBeCloseTo(a === b ? 1 : 0, 5);
    }
    const json = model.toJSON(undefined, false) as { config: { layers: { config: { recurrent_initializer?: { class_name: string } } }[] } };
    expect(json.config.layers[1]!.config.recurrent_initializer?.class_name).toBe('Orthogonal');
    const copy = await tf.models.modelFromJSON(json);
    expect(copy.countParams()).toBe(model.countParams());
    model.dispose();
    copy.dispose();
  });

  it("a model with several inputs gets each sample's features split among them in order", async () => {
    const model = buildModel(
      {
        inputs: [
          { name: 'a', shape: [1] },
          { name: 'b', shape: [2] },
        ],
        layers: layers({ type: 'concatenate', inputs: ['b', 'a'] }),
      },
      1,
    );
    const x = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const fed = modelInputs(model, x);
    const out = model.predict(fed) as tf.Tensor;
    expect(await out.array()).toEqual([
      [2, 3, 1],
      [5, 6, 4],
    ]);
    tf.dispose([x, fed, out]);
    model.dispose();
  });
});

/** Small datasets a preset can learn in a few epochs: images, sequences, vectors. */
function presetData(preset: PresetName): {
  x: number[][] | number[][][] | number[][][][];
  y: number[][];
  loss: 'categoricalCrossentropy' | 'meanSquaredError';
} {
  const rng = createRng(11);
  const n = 96;
  if (preset === 'gru-regressor') {
    // Windows of a noisy sine; the target is the next value.
    const x: number[][][] = [];
    const y: number[][] = [];
    for (let i = 0; i < n; i++) {
      const phase = rng() * 2 * Math.PI;
      x.push(Array.from({ length: 10 }, (_, t) => [Math.sin(phase + 0.4 * t)]));
      y.push([Math.sin(phase + 4)]);
    }
    return { x, y, loss: 'meanSquaredError' };
  }
  if (preset === 'lstm-classifier') {
    // Rising or falling sequences.
    const x: number[][][] = [];
    const y: number[][] = [];
    for (let i = 0; i < n; i++) {
      const up = i % 2;
      const slope = (up ? 1 : -1) * (0.05 + 0.1 * rng());
      x.push(Array.from({ length: 8 }, (_, t) => [slope * t + 0.05 * gaussian(rng)]));
      y.push(up ? [0, 1] : [1, 0]);
    }
    return { x, y, loss: 'categoricalCrossentropy' };
  }
  if (preset === 'mlp') {
    const x: number[][] = [];
    const y: number[][] = [];
    for (let i = 0; i < n; i++) {
      const [a, b] = [2 * rng() - 1, 2 * rng() - 1];
      x.push([a, b]);
      y.push(a * b > 0 ? [0, 1] : [1, 0]);
    }
    return { x, y, loss: 'categoricalCrossentropy' };
  }
  // 8x8 images: a bright horizontal or vertical bar at a random position.
  const x: number[][][][] = [];
  const y: number[][] = [];
  for (let i = 0; i < n; i++) {
    const horizontal = i % 2 === 0;
    const at = Math.floor(rng() * 8);
    x.push(Array.from({ length: 8 }, (_, r) => Array.from({ length: 8 }, (_, c) => [((horizontal ? r : c) === at ? 1 : 0) + 0.1 * gaussian(rng)])));
    y.push(horizontal ? [0, 1] : [1, 0]);
  }
  return { x, y, loss: 'categoricalCrossentropy' };
}

// The pure-JS cpu backend (what a machine without native TensorFlow trains on) takes minutes for
// the convolutional and recurrent presets where native TensorFlow takes seconds.
await initTestBackend();
const backend = tf.getBackend();
const PRESET_TIMEOUT_MS = backend === 'tensorflow' ? 60_000 : 600_000;

describe(`presets train (${backend} backend)`, () => {
  it.each(PRESET_NAMES)('%s: the loss falls on a small dataset', { timeout: PRESET_TIMEOUT_MS }, async (preset) => {
    const data = presetData(preset);
    const spec = resolveSpec({
      dataset: { inline: { x: data.x, y: data.y } },
      model: { preset },
      loss: data.loss,
      optimizer: { name: 'adam', learningRate: 0.01 },
      training: { epochs: 8, batchSize: 16, seed: 4 },
    });
    expect(spec.model.layers.length).toBeGreaterThan(1);
    const { model, history } = await train(spec);
    model.dispose();
    const first = history[0]!.loss!;
    const last = history.at(-1)!.loss!;
    expect(last).toBeLessThan(0.8 * first);
  });
});
