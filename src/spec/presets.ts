import type { Activation, LayerInput } from './layers.js';

/** What a preset needs to know to expand. */
export interface PresetContext {
  inputShape: number[];
  outputUnits: number;
  outputActivation: Activation;
}

interface Preset {
  description: string;
  /** Why the preset cannot take an input of this shape, or undefined when it can. */
  accepts: (inputShape: number[]) => string | undefined;
  layers: (c: PresetContext) => LayerInput[];
}

const images = (s: number[]) => (s.length === 3 ? undefined : 'needs image inputs [height, width, channels]');
const sequences = (s: number[]) => (s.length <= 2 ? undefined : 'needs sequences [timesteps, features] (or [timesteps])');

const output = (c: PresetContext): LayerInput => ({ type: 'dense', name: 'output', units: c.outputUnits, activation: c.outputActivation });
/** A [timesteps] input becomes [timesteps, 1] for the recurrent layer. */
const asSequence = (c: PresetContext): LayerInput[] => (c.inputShape.length === 1 ? [{ type: 'reshape', targetShape: [c.inputShape[0]!, 1] }] : []);

const conv = (name: string, filters: number, kernelSize: number, inputs?: string[], activation: 'relu' | 'linear' = 'relu'): LayerInput => ({
  type: 'conv2d',
  name,
  ...(inputs ? { inputs } : {}),
  filters,
  kernelSize,
  padding: 'same',
  activation,
  kernelInitializer: 'heNormal',
});
const dense = (name: string, units: number): LayerInput => ({ type: 'dense', name, units, activation: 'relu', kernelInitializer: 'heNormal' });
const batchNorm = (name: string): LayerInput => ({ type: 'batchNormalization', name });
const relu = (name: string): LayerInput => ({ type: 'activation', name, activation: 'relu' });

/**
 * Presets expand to ordinary layer lists (the job record shows them, defaults filled in), so a
 * user can start from one and edit it.
 */
export const PRESETS = {
  mlp: {
    description: 'Multilayer perceptron: two hidden dense layers of 64 ReLU units (He init), dropout 0.2, then the output layer.',
    accepts: () => undefined,
    layers: (c) => [
      ...(c.inputShape.length > 1 ? [{ type: 'flatten', name: 'flatten' } as const] : []),
      dense('hidden1', 64),
      { type: 'dropout', name: 'dropout', rate: 0.2 },
      dense('hidden2', 64),
      output(c),
    ],
  },
  'cnn-small': {
    description: 'Small CNN: conv 16 (3x3, ReLU) - max pool - conv 32 (3x3, ReLU) - max pool - dense 64 - output. MNIST-sized images.',
    accepts: images,
    layers: (c) => [
      conv('conv1', 16, 3),
      { type: 'maxPooling2d', name: 'pool1', poolSize: 2, padding: 'valid' },
      conv('conv2', 32, 3),
      { type: 'maxPooling2d', name: 'pool2', poolSize: 2, padding: 'valid' },
      { type: 'flatten', name: 'flatten' },
      dense('hidden', 64),
      output(c),
    ],
  },
  'resnet-block': {
    description:
      'One ResNet bottleneck block (He et al. 2015): a 3x3 stem of 32 filters, then 1x1 (8) - 3x3 (8) - 1x1 (32) convolutions with batch norm, added to the stem (the skip connection), ReLU, global average pooling, output.',
    accepts: images,
    layers: (c) => [
      conv('stem', 32, 3),
      conv('reduce', 8, 1, undefined, 'linear'),
      batchNorm('reduce_bn'),
      relu('reduce_relu'),
      conv('conv3x3', 8, 3, undefined, 'linear'),
      batchNorm('conv3x3_bn'),
      relu('conv3x3_relu'),
      conv('expand', 32, 1, undefined, 'linear'),
      batchNorm('expand_bn'),
      { type: 'add', name: 'skip', inputs: ['stem', 'expand_bn'] },
      relu('block_out'),
      { type: 'globalAveragePooling2d', name: 'pool' },
      output(c),
    ],
  },
  'inception-block': {
    description:
      'One GoogLeNet (v1) inception module: a 3x3 stem of 32 filters feeding four parallel branches (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1) joined by concatenation, global average pooling, output.',
    accepts: images,
    layers: (c) => [
      conv('stem', 32, 3),
      conv('branch1x1', 16, 1, ['stem']),
      conv('branch3x3_reduce', 12, 1, ['stem']),
      conv('branch3x3', 16, 3),
      conv('branch5x5_reduce', 4, 1, ['stem']),
      conv('branch5x5', 8, 5),
      { type: 'maxPooling2d', name: 'branch_pool', inputs: ['stem'], poolSize: 3, strides: 1, padding: 'same' },
      conv('branch_pool_proj', 8, 1),
      { type: 'concatenate', name: 'inception', inputs: ['branch1x1', 'branch3x3', 'branch5x5', 'branch_pool_proj'], axis: -1 },
      { type: 'globalAveragePooling2d', name: 'pool' },
      output(c),
    ],
  },
  'lstm-classifier': {
    description: 'Sequence classifier: an LSTM of 32 units reads the sequence; its last state feeds the output layer.',
    accepts: sequences,
    layers: (c) => [...asSequence(c), { type: 'lstm', name: 'lstm', units: 32 }, output(c)],
  },
  'gru-regressor': {
    description: 'Sequence regressor: a GRU of 32 units reads the sequence (e.g. a window of a time series); a dense layer predicts the target.',
    accepts: sequences,
    layers: (c) => [...asSequence(c), { type: 'gru', name: 'gru', units: 32 }, output(c)],
  },
} satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as [PresetName, ...PresetName[]];
