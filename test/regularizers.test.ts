import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { train } from '../src/training/train.js';
import { graphAvailability } from '../src/training/engine.js';
import { initTestBackend, resolveSpec } from './helpers.js';

await initTestBackend();
const engines = graphAvailability().available ? (['eager', 'graph'] as const) : (['eager'] as const);

const l1 = 0.03;
const l2 = 0.2;
const penalty = { l1, l2 };
/** Deterministic values in [-1, 1). */
const wave = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin((i + 1) * 12.9898 + k * 78.233) * 0.999);
const sequences = (samples: number, steps: number, features: number) =>
  Array.from({ length: samples }, (_, s) => Array.from({ length: steps }, (_, t) => wave(features, s * 17 + t)));
const images = (samples: number, side: number, channels: number) =>
  Array.from({ length: samples }, (_, s) => Array.from({ length: side }, (_, i) => Array.from({ length: side }, (_, j) => wave(channels, s * 31 + i * 7 + j))));

type Input = { inputShape: number[]; x: number[][] | number[][][] | number[][][][] };
const seq: Input = { inputShape: [4, 2], x: sequences(5, 4, 2) };
const img: Input = { inputShape: [4, 4, 2], x: images(5, 4, 2) };
const flat: Input = { inputShape: [3], x: sequences(5, 1, 3).map((s) => s[0]!) };
const ids: Input = {
  inputShape: [3],
  x: [
    [0, 1, 2],
    [3, 4, 0],
    [1, 1, 5],
    [2, 0, 4],
    [5, 3, 2],
  ],
};
const recurrent = ['simpleRNN', 'lstm', 'gru'] as const;

/** Each case: the layer under test (the model adds dense 1, after flatten when its output is not flat), its input, the weights its penalty covers (by name). */
const cases: [string, Record<string, unknown>, Input, string[]][] = [
  ['dense kernel', { type: 'dense', units: 3, kernelRegularizer: penalty }, flat, ['kernel']],
  ['dense bias', { type: 'dense', units: 3, biasInitializer: 'ones', biasRegularizer: penalty }, flat, ['bias']],
  ['conv1d kernel', { type: 'conv1d', filters: 2, kernelSize: 2, kernelRegularizer: penalty }, seq, ['kernel']],
  ['conv2d kernel', { type: 'conv2d', filters: 2, kernelSize: 2, kernelRegularizer: penalty }, img, ['kernel']],
  ['depthwiseConv2d depthwise', { type: 'depthwiseConv2d', kernelSize: 2, depthwiseRegularizer: penalty }, img, ['depthwise_kernel']],
  ['separableConv2d pointwise', { type: 'separableConv2d', filters: 3, kernelSize: 2, pointwiseRegularizer: penalty }, img, ['pointwise_kernel']],
  ['embedding', { type: 'embedding', inputDim: 6, outputDim: 2, embeddingsRegularizer: penalty }, ids, ['embeddings']],
  ...recurrent.flatMap((type): (typeof cases)[number][] => [
    [`${type} kernel`, { type, units: 2, kernelRegularizer: penalty }, seq, ['kernel']],
    [`${type} recurrent kernel`, { type, units: 2, recurrentRegularizer: penalty }, seq, ['recurrent_kernel']],
    [`${type} bias`, { type, units: 2, biasInitializer: 'ones', biasRegularizer: penalty }, seq, ['bias']],
  ]),
  [
    'bidirectional lstm recurrent kernel',
    { type: 'bidirectional', layer: { type: 'lstm', units: 2, recurrentRegularizer: penalty } },
    seq,
    ['recurrent_kernel'],
  ],
];
/** Layers the graph engine does not build (their jobs train eager under `auto`). */
const eagerOnly: typeof cases = [
  ['timeDistributed dense kernel', { type: 'timeDistributed', layer: { type: 'dense', units: 2, kernelRegularizer: penalty } }, seq, ['kernel']],
];

const flatOutput = (layer: Record<string, unknown>, data: Input) =>
  data === flat || recurrent.includes(layer.type as (typeof recurrent)[number]) || layer.type === 'bidirectional';

/** l1 * sum|w| + l2 * sum w^2 over the first weighted layer's weights of the given names. */
function expectedPenalty(model: tf.LayersModel, names: string[]): number {
  const layer = model.layers.find((l) => l.weights.length > 0)!;
  const covered = layer.weights.filter((w) => names.includes(w.originalName.split('/').at(-1)!));
  expect(covered.length).toBeGreaterThan(0);
  return covered.reduce((sum, w) => {
    const v = Array.from(w.read().dataSync() as Float32Array);
    return sum + v.reduce((s, x) => s + l1 * Math.abs(x) + l2 * x * x, 0);
  }, 0);
}

describe('weight regularizers', () => {
  // One full-batch epoch: its loss is measured on the starting weights, so it is the data loss of
  // the starting predictions plus the penalty of the starting weights.
  for (const engine of engines) {
    it.each(engine === 'eager' ? [...cases, ...eagerOnly] : cases)(
      `%s: its penalty is in the loss on the ${engine} engine`,
      async (_name, layer, data, names) => {
        const y = data.x.map((_, i) => [wave(1, 100 + i)[0]!]);
        const spec = resolveSpec({
          dataset: { inline: { x: data.x, y } },
          loss: 'meanSquaredError',
          model: { inputShape: data.inputShape, layers: [layer, ...(flatOutput(layer, data) ? [] : [{ type: 'flatten' }]), { type: 'dense', units: 1 }] },
          optimizer: { name: 'sgd', learningRate: 0.1 },
          training: { epochs: 1, batchSize: 'full', seed: 4, engine },
        });
        let expected = NaN;
        const result = await train(spec, {
          prepareModel: (model) => {
            const predictions = tf.tidy(() => (model.predict(tf.tensor(data.x)) as tf.Tensor).dataSync());
            const dataLoss = y.reduce((s, [t], i) => s + (predictions[i]! - t!) ** 2, 0) / y.length;
            expected = dataLoss + expectedPenalty(model, names);
          },
        });
        result.model.dispose();
        expect(result.engine.engine).toBe(engine);
        expect(result.history[0]!.loss).toBeCloseTo(expected, 5);
      },
    );
  }
});
