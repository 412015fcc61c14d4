import { z } from 'zod';

/** Activation functions by their tfjs-layers names. */
export const activationSchema = z
  .enum([
    'linear',
    'relu',
    'relu6',
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
  ])
  .describe('Activation function (tfjs-layers name).');

export const initializerSchema = z
  .enum([
    'zeros',
    'ones',
    'glorotUniform',
    'glorotNormal',
    'heNormal',
    'heUniform',
    'leCunNormal',
    'leCunUniform',
    'randomNormal',
    'randomUniform',
    'truncatedNormal',
    'orthogonal',
  ])
  .describe('Weight initializer; glorot* is Xavier. Seeded from the job seed.');

export const regularizerSchema = z
  .strictObject({
    l1: z.number().min(0).default(0),
    l2: z.number().min(0).default(0),
  })
  .describe('Adds l1*sum|w| + l2*sum w^2 to the loss.');

const weighted = {
  activation: activationSchema.default('linear'),
  useBias: z.boolean().default(true),
  kernelInitializer: initializerSchema.default('glorotUniform'),
  biasInitializer: initializerSchema.default('zeros'),
  kernelRegularizer: regularizerSchema.optional(),
  biasRegularizer: regularizerSchema.optional(),
};

const positiveInt = z.number().int().min(1);
const size2 = z.union([positiveInt, z.tuple([positiveInt, positiveInt])]);
const padding = z.enum(['valid', 'same']).default('valid');

export const denseLayerSchema = z.strictObject({
  type: z.literal('dense'),
  units: positiveInt,
  ...weighted,
});

export const dropoutLayerSchema = z.strictObject({
  type: z.literal('dropout'),
  rate: z.number().min(0).lt(1),
});

export const activationLayerSchema = z.strictObject({
  type: z.literal('activation'),
  activation: activationSchema,
});

export const flattenLayerSchema = z.strictObject({ type: z.literal('flatten') });

export const batchNormalizationLayerSchema = z.strictObject({
  type: z.literal('batchNormalization'),
  momentum: z.number().gt(0).lt(1).default(0.99),
  epsilon: z.number().gt(0).default(1e-3),
});

export const conv2dLayerSchema = z.strictObject({
  type: z.literal('conv2d'),
  filters: positiveInt,
  kernelSize: size2,
  strides: size2.default(1),
  padding,
  ...weighted,
});

export const maxPooling2dLayerSchema = z.strictObject({
  type: z.literal('maxPooling2d'),
  poolSize: size2.default(2),
  strides: size2.optional(),
  padding,
});

const recurrent = {
  units: positiveInt,
  activation: activationSchema.default('tanh'),
  returnSequences: z.boolean().default(false),
  useBias: z.boolean().default(true),
  kernelInitializer: initializerSchema.default('glorotUniform'),
  recurrentInitializer: initializerSchema.default('orthogonal'),
  biasInitializer: initializerSchema.default('zeros'),
  kernelRegularizer: regularizerSchema.optional(),
};

export const simpleRnnLayerSchema = z.strictObject({ type: z.literal('simpleRNN'), ...recurrent });
export const lstmLayerSchema = z.strictObject({ type: z.literal('lstm'), ...recurrent });
export const gruLayerSchema = z.strictObject({ type: z.literal('gru'), ...recurrent });

export const layerSchema = z
  .discriminatedUnion('type', [
    denseLayerSchema,
    dropoutLayerSchema,
    activationLayerSchema,
    flattenLayerSchema,
    batchNormalizationLayerSchema,
    conv2dLayerSchema,
    maxPooling2dLayerSchema,
    simpleRnnLayerSchema,
    lstmLayerSchema,
    gruLayerSchema,
  ])
  .describe('One layer, by its tfjs-layers name in camelCase.')
  .meta({ id: 'Layer' });

export type LayerSpec = z.infer<typeof layerSchema>;
export type LayerType = LayerSpec['type'];
export const LAYER_TYPES = layerSchema.options.map((o) => o.shape.type.value);

/** How many units (or filters) a layer has, for the MAX_UNITS limit. */
export function layerWidth(layer: LayerSpec): number {
  if ('units' in layer) return layer.units;
  if ('filters' in layer) return layer.filters;
  return 0;
}
