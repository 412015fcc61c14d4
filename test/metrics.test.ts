import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { train } from '../src/training/train.js';
import { graphAvailability } from '../src/training/engine.js';
import { type Metric, metricSchema } from '../src/spec/index.js';
import { initTestBackend, resolveSpec } from './helpers.js';

await initTestBackend();
const engines = graphAvailability().available ? (['eager', 'graph'] as const) : (['eager'] as const);

const x = [
  [0.3, -0.8],
  [-0.5, 0.2],
  [0.9, 0.4],
  [-0.1, -0.6],
  [0.7, -0.3],
  [-0.9, 0.8],
];
/** Per metric: a loss it goes with, the output layer and targets of that kind. */
const cases: Record<Metric, { loss: string; units: number; activation: string; y: number[][] }> = {
  accuracy: { loss: 'binaryCrossentropy', units: 1, activation: 'sigmoid', y: [[1], [0], [1], [0], [0], [1]] },
  binaryAccuracy: { loss: 'binaryCrossentropy', units: 1, activation: 'sigmoid', y: [[1], [0], [1], [0], [0], [1]] },
  categoricalAccuracy: {
    loss: 'categoricalCrossentropy',
    units: 3,
    activation: 'softmax',
    y: [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [0, 1, 0],
      [1, 0, 0],
      [0, 0, 1],
    ],
  },
  sparseCategoricalAccuracy: { loss: 'sparseCategoricalCrossentropy', units: 3, activation: 'softmax', y: [[0], [1], [2], [1], [0], [2]] },
  meanSquaredError: { loss: 'meanSquaredError', units: 2, activation: 'linear', y: x.map(([a, b]) => [a! * 2 - b!, a! * b!]) },
  meanAbsoluteError: { loss: 'meanSquaredError', units: 2, activation: 'linear', y: x.map(([a, b]) => [a! * 2 - b!, a! * b!]) },
};

const argMax = (row: number[]) => row.indexOf(Math.max(...row));
const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
/** Each metric by its definition, per sample then averaged. */
const byHand: Record<Metric, (pred: number[][], y: number[][]) => number> = {
  accuracy: (p, y) => mean(p.map((row, i) => mean(row.map((v, j) => ((v > 0.5 ? 1 : 0) === y[i]![j] ? 1 : 0))))),
  binaryAccuracy: (p, y) => byHand.accuracy(p, y),
  categoricalAccuracy: (p, y) => mean(p.map((row, i) => (argMax(row) === argMax(y[i]!) ? 1 : 0))),
  sparseCategoricalAccuracy: (p, y) => mean(p.map((row, i) => (argMax(row) === y[i]![0] ? 1 : 0))),
  meanSquaredError: (p, y) => mean(p.map((row, i) => mean(row.map((v, j) => (v - y[i]![j]!) ** 2)))),
  meanAbsoluteError: (p, y) => mean(p.map((row, i) => mean(row.map((v, j) => Math.abs(v - y[i]![j]!))))),
};

const predict = (model: tf.LayersModel, rows: number[][]): number[][] =>
  tf.tidy(() => (model.predict(tf.tensor2d(rows)) as tf.Tensor).arraySync() as number[][]);

describe('metrics', () => {
  // One full-batch epoch: the training metric is measured on the starting weights, val_* on the trained ones.
  for (const engine of engines) {
    it.each(metricSchema.options)(`%s trains on the ${engine} engine and reports the metric by its definition`, async (metric) => {
      const c = cases[metric];
      const spec = resolveSpec({
        dataset: { inline: { x, y: c.y } },
        loss: c.loss,
        metrics: [metric],
        model: { inputShape: [2], layers: [{ type: 'dense', units: c.units, activation: c.activation }] },
        optimizer: { name: 'sgd', learningRate: 0.5 },
        training: { epochs: 1, batchSize: 'full', validationSplit: 1 / 3, seed: 3, engine },
      });
      const [trainX, valX, trainY, valY] = [x.slice(0, 4), x.slice(4), c.y.slice(0, 4), c.y.slice(4)];
      let before: number[][] = [];
      let after: number[][] = [];
      const result = await train(spec, {
        prepareModel: (model) => (before = predict(model, trainX)),
        onEpochEnd: (_report, model) => void (after = predict(model, valX)),
      });
      result.model.dispose();
      expect(result.engine.engine).toBe(engine);
      const report = result.history[0]!;
      expect(report[metric]).toBeCloseTo(byHand[metric](before, trainY), 5);
      expect(report[`val_${metric}`]).toBeCloseTo(byHand[metric](after, valY), 5);
    });
  }
});
