import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { DropoutMasks } from '../src/training/dropout.js';
import type { TrainingState } from '../src/training/checkpoint.js';
import { LocalArtifactStore } from '../src/storage/artifact-store.js';
import { buildModel } from '../src/training/model.js';
import { loadModel, saveModel } from '../src/training/model-io.js';
import { type TrainOptions, train } from '../src/training/train.js';
import { initTestBackend, resolveSpec, tempDir } from './helpers.js';

/** Deterministic data in [-1, 1): a fixed function of the index. */
const wave = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + k * 78.233) * 0.999);
const sequences = (samples: number, steps: number, features: number) =>
  Array.from({ length: samples }, (_, s) => Array.from({ length: steps }, (_, t) => wave(features, s * 31 + t)));

/** Every place the spec puts dropout: the layer, recurrent input and state masks, both directions, per timestep. */
const MODELS: Record<string, Record<string, unknown>> = {
  dense: {
    dataset: { inline: { x: Array.from({ length: 40 }, (_, s) => wave(6, s)), y: Array.from({ length: 40 }, (_, s) => [s % 2]) } },
    model: {
      inputShape: [6],
      layers: [
        { type: 'dense', units: 16, activation: 'relu' },
        { type: 'dropout', rate: 0.5 },
        { type: 'dense', units: 8, activation: 'tanh' },
        { type: 'dropout', rate: 0.2 },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
    },
    loss: 'binaryCrossentropy',
  },
  recurrent: {
    dataset: { inline: { x: sequences(24, 5, 3), y: Array.from({ length: 24 }, (_, s) => wave(1, s)) } },
    model: {
      inputShape: [5, 3],
      layers: [
        { type: 'timeDistributed', layer: { type: 'dropout', rate: 0.3 } },
        { type: 'lstm', units: 4, returnSequences: true, dropout: 0.3, recurrentDropout: 0.2 },
        { type: 'bidirectional', layer: { type: 'gru', units: 3, dropout: 0.25, recurrentDropout: 0.25 } },
        { type: 'dense', units: 1 },
      ],
    },
    loss: 'meanSquaredError',
  },
};

const spec = (name: string, seed: number) =>
  resolveSpec({ ...MODELS[name], optimizer: { name: 'adam', learningRate: 0.01 }, training: { epochs: 6, batchSize: 8, seed, engine: 'eager' } });

async function losses(name: string, seed: number, options: TrainOptions = {}): Promise<number[]> {
  const result = await train(spec(name, seed), options);
  result.model.dispose();
  expect(result.engine.engine).toBe('eager');
  return result.history.map((h) => h.loss!);
}

describe('seeded dropout on the eager engine', () => {
  beforeAll(async () => {
    await initTestBackend();
  });

  it("draws each mask from the job seed, the step, the layer and its place in the layer's step", () => {
    const mask = ({ seed = 7, step = 3, layer = 1, nth = 1 }) => {
      const masks = new DropoutMasks(seed);
      const source = masks.source(layer);
      masks.begin(step);
      let m: tf.Tensor | undefined;
      for (let i = 0; i < nth; i++) {
        m?.dispose();
        m = source([64, 32], 0.25);
      }
      const values = Array.from(m!.dataSync());
      m!.dispose();
      return values;
    };
    const a = mask({});
    expect(mask({})).toEqual(a);
    for (const other of [{ seed: 8 }, { step: 4 }, { layer: 2 }, { nth: 2 }]) expect(mask(other), JSON.stringify(other)).not.toEqual(a);
    // Inverted dropout: 0 or 1 / keep, about a quarter of them 0.
    expect(new Set(a)).toEqual(new Set([0, Math.fround(1 / 0.75)]));
    const dropped = a.filter((v) => v === 0).length / a.length;
    expect(dropped).toBeGreaterThan(0.2);
    expect(dropped).toBeLessThan(0.3);
  });

  it.each(Object.keys(MODELS))('%s: the same seed trains the same, another seed differently', async (name) => {
    const [a, b, c] = [await losses(name, 3), await losses(name, 3), await losses(name, 4)];
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('masks differ between seeds, not only the initial weights', async () => {
    // The same initial weights under two seeds: only the masks (and shuffling, off here) can differ.
    const reference = buildModel(spec('dense', 3).model, 3);
    const weights = reference.getWeights();
    const run = async (seed: number) => {
      const s = spec('dense', seed);
      const result = await train({ ...s, training: { ...s.training, shuffle: false, epochs: 2 } }, { prepareModel: (model) => model.setWeights(weights) });
      result.model.dispose();
      return result.history.map((h) => h.loss!);
    };
    const [a, b, c] = [await run(3), await run(3), await run(4)];
    reference.dispose();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it.each(Object.keys(MODELS))('%s: resuming from a checkpoint continues exactly as an uninterrupted run', async (name) => {
    const states: TrainingState[] = [];
    const full = await losses(name, 5, { checkpoint: { every: 1, save: async (s) => void states.push(s) } });
    for (const k of [1, 4]) expect(await losses(name, 5, { resume: states[k - 1]! })).toEqual(full);
  });

  it('leaves tf.memory().numTensors flat across trainings with every kind of mask', async () => {
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      for (const name of Object.keys(MODELS)) await losses(name, 2);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
  });

  it('saves a model that plain tfjs loads (its own Dropout class) and predicts with, dropout inactive', async () => {
    const result = await train(spec('dense', 6));
    const store = new LocalArtifactStore(tempDir('descent-dropout-'));
    await saveModel(result.model, store, 'dropout');
    const loaded = (await loadModel(store, 'dropout'))!;
    const tfjsDropout = tf.layers.dropout({ rate: 0.5 }).constructor;
    const dropouts = loaded.layers.filter((l) => l.getClassName() === 'Dropout');
    expect(dropouts).toHaveLength(2);
    for (const l of dropouts) expect(l.constructor).toBe(tfjsDropout);
    const x = tf.tensor2d([wave(6, 100), wave(6, 101)]);
    const [trained, reloaded] = [result.model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(Array.from(await reloaded.data())).toEqual(Array.from(await trained.data()));
    tf.dispose([x, trained, reloaded]);
    result.model.dispose();
    loaded.dispose();
  });
});
