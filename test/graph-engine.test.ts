import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { type TrainResult, EngineUnavailableError, train } from '../src/training/train.js';
import type { TrainingState } from '../src/training/checkpoint.js';
import { graphAvailability, graphThreads } from '../src/training/engine.js';
import { OPTIMIZER_NAMES, type ResolvedJobSpec } from '../src/spec/index.js';
import { initTestBackend, resolveSpec } from './helpers.js';

await initTestBackend();
const availability = graphAvailability();
const skipReason = availability.available ? '' : ` (SKIPPED: ${availability.reason})`;
if (!availability.available) console.warn(`graph engine tests skipped: ${availability.reason}`);

/**
 * Graph and eager engines start from the same seeded weights and apply the same rules in
 * float32; they differ only in kernel summation order. Stated tolerance: every epoch's loss
 * within 1e-4 relative (+1e-6) of the eager one over the whole run, every trained weight within
 * 1e-3 of its tensor's largest magnitude, and the first step's loss (full batch, epoch 1) within
 * 1e-6 relative.
 */
const RTOL = 1e-4;
const ATOL = 1e-6;

/** Deterministic data in [-1, 1): a fixed function of the index, no RNG needed. */
const wave = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + k * 78.233) * 0.999);

function table(samples: number, width: number, k = 0): number[][] {
  return Array.from({ length: samples }, (_, s) => wave(width, s * 31 + k));
}
const oneHot = (samples: number, classes: number) =>
  Array.from({ length: samples }, (_, s) => Array.from({ length: classes }, (_, c) => (c === (s * 7) % classes ? 1 : 0)));
const images = (samples: number, h: number, w: number, c: number) =>
  table(samples, h * w * c).map((flat) =>
    Array.from({ length: h }, (_, i) => Array.from({ length: w }, (_, j) => flat.slice((i * w + j) * c, (i * w + j + 1) * c))),
  );
const sequences = (samples: number, steps: number, features: number) =>
  table(samples, steps * features).map((flat) => Array.from({ length: steps }, (_, t) => flat.slice(t * features, (t + 1) * features)));

type SpecInput = Record<string, unknown> & { training?: Record<string, unknown> };

function spec(input: SpecInput, engine: 'graph' | 'eager'): ResolvedJobSpec {
  return resolveSpec({ ...input, training: { epochs: 6, batchSize: 8, seed: 11, ...input.training, engine } });
}

async function losses(
  input: SpecInput,
  engine: 'graph' | 'eager',
): Promise<{ losses: number[]; metrics: number[]; weights: Float32Array[]; result: TrainResult }> {
  const result = await train(spec(input, engine));
  // Every weight, the non-trainable ones (batch-norm moving moments) included.
  const weights = result.model.getWeights().map((w) => w.dataSync() as Float32Array);
  result.model.dispose();
  expect(result.engine.engine).toBe(engine);
  return {
    losses: result.history.map((h) => h.loss!),
    weights,
    metrics: result.history.flatMap((h) =>
      Object.entries(h)
        .filter(([k]) => k !== 'loss' && k !== 'epoch' && k !== 'learningRate' && k !== 'durationMs')
        .map(([, v]) => v as number),
    ),
    result,
  };
}

async function expectParity(input: SpecInput): Promise<void> {
  const graph = await losses(input, 'graph');
  const eager = await losses(input, 'eager');
  expect(graph.losses.every(Number.isFinite)).toBe(true);
  graph.losses.forEach((l, i) =>
    expect(Math.abs(l - eager.losses[i]!), `epoch ${i + 1}: graph ${l} vs eager ${eager.losses[i]}`).toBeLessThanOrEqual(
      RTOL * Math.abs(eager.losses[i]!) + ATOL,
    ),
  );
  graph.metrics.forEach((m, i) => expect(Math.abs(m - eager.metrics[i]!), `metric ${i}`).toBeLessThanOrEqual(RTOL * Math.abs(eager.metrics[i]!) + ATOL));
  // The trained weights (what is saved) agree to the same tolerance, scaled by each tensor's size.
  graph.weights.forEach((w, i) => {
    const e = eager.weights[i]!;
    const scale = Math.max(...e.map(Math.abs), 1e-3);
    w.forEach((v, k) => expect(Math.abs(v - e[k]!), `weight ${i}[${k}]: graph ${v} vs eager ${e[k]}`).toBeLessThanOrEqual(10 * RTOL * scale));
  });
}

const mlp = (layers: unknown[], extra: SpecInput = {}): SpecInput => ({
  dataset: { inline: { x: table(48, 5), y: oneHot(48, 3) } },
  model: { inputShape: [5], layers: [...layers, { type: 'dense', units: 3, activation: 'softmax' }] },
  loss: 'categoricalCrossentropy',
  metrics: ['accuracy'],
  optimizer: { name: 'adam', learningRate: 0.01 },
  ...extra,
});

/** A graph model of two inputs, `a` (3 features) and `b` (4), whose layers end in one linear unit. */
const twoInputs = (layers: unknown[], optimizer: Record<string, unknown>): SpecInput => ({
  dataset: { inline: { x: table(40, 7), y: table(40, 1) } },
  model: {
    inputs: [
      { name: 'a', shape: [3] },
      { name: 'b', shape: [4] },
    ],
    layers: [...layers, { type: 'dense', units: 1 }],
  },
  loss: 'meanSquaredError',
  optimizer,
});

const ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'leakyRelu',
  'elu',
  'selu',
  'sigmoid',
  'hardSigmoid',
  'tanh',
  'softmax',
  'softplus',
  'softsign',
  'swish',
  'mish',
  'gelu',
];

describe.skipIf(!availability.available)(`graph engine matches the eager engine${skipReason}`, () => {
  it('starts from the same weights: the first full-batch loss is the same', async () => {
    const input = mlp([{ type: 'dense', units: 16, activation: 'relu' }], { training: { epochs: 1, batchSize: 'full' } });
    const [g, e] = [await losses(input, 'graph'), await losses(input, 'eager')];
    expect(Math.abs(g.losses[0]! - e.losses[0]!)).toBeLessThanOrEqual(1e-6 * e.losses[0]!);
  });

  it.each(ACTIVATIONS)('dense with activation %s', async (activation) => {
    await expectParity(mlp([{ type: 'dense', units: 12, activation }]));
  });

  it.each([
    [
      'conv2d + maxPooling2d + flatten',
      [{ type: 'conv2d', filters: 4, kernelSize: 3, activation: 'relu' }, { type: 'maxPooling2d', poolSize: 2 }, { type: 'flatten' }],
    ],
    [
      'conv2d same padding, strides, averagePooling2d',
      [
        { type: 'conv2d', filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' },
        { type: 'averagePooling2d', poolSize: 2 },
        { type: 'flatten' },
      ],
    ],
    ['conv2d + globalAveragePooling2d', [{ type: 'conv2d', filters: 4, kernelSize: 2 }, { type: 'globalAveragePooling2d' }]],
    [
      'depthwiseConv2d + globalMaxPooling2d',
      [{ type: 'depthwiseConv2d', kernelSize: 3, depthMultiplier: 2, activation: 'relu' }, { type: 'globalMaxPooling2d' }],
    ],
    ['separableConv2d + flatten', [{ type: 'separableConv2d', filters: 4, kernelSize: 3, activation: 'elu' }, { type: 'flatten' }]],
    ['reshape + dense', [{ type: 'reshape', targetShape: [12, 6] }, { type: 'dense', units: 4, activation: 'relu' }, { type: 'flatten' }]],
    // A bias before batch norm has a zero gradient up to rounding, which Adam turns into full steps
    // either way: the usual conv without bias then.
    [
      'batchNormalization (moving moments too)',
      [
        { type: 'conv2d', filters: 3, kernelSize: 3, useBias: false },
        { type: 'batchNormalization', momentum: 0.9 },
        { type: 'activation', activation: 'relu' },
        { type: 'flatten' },
        { type: 'batchNormalization' },
      ],
    ],
    ['layerNormalization', [{ type: 'flatten' }, { type: 'dense', units: 8 }, { type: 'layerNormalization' }, { type: 'activation', activation: 'relu' }]],
    ['layerNormalization without center', [{ type: 'flatten' }, { type: 'dense', units: 8 }, { type: 'layerNormalization', center: false }]],
    ['layerNormalization without scale', [{ type: 'flatten' }, { type: 'dense', units: 8 }, { type: 'layerNormalization', scale: false }]],
  ])('images: %s', async (_name, layers) => {
    await expectParity({
      dataset: { inline: { x: images(32, 6, 6, 2), y: oneHot(32, 3) } },
      model: { inputShape: [6, 6, 2], layers: [...layers, { type: 'dense', units: 3, activation: 'softmax' }] },
      loss: 'categoricalCrossentropy',
      optimizer: { name: 'adam', learningRate: 0.01 },
    });
  });

  it.each([
    ['conv1d + maxPooling1d', [{ type: 'conv1d', filters: 4, kernelSize: 3, activation: 'relu' }, { type: 'maxPooling1d', poolSize: 2 }, { type: 'flatten' }]],
    [
      'conv1d same, strides + averagePooling1d + globalMaxPooling1d',
      [
        { type: 'conv1d', filters: 4, kernelSize: 2, strides: 2, padding: 'same' },
        { type: 'averagePooling1d', poolSize: 2, padding: 'same' },
        { type: 'globalMaxPooling1d' },
      ],
    ],
    ['globalAveragePooling1d', [{ type: 'dense', units: 5, activation: 'tanh' }, { type: 'globalAveragePooling1d' }]],
  ])('sequences: %s', async (_name, layers) => {
    await expectParity({
      dataset: { inline: { x: sequences(32, 8, 3), y: table(32, 2) } },
      model: { inputShape: [8, 3], layers: [...layers, { type: 'dense', units: 2 }] },
      loss: 'meanSquaredError',
      optimizer: { name: 'sgd', learningRate: 0.05, momentum: 0.9 },
    });
  });

  it.each([
    ['simpleRNN', [{ type: 'simpleRNN', units: 5 }]],
    [
      'lstm, regularized',
      [{ type: 'lstm', units: 4, kernelRegularizer: { l2: 0.01 }, recurrentRegularizer: { l1: 0.01, l2: 0.01 }, biasRegularizer: { l1: 0.01 } }],
    ],
    ['gru', [{ type: 'gru', units: 4 }]],
    [
      'stacked lstm (returnSequences) + gru',
      [
        { type: 'lstm', units: 4, returnSequences: true },
        { type: 'gru', units: 3, activation: 'relu' },
      ],
    ],
    ['bidirectional lstm, concat, regularized', [{ type: 'bidirectional', layer: { type: 'lstm', units: 3, recurrentRegularizer: { l2: 0.02 } } }]],
    [
      'bidirectional gru over sequences, ave',
      [{ type: 'bidirectional', layer: { type: 'gru', units: 3, returnSequences: true }, mergeMode: 'ave' }, { type: 'flatten' }],
    ],
    ['bidirectional simpleRNN, sum', [{ type: 'bidirectional', layer: { type: 'simpleRNN', units: 3, useBias: false }, mergeMode: 'sum' }]],
  ])('recurrent, unrolled: %s', async (_name, layers) => {
    await expectParity({
      dataset: { inline: { x: sequences(32, 6, 3), y: table(32, 2) } },
      model: { inputShape: [6, 3], layers: [...layers, { type: 'dense', units: 2 }] },
      loss: 'meanSquaredError',
      optimizer: { name: 'adam', learningRate: 0.02 },
    });
  });

  it('embedding (ids in, regularized) + globalAveragePooling1d', async () => {
    await expectParity({
      dataset: { inline: { x: table(40, 6).map((r) => r.map((v) => Math.floor((v + 1) * 5))), y: oneHot(40, 3) } },
      model: {
        inputShape: [6],
        layers: [
          { type: 'embedding', inputDim: 10, outputDim: 4, embeddingsRegularizer: { l2: 0.01 } },
          { type: 'globalAveragePooling1d' },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
      },
      loss: 'categoricalCrossentropy',
      optimizer: { name: 'adam', learningRate: 0.02 },
    });
  });

  it.each(['add', 'multiply', 'average', 'concatenate'])('a graph model with two inputs merged by %s', async (merge) => {
    await expectParity(
      twoInputs(
        [
          { type: 'dense', name: 'da', inputs: ['a'], units: 6, activation: 'tanh' },
          { type: 'dense', name: 'db', inputs: ['b'], units: 6, activation: 'sigmoid' },
          { type: merge, name: 'm', inputs: ['da', 'db'] },
        ],
        { name: 'rmsprop', learningRate: 0.01 },
      ),
    );
  });

  it('dropout: both engines draw the same masks (the seed, the step, the order of the layers)', async () => {
    await expectParity(
      mlp([
        { type: 'dense', units: 16, activation: 'relu' },
        { type: 'dropout', rate: 0.5 },
        { type: 'dense', units: 8, activation: 'tanh' },
        { type: 'dropout', rate: 0.3 },
      ]),
    );
  });

  it('dropout on two branches of a graph model: the masks are drawn in the same order', async () => {
    await expectParity(
      twoInputs(
        [
          { type: 'dense', name: 'da', inputs: ['a'], units: 8, activation: 'tanh' },
          { type: 'dropout', name: 'xa', inputs: ['da'], rate: 0.4 },
          { type: 'dense', name: 'db', inputs: ['b'], units: 8, activation: 'relu' },
          { type: 'dense', name: 'db2', inputs: ['db'], units: 8, activation: 'relu' },
          { type: 'dropout', name: 'xb', inputs: ['db2'], rate: 0.2 },
          { type: 'concatenate', name: 'm', inputs: ['xa', 'xb'] },
          { type: 'dropout', rate: 0.1 },
        ],
        { name: 'adam', learningRate: 0.01 },
      ),
    );
  });

  it('kernel, bias and activity regularizers, clipValue and clipNorm', async () => {
    await expectParity(
      mlp(
        [
          {
            type: 'dense',
            units: 10,
            activation: 'relu',
            kernelRegularizer: { l1: 0.01, l2: 0.01 },
            biasRegularizer: { l2: 0.1 },
            activityRegularizer: { l1: 0.01 },
          },
        ],
        { optimizer: { name: 'sgd', learningRate: 0.1, clipValue: 0.05, clipNorm: 0.5 } },
      ),
    );
  });

  const LOSSES: [string, unknown[][], number, string][] = [
    ['meanSquaredError', table(40, 2), 2, 'linear'],
    ['meanAbsoluteError', table(40, 2), 2, 'linear'],
    ['meanAbsolutePercentageError', table(40, 2), 2, 'linear'],
    ['meanSquaredLogarithmicError', table(40, 2).map((r) => r.map(Math.abs)), 2, 'softplus'],
    ['logcosh', table(40, 2), 2, 'linear'],
    ['binaryCrossentropy', table(40, 1).map((r) => [r[0]! > 0 ? 1 : 0]), 1, 'sigmoid'],
    ['categoricalCrossentropy', oneHot(40, 3), 3, 'softmax'],
    ['sparseCategoricalCrossentropy', [], 3, 'softmax'],
    ['hinge', table(40, 1).map((r) => [r[0]! > 0 ? 1 : -1]), 1, 'tanh'],
    ['squaredHinge', table(40, 1).map((r) => [r[0]! > 0 ? 1 : -1]), 1, 'tanh'],
    ['categoricalHinge', oneHot(40, 3), 3, 'softmax'],
    ['kullbackLeiblerDivergence', oneHot(40, 3), 3, 'softmax'],
    ['poisson', table(40, 2).map((r) => r.map(Math.abs)), 2, 'softplus'],
  ];
  it.each(LOSSES)('loss %s', async (loss, y, units, activation) => {
    const metrics = loss.includes('Crossentropy') || loss === 'categoricalHinge' ? ['accuracy'] : [];
    const sparse = loss === 'sparseCategoricalCrossentropy';
    await expectParity({
      dataset: sparse ? { builtin: 'iris', samples: 40, labels: 'index' } : { inline: { x: table(40, 4), y } },
      model: {
        inputShape: [4],
        layers: [
          { type: 'dense', units: 8, activation: 'tanh' },
          { type: 'dense', units, activation },
        ],
      },
      loss,
      metrics,
      optimizer: { name: 'adam', learningRate: 0.01 },
    });
  });

  const OPTIMIZERS: Record<string, unknown>[] = [
    ...OPTIMIZER_NAMES.map((name) => ({ name })),
    { name: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    { name: 'adagrad', learningRate: 0.05, initialAccumulatorValue: 0.1, weightDecay: 0.01 },
    { name: 'rmsprop', learningRate: 0.005, momentum: 0.5, centered: true },
    { name: 'adam', learningRate: 0.01, weightDecay: 0.05 },
    { name: 'adamw', learningRate: 0.01, weightDecay: 0.1 },
    { name: 'amsgrad', learningRate: 0.01, beta2: 0.9 },
    { name: 'nadam', learningRate: 0.01, weightDecay: 0.01, momentumDecay: 0.01 },
    { name: 'lion', learningRate: 0.001, weightDecay: 0.1 },
  ];
  it.each(OPTIMIZERS.map((o) => [JSON.stringify(o), o] as const))('optimizer %s over 20 epochs of 6 steps', async (_name, optimizer) => {
    await expectParity(mlp([{ type: 'dense', units: 12, activation: 'tanh' }], { optimizer, training: { epochs: 20 } }));
  });

  it('learning-rate schedules and warm-up reach the graph step', async () => {
    await expectParity(
      mlp([{ type: 'dense', units: 8, activation: 'relu' }], {
        optimizer: { name: 'adam', learningRate: 0.02 },
        training: { epochs: 8, lrSchedule: { type: 'step', stepSize: 2, gamma: 0.5 }, warmup: { epochs: 2, startFactor: 0.1 } },
      }),
    );
  });
});

describe.skipIf(!availability.available)(`graph engine${skipReason}`, () => {
  it('takes an inter-op pool for a model with a convolution and runs any other in the calling thread', () => {
    const cnn = resolveSpec({
      dataset: { inline: { x: images(4, 6, 6, 2), y: oneHot(4, 3) } },
      model: { inputShape: [6, 6, 2], layers: [{ type: 'conv2d', filters: 2, kernelSize: 3 }, { type: 'flatten' }, { type: 'dense', units: 3 }] },
    });
    const dense = resolveSpec(mlp([{ type: 'dense', units: 4 }]));
    expect(graphThreads(cnn.model).interOp).toBeGreaterThan(0);
    expect(graphThreads(dense.model).interOp).toBe(-1);
  });

  it('draws dropout masks from the job seed: the same seed trains the same, another seed differently', async () => {
    const input = (seed: number) =>
      mlp(
        [
          { type: 'dense', units: 16, activation: 'relu' },
          { type: 'dropout', rate: 0.5 },
        ],
        { training: { seed } },
      );
    const [a, b, c] = [await losses(input(3), 'graph'), await losses(input(3), 'graph'), await losses(input(4), 'graph')];
    expect(a.losses).toEqual(b.losses);
    expect(a.losses).not.toEqual(c.losses);
  });

  it('lets the event loop in while its synchronous steps run: an abort from a timer stops the epoch it lands in', async () => {
    // One epoch of 20,000 single-sample steps (seconds); the abort can only be seen mid-epoch
    // if the engine yields between steps.
    const input = mlp([{ type: 'dense', units: 8, activation: 'relu' }], {
      dataset: { inline: { x: table(20_000, 5), y: oneHot(20_000, 3) } },
      training: { epochs: 1, batchSize: 1 },
    });
    const controller = new AbortController();
    let epochs = 0;
    await expect(
      train(spec(input, 'graph'), {
        signal: controller.signal,
        // Called just before the first epoch starts, with nothing in between that waits on a timer.
        onEngine: () => void setTimeout(() => controller.abort(), 0),
        onEpochEnd: () => void (epochs += 1),
      }),
    ).rejects.toThrow('aborted');
    expect(epochs).toBe(0);
  });

  it('resumes from a checkpoint exactly as an uninterrupted run continues (weights and optimizer slots)', async () => {
    const input = mlp(
      [
        { type: 'dense', units: 8, activation: 'relu' },
        { type: 'dropout', rate: 0.2 },
      ],
      { optimizer: { name: 'nadam', learningRate: 0.01 }, training: { epochs: 6 } },
    );
    const states: TrainingState[] = [];
    const full = await train(spec(input, 'graph'), { checkpoint: { every: 1, save: async (s) => void states.push(s) } });
    full.model.dispose();
    const resumed = await train(spec(input, 'graph'), { resume: states[2]! });
    resumed.model.dispose();
    expect(resumed.history.map((h) => h.loss)).toEqual(full.history.map((h) => h.loss));
  });

  it('resumes a checkpoint the other engine wrote: the same state under the same names, the same masks', async () => {
    const input = mlp(
      [
        { type: 'dense', units: 8, activation: 'tanh' },
        { type: 'dropout', rate: 0.3 },
      ],
      { optimizer: { name: 'amsgrad', learningRate: 0.01 }, training: { epochs: 6 } },
    );
    const states: TrainingState[] = [];
    const eager = await train(spec(input, 'eager'), { checkpoint: { every: 1, save: async (s) => void states.push(s) } });
    eager.model.dispose();
    const resumed = await train(spec(input, 'graph'), { resume: states[2]! });
    resumed.model.dispose();
    expect(resumed.engine.engine).toBe('graph');
    resumed.history.slice(3).forEach((h, i) => {
      const e = eager.history[3 + i]!.loss!;
      expect(Math.abs(h.loss! - e)).toBeLessThanOrEqual(RTOL * Math.abs(e) + ATOL);
    });
  });

  it('falls back to eager under auto when a layer has no graph form, and says why', async () => {
    const input = {
      dataset: { inline: { x: sequences(16, 4, 2), y: table(16, 1) } },
      model: {
        inputShape: [4, 2],
        layers: [
          { type: 'lstm', units: 3, dropout: 0.2 },
          { type: 'dense', units: 1 },
        ],
      },
      training: { epochs: 1 },
    };
    const result = await train(resolveSpec(input));
    result.model.dispose();
    expect(result.engine).toEqual({ engine: 'eager', fallbackReason: expect.stringContaining('layer 0 (lstm)') });
    // The preflight refuses engine graph for it (a 400 through the API) ...
    expect(() => spec(input, 'graph')).toThrow(/engine `graph` cannot train this job: layer 0 \(lstm\)/);
    // ... and the engine refuses it too, should such a spec reach a worker.
    const forced = resolveSpec(input);
    await expect(train({ ...forced, training: { ...forced.training, engine: 'graph' } })).rejects.toThrow(EngineUnavailableError);
  });

  it('takes the graph engine under auto when it can', async () => {
    const result = await train(resolveSpec(mlp([{ type: 'dense', units: 4 }], { training: { epochs: 1 } })));
    result.model.dispose();
    expect(result.engine).toEqual({ engine: 'graph' });
  });

  it('frees its sessions: tensors flat and resident memory bounded over many jobs in one process', async () => {
    const input = spec(mlp([{ type: 'dense', units: 32, activation: 'relu' }], { training: { epochs: 2 } }), 'graph');
    const run = async () => (await train(input)).model.dispose();
    for (let i = 0; i < 10; i++) await run();
    const tensors = tf.memory().numTensors;
    const rss = process.memoryUsage().rss;
    for (let i = 0; i < 60; i++) await run();
    const grown = (process.memoryUsage().rss - rss) / 2 ** 20;
    console.log(`graph engine: resident memory grew ${grown.toFixed(1)} MB over 60 jobs`);
    expect(tf.memory().numTensors).toBe(tensors);
    // A session that is never freed keeps its graph, variables and thread pool: several MB per job.
    expect(grown).toBeLessThan(60);
    // 70 trainings: a few seconds alone, minutes on a loaded 2-core machine.
  }, 300_000);
});
