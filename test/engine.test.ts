import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { train } from '../src/training/train.js';
import type { TrainingState } from '../src/training/checkpoint.js';
import { initTestBackend, resolveSpec, xorSpec } from './helpers.js';

const resolve = (input: unknown) => resolveSpec(input);

describe('training engine', () => {
  beforeAll(async () => {
    await initTestBackend();
  });

  it('leaves tf.memory().numTensors flat across repeated trainings (checkpoints on both engines included)', async () => {
    const spec = resolve(
      xorSpec({
        dataset: { builtin: 'spirals', samples: 40 },
        model: {
          inputShape: [2],
          layers: [
            { type: 'dense', units: 8, activation: 'relu', kernelRegularizer: { l1: 0.001, l2: 0.001 } },
            { type: 'dropout', rate: 0.2 },
            { type: 'dense', units: 1, activation: 'sigmoid' },
          ],
        },
        optimizer: { name: 'rmsprop', learningRate: 0.01, momentum: 0.9, centered: true, clipNorm: 1 },
        training: { epochs: 3, batchSize: 16, validationSplit: 0.25, seed: 5 },
      }),
    );
    const counts: number[] = [];
    for (let i = 0; i < 4; i++) {
      const engine = i % 2 ? 'auto' : 'eager';
      const { model } = await train({ ...spec, training: { ...spec.training, engine } }, { checkpoint: { every: 1, save: async () => {} } });
      model.dispose();
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
  });

  it("computes relu's gradient as 1 for x > 0, 0 otherwise, NaN for NaN", async () => {
    const x = tf.tensor1d([-2, -0, 0, 0.5, 3, NaN]);
    const g = tf.grad((v: tf.Tensor) => tf.relu(v).sum())(x);
    expect(Array.from(await g.data())).toEqual([0, 0, 0, 1, 1, NaN]);
    tf.dispose([x, g]);
  });

  it('is reproducible: the same seeded spec gives the same loss curve', async () => {
    const spec = resolve(xorSpec({ training: { epochs: 20, batchSize: 2, seed: 11 } }));
    const a = await train(spec);
    const b = await train(spec);
    a.model.dispose();
    b.model.dispose();
    expect(b.history.map((h) => h.loss)).toEqual(a.history.map((h) => h.loss));
    const c = await train(resolve(xorSpec({ training: { epochs: 20, batchSize: 2, seed: 12 } })));
    c.model.dispose();
    expect(c.history.map((h) => h.loss)).not.toEqual(a.history.map((h) => h.loss));
  });

  it('reports validation metrics as val_* when a split is held out', async () => {
    const spec = resolve(xorSpec({ dataset: { builtin: 'moons', samples: 100 }, training: { epochs: 2, batchSize: 'full', validationSplit: 0.2, seed: 1 } }));
    const { model, history } = await train(spec);
    model.dispose();
    expect(Object.keys(history[0]!)).toEqual(expect.arrayContaining(['loss', 'accuracy', 'val_loss', 'val_accuracy']));
  });

  it('stops within one batch of an abort', async () => {
    const controller = new AbortController();
    const spec = resolve(xorSpec({ training: { epochs: 1_000, batchSize: 1, seed: 1 } }));
    let epochs = 0;
    await expect(
      train(spec, {
        signal: controller.signal,
        onEpochEnd: () => {
          epochs += 1;
          if (epochs === 2) controller.abort();
        },
      }),
    ).rejects.toThrow('aborted');
    expect(epochs).toBe(2);
  });
});

describe('checkpoints', () => {
  beforeAll(async () => {
    await initTestBackend();
  });

  it('resumes from any epoch exactly as an uninterrupted run continues', async () => {
    const spec = resolveSpec(
      xorSpec({
        dataset: { builtin: 'moons', samples: 48 },
        model: {
          inputShape: [2],
          layers: [
            { type: 'dense', units: 8, activation: 'relu', kernelRegularizer: { l1: 0.001, l2: 0.01 } },
            { type: 'dense', units: 1, activation: 'sigmoid' },
          ],
        },
        optimizer: { name: 'nadam', learningRate: 0.02 },
        training: {
          epochs: 10,
          batchSize: 16,
          validationSplit: 0.25,
          lrSchedule: { type: 'reduceOnPlateau', monitor: 'val_loss', patience: 1, factor: 0.5 },
          warmup: { epochs: 2 },
          earlyStopping: { monitor: 'val_loss', patience: 8, restoreBestWeights: true },
          seed: 21,
        },
      }),
    );
    const states: TrainingState[] = [];
    const straight = await train(spec, { checkpoint: { every: 1, save: async (s) => void states.push(s) } });
    const expected = Array.from(await tf.concat(straight.model.getWeights().map((w) => w.flatten())).data());
    straight.model.dispose();
    expect(states.map((s) => s.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    for (const from of [1, 4, 9]) {
      const resumed = await train(spec, { resume: states[from - 1] });
      expect(resumed.history).toHaveLength(10);
      expect(resumed.history.map((h) => [h.loss, h.val_loss, h.learningRate])).toEqual(straight.history.map((h) => [h.loss, h.val_loss, h.learningRate]));
      const weights = Array.from(await tf.concat(resumed.model.getWeights().map((w) => w.flatten())).data());
      expect(weights).toEqual(expected);
      resumed.model.dispose();
    }
  });
});
