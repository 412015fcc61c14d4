import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createOptimizer } from '../src/training/optimizers.js';
import { OPTIMIZER_NAMES, optimizerSchema, optimizerSlots } from '../src/spec/index.js';
import { initTestBackend } from './helpers.js';

/** Steps an optimizer on f(w) = sum((w - c)^2 * s) and returns the trajectory of w. */
async function run(opt: ReturnType<typeof createOptimizer>, w: tf.Variable, steps: number): Promise<number[][]> {
  const c = tf.tensor1d([1, -2, 3]);
  const s = tf.tensor1d([1, 10, 0.1]);
  const out: number[][] = [];
  for (let i = 0; i < steps; i++) {
    opt.minimize(() => w.sub(c).square().mul(s).sum() as tf.Scalar, false, [w]);
    out.push(Array.from(await w.data()));
  }
  tf.dispose([c, s]);
  return out;
}

describe('optimizer state round-trips through getWeights/setWeights', () => {
  beforeAll(async () => {
    await initTestBackend();
  });

  it.each(OPTIMIZER_NAMES)('%s resumes exactly where it stopped', async (name) => {
    const spec = optimizerSchema.parse({ name, learningRate: 0.05 });
    const straight = createOptimizer(spec);
    const w1 = tf.variable(tf.zeros([3]), true, `w-${name}-straight`);
    const expected = await run(straight, w1, 8);

    const first = createOptimizer(spec);
    const w2 = tf.variable(tf.zeros([3]), true, `w-${name}-resumed`);
    await run(first, w2, 4);
    // getWeights' tensors are the caller's: they outlive the optimizer.
    const state = await first.getWeights();
    first.dispose();
    const second = createOptimizer(spec);
    await second.setWeights(state);
    const resumed = await run(second, w2, 4);

    expect(resumed).toEqual(expected.slice(4));
    // The first steps move w, so the comparison is not trivially equal.
    expect(expected[7]).not.toEqual(expected[3]);
    tf.dispose([w1, w2, ...state.map((s) => s.tensor)]);
    straight.dispose();
    second.dispose();
  });
});

describe('optimizerSlots (the memory estimate) counts the state the engine keeps', () => {
  const configs = [
    ...OPTIMIZER_NAMES.map((name) => ({ name })),
    { name: 'sgd', momentum: 0.9 },
    { name: 'rmsprop', centered: true },
    { name: 'rmsprop', centered: true, momentum: 0.5 },
  ];
  beforeAll(async () => {
    await initTestBackend();
  });

  it.each(configs)('%o', async (config) => {
    const spec = optimizerSchema.parse(config);
    const opt = createOptimizer(spec);
    const w = tf.variable(tf.zeros([3]), true, `w-slots-${JSON.stringify(config)}`);
    await run(opt, w, 2);
    const weights = await opt.getWeights();
    // getWeights holds the step count, then the slots of each variable (one here).
    expect(weights.length - 1).toBe(optimizerSlots(spec));
    tf.dispose([w, ...weights.map((x) => x.tensor)]);
    opt.dispose();
  });
});
