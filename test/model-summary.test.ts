import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { LAYER_TYPES, type LayerInput, type ModelSpec, PRESET_NAMES, expandModel, layerSchema } from '../src/spec/index.js';
import { summarizeModel } from '../src/planning/index.js';
import { buildModel, modelInputs } from '../src/training/model.js';
import { initTestBackend } from './helpers.js';

/** Every layer is named, so the tfjs layer of each spec layer can be found by name. */
const named = (layers: LayerInput[]) => layers.map((l, i) => layerSchema.parse({ name: `l${i}`, ...l }));

/** Models that together use every layer type, each with options that change shapes and counts. */
const MODELS: Record<string, { inputShape?: number[]; inputs?: { name: string; shape: number[] }[]; layers: LayerInput[] }> = {
  dense: {
    inputShape: [5],
    layers: [
      { type: 'dense', units: 7, activation: 'leakyRelu', kernelRegularizer: { l2: 0.01 }, activityRegularizer: { l1: 0.01 } },
      { type: 'dropout', rate: 0.5 },
      { type: 'batchNormalization' },
      { type: 'layerNormalization', center: false },
      { type: 'activation', activation: 'leakyRelu', alpha: 0.1 },
      { type: 'dense', units: 3, useBias: false, activation: 'softmax' },
    ],
  },
  'dense on a sequence': { inputShape: [4, 6], layers: [{ type: 'dense', units: 5 }, { type: 'flatten' }, { type: 'reshape', targetShape: [-1, 4] }] },
  conv2d: {
    inputShape: [13, 11, 3],
    layers: [
      { type: 'conv2d', filters: 4, kernelSize: [3, 2], strides: 2, padding: 'valid', activation: 'relu' },
      { type: 'conv2d', filters: 5, kernelSize: 3, padding: 'same', dilationRate: 2 },
      { type: 'depthwiseConv2d', kernelSize: 3, depthMultiplier: 2, padding: 'same' },
      { type: 'separableConv2d', filters: 6, kernelSize: 2, depthMultiplier: 3, strides: [1, 2] },
      { type: 'maxPooling2d', poolSize: 2, padding: 'same' },
      { type: 'averagePooling2d', poolSize: [2, 1], strides: 1 },
      { type: 'globalAveragePooling2d' },
    ],
  },
  'global max 2d': { inputShape: [6, 6, 2], layers: [{ type: 'conv2d', filters: 3, kernelSize: 5, useBias: false }, { type: 'globalMaxPooling2d' }] },
  conv1d: {
    inputShape: [20, 3],
    layers: [
      { type: 'conv1d', filters: 4, kernelSize: 5, strides: 2 },
      { type: 'conv1d', filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same' },
      { type: 'maxPooling1d', poolSize: 3 },
      { type: 'averagePooling1d', poolSize: 2, strides: 1, padding: 'same' },
      { type: 'globalMaxPooling1d' },
    ],
  },
  'global average 1d': { inputShape: [7, 2], layers: [{ type: 'globalAveragePooling1d' }] },
  recurrent: {
    inputShape: [9, 3],
    layers: [
      { type: 'simpleRNN', units: 4, returnSequences: true },
      { type: 'lstm', units: 5, returnSequences: true },
      { type: 'bidirectional', layer: { type: 'gru', units: 3, returnSequences: true }, mergeMode: 'concat' },
      { type: 'timeDistributed', layer: { type: 'dense', units: 2, activation: 'leakyRelu' } },
      { type: 'bidirectional', layer: { type: 'lstm', units: 2 }, mergeMode: 'sum' },
    ],
  },
  embedding: {
    inputShape: [6],
    layers: [
      { type: 'embedding', inputDim: 50, outputDim: 8 },
      { type: 'gru', units: 4, useBias: false },
      { type: 'dense', units: 1 },
    ],
  },
  graph: {
    inputShape: [8, 8, 2],
    layers: [
      { type: 'conv2d', name: 'stem', filters: 4, kernelSize: 3, padding: 'same' },
      { type: 'conv2d', name: 'a', filters: 4, kernelSize: 1 },
      { type: 'conv2d', name: 'b', inputs: ['stem'], filters: 4, kernelSize: 3, padding: 'same' },
      { type: 'add', name: 'sum', inputs: ['a', 'b', 'stem'] },
      { type: 'multiply', name: 'product', inputs: ['sum', 'a'] },
      { type: 'average', name: 'mean', inputs: ['product', 'b'] },
      { type: 'concatenate', name: 'joined', inputs: ['mean', 'stem', 'input'], axis: -1 },
      { type: 'concatenate', name: 'rows', inputs: ['joined', 'joined'], axis: 1 },
      { type: 'flatten', name: 'flat' },
      { type: 'dense', name: 'out', units: 2 },
    ],
  },
  'several inputs': {
    inputs: [
      { name: 'wide', shape: [3] },
      { name: 'deep', shape: [2, 2] },
    ],
    layers: [
      { type: 'flatten', name: 'deepFlat', inputs: ['deep'] },
      { type: 'dense', name: 'deepDense', units: 4 },
      { type: 'concatenate', name: 'both', inputs: ['wide', 'deepDense'] },
      { type: 'dense', name: 'out', units: 1 },
    ],
  },
};

function specOf(m: (typeof MODELS)[string]): ModelSpec {
  const layers = m.layers.some((l) => 'name' in l && l.name) ? m.layers.map((l) => layerSchema.parse(l)) : named(m.layers);
  return { ...(m.inputs ? { inputs: m.inputs } : { inputShape: m.inputShape! }), layers };
}

const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

describe('model summary matches the model tfjs builds', () => {
  beforeAll(async () => {
    await initTestBackend();
  });

  it('the test models use every layer type', () => {
    const used = new Set(Object.values(MODELS).flatMap((m) => m.layers.flatMap((l) => ('layer' in l ? [l.type, l.layer.type] : [l.type]))));
    expect(LAYER_TYPES.filter((t) => !used.has(t))).toEqual([]);
  });

  it.each(Object.keys(MODELS))('%s: output shapes and parameter counts per layer and in total', (key) => {
    const spec = specOf(MODELS[key]!);
    const { summary, issues } = summarizeModel(spec);
    expect(issues).toEqual([]);
    const model = buildModel(spec, 1);
    try {
      for (const layer of summary!.layers) {
        const built = model.getLayer(layer.name);
        // tfjs leaves a reshape's -1 unresolved (null) until it runs; every other size must agree.
        const shape = (built.outputShape as (number | null)[]).map((d, i) => (i > 0 && d === null && layer.type === 'reshape' ? layer.outputShape[i - 1] : d));
        expect([layer.name, shape]).toEqual([layer.name, [null, ...layer.outputShape]]);
        expect([layer.name, built.countParams()]).toEqual([layer.name, layer.params]);
      }
      expect(model.countParams()).toBe(summary!.totalParams);
      const trainable = model.trainableWeights.reduce((s, w) => s + elements(w.shape as number[]), 0);
      expect(trainable).toBe(summary!.trainableParams);
      // A real forward pass of two samples has the output shape the summary states.
      const inputs = summary!.inputs;
      const x = tf.zeros([2, ...(inputs.length === 1 ? inputs[0]!.shape : [inputs.reduce((s, i) => s + elements(i.shape), 0)])]);
      const out = tf.tidy(() => model.predict(modelInputs(model, x)) as tf.Tensor);
      expect(out.shape).toEqual([2, ...summary!.outputShape]);
      tf.dispose([x, out]);
    } finally {
      model.dispose();
    }
  });

  it.each(PRESET_NAMES)('preset %s: expands, and its summary matches tfjs', (preset) => {
    const inputShape = preset.includes('lstm') || preset.includes('gru') ? [12, 2] : [16, 16, 1];
    const { model: spec, issues } = expandModel({ preset, inputShape }, { outputUnits: 3, outputActivation: 'softmax' });
    expect(issues).toEqual([]);
    const { summary } = summarizeModel(spec!);
    const model = buildModel(spec!, 1);
    try {
      expect(model.countParams()).toBe(summary!.totalParams);
      expect(model.outputs[0]!.shape).toEqual([null, 3]);
      expect(summary!.flopsPerSample).toBeGreaterThan(2 * summary!.trainableParams * 0.5);
    } finally {
      model.dispose();
    }
  });

  it('counts the FLOPs of a dense layer and a convolution as multiply-adds x 2', () => {
    const { summary } = summarizeModel(
      specOf({ inputShape: [6, 6, 2], layers: [{ type: 'conv2d', filters: 3, kernelSize: 3 }, { type: 'flatten' }, { type: 'dense', units: 5 }] }),
    );
    const [conv, , dense] = summary!.layers;
    // conv: 4x4 output positions x 3 filters x (3x3x2) multiply-adds; dense: 48 inputs x 5 units.
    expect(conv!.flops).toBe(2 * 4 * 4 * 3 * 3 * 3 * 2);
    expect(dense!.flops).toBe(2 * 48 * 5);
  });
});

describe('model graph and shape problems name the layer', () => {
  const problems: [string, ModelSpec['layers'] extends unknown ? (typeof MODELS)[string] : never, (string | number)[], RegExp][] = [
    [
      'unknown input name',
      {
        inputShape: [2],
        layers: [
          { type: 'dense', units: 2 },
          { type: 'dense', units: 1, inputs: ['nope'] },
        ],
      },
      ['model', 'layers', 1, 'inputs', 0],
      /nope/,
    ],
    [
      'a later layer as input',
      {
        inputShape: [2],
        layers: [
          { type: 'dense', units: 2, name: 'a', inputs: ['b'] },
          { type: 'dense', units: 1, name: 'b' },
        ],
      },
      ['model', 'layers', 0, 'inputs', 0],
      /earlier/,
    ],
    [
      'a name used twice',
      {
        inputShape: [2],
        layers: [
          { type: 'dense', units: 2, name: 'a' },
          { type: 'dense', units: 1, name: 'a' },
        ],
      },
      ['model', 'layers', 1, 'name'],
      /twice/,
    ],
    [
      'a dangling branch',
      {
        inputShape: [2],
        layers: [
          { type: 'dense', units: 2, name: 'a' },
          { type: 'dense', units: 2, name: 'b' },
          { type: 'dense', units: 1, inputs: ['a'] },
        ],
      },
      ['model', 'layers', 1],
      /does not lead to the output/,
    ],
    [
      'two inputs to a dense layer',
      {
        inputShape: [2],
        layers: [
          { type: 'dense', units: 2, name: 'a' },
          { type: 'dense', units: 1, inputs: ['a', 'input'] },
        ],
      },
      ['model', 'layers', 1, 'inputs'],
      /merge/,
    ],
    ['a conv2d on vectors', { inputShape: [10], layers: [{ type: 'conv2d', filters: 2, kernelSize: 3 }] }, ['model', 'layers', 0], /images/],
    [
      'a kernel larger than the image',
      { inputShape: [4, 4, 1], layers: [{ type: 'conv2d', filters: 2, kernelSize: 5 }] },
      ['model', 'layers', 0],
      /larger than the input/,
    ],
    ['an lstm on vectors', { inputShape: [10], layers: [{ type: 'lstm', units: 2 }] }, ['model', 'layers', 0], /sequences/],
    ['a flatten of vectors', { inputShape: [4], layers: [{ type: 'flatten' }, { type: 'dense', units: 1 }] }, ['model', 'layers', 0], /already flat/],
    ['a reshape that loses values', { inputShape: [10], layers: [{ type: 'reshape', targetShape: [3, 3] }] }, ['model', 'layers', 0], /cannot become/],
    [
      'adding different shapes',
      {
        inputShape: [4],
        layers: [
          { type: 'dense', units: 2, name: 'a' },
          { type: 'dense', units: 3, name: 'b', inputs: ['input'] },
          { type: 'add', inputs: ['a', 'b'] },
        ],
      },
      ['model', 'layers', 2],
      /one shape/,
    ],
  ];

  it.each(problems)('%s', (_name, m, path, message) => {
    const { summary, issues } = summarizeModel({ inputShape: m.inputShape, layers: m.layers.map((l) => layerSchema.parse(l)) });
    expect(summary).toBeUndefined();
    expect(issues[0]?.path).toEqual(path);
    expect(issues[0]?.message).toMatch(message);
  });
});
