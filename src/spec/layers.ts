import { z } from 'zod';

/** Activation functions by their tfjs-layers names, plus `leakyRelu` (Keras' LeakyReLU, alpha 0.3). */
export const activationSchema = z
  .enum(['linear', 'relu', 'relu6', 'leakyRelu', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'tanh', 'softmax', 'softplus', 'softsign', 'swish', 'mish', 'gelu'])
  .describe('Activation function (tfjs-layers name; `leakyRelu` = LeakyReLU with alpha 0.3).');

export type Activation = z.infer<typeof activationSchema>;

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
  .describe('Weight initializer; glorot* is Xavier, he* is Kaiming. Seeded from the job seed.');

export type InitializerName = z.infer<typeof initializerSchema>;

export const regularizerSchema = z
  .strictObject({
    l1: z.number().min(0).default(0),
    l2: z.number().min(0).default(0),
  })
  .describe('Adds l1*sum|w| + l2*sum w^2 to the loss.');

export type RegularizerSpec = z.infer<typeof regularizerSchema>;

/** A layer's place in the graph: every layer may be named, and may say which layers feed it. */
export const LAYER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const layerName = z.string().regex(LAYER_NAME, 'a letter, then letters, digits, _ or - (at most 64)');
const node = {
  name: layerName.optional().describe('Name other layers refer to in `inputs`; default `<type>_<position>`.'),
  inputs: z
    .array(layerName)
    .min(1)
    .optional()
    .describe('Names of the layers (or model inputs) feeding this one; default: the layer before it (the model input for the first).'),
};

const positiveInt = z.number().int().min(1);
const size2 = z.union([positiveInt, z.tuple([positiveInt, positiveInt])]);
const padding = z.enum(['valid', 'same']).default('valid');

const weighted = {
  activation: activationSchema.default('linear'),
  useBias: z.boolean().default(true),
  kernelInitializer: initializerSchema.default('glorotUniform'),
  biasInitializer: initializerSchema.default('zeros'),
  kernelRegularizer: regularizerSchema.optional(),
  biasRegularizer: regularizerSchema.optional(),
  activityRegularizer: regularizerSchema.optional().describe("Penalty on the layer's outputs, added to the loss."),
};

export const denseLayerSchema = z.strictObject({ type: z.literal('dense'), ...node, units: positiveInt, ...weighted });

export const dropoutLayerSchema = z.strictObject({ type: z.literal('dropout'), ...node, rate: z.number().min(0).lt(1) });

const activationLayerObject = z.strictObject({
  type: z.literal('activation'),
  ...node,
  activation: activationSchema,
  alpha: z.number().min(0).optional().describe('leakyRelu only: slope for x < 0 (default 0.3).'),
});
/** No other activation takes `alpha`: it would be ignored silently. */
const alphaForLeakyRelu = (l: { activation: Activation; alpha?: number | undefined }, ctx: z.RefinementCtx): void => {
  if (l.alpha !== undefined && l.activation !== 'leakyRelu') {
    ctx.addIssue({ code: 'custom', path: ['alpha'], message: `\`alpha\` applies to activation \`leakyRelu\` only, not \`${l.activation}\`` });
  }
};
export const activationLayerSchema = activationLayerObject.superRefine(alphaForLeakyRelu);

export const flattenLayerSchema = z.strictObject({ type: z.literal('flatten'), ...node });

export const reshapeLayerSchema = z.strictObject({
  type: z.literal('reshape'),
  ...node,
  targetShape: z
    .array(
      z
        .number()
        .int()
        .min(-1)
        .refine((v) => v !== 0, 'dimensions are positive, or -1 once'),
    )
    .min(1)
    .max(4)
    .describe('Shape of one sample after the layer; one dimension may be -1 (inferred).'),
});

export const batchNormalizationLayerSchema = z.strictObject({
  type: z.literal('batchNormalization'),
  ...node,
  momentum: z.number().gt(0).lt(1).default(0.99),
  epsilon: z.number().gt(0).default(1e-3),
});

export const layerNormalizationLayerSchema = z.strictObject({
  type: z.literal('layerNormalization'),
  ...node,
  epsilon: z.number().gt(0).default(1e-3),
  center: z.boolean().default(true),
  scale: z.boolean().default(true),
});

export const conv1dLayerSchema = z.strictObject({
  type: z.literal('conv1d'),
  ...node,
  filters: positiveInt,
  kernelSize: positiveInt,
  strides: positiveInt.default(1),
  dilationRate: positiveInt.default(1),
  padding,
  ...weighted,
});

export const conv2dLayerSchema = z.strictObject({
  type: z.literal('conv2d'),
  ...node,
  filters: positiveInt,
  kernelSize: size2,
  strides: size2.default(1),
  dilationRate: size2.default(1),
  padding,
  ...weighted,
});

const { kernelInitializer: _k, kernelRegularizer: _r, ...weightedWithoutKernel } = weighted;
const depthwise = {
  kernelSize: size2,
  strides: size2.default(1),
  padding,
  depthMultiplier: positiveInt.default(1).describe('Output channels per input channel of the depthwise step.'),
  depthwiseInitializer: initializerSchema.default('glorotUniform'),
  depthwiseRegularizer: regularizerSchema.optional(),
  ...weightedWithoutKernel,
};

export const depthwiseConv2dLayerSchema = z.strictObject({ type: z.literal('depthwiseConv2d'), ...node, ...depthwise });

export const separableConv2dLayerSchema = z.strictObject({
  type: z.literal('separableConv2d'),
  ...node,
  filters: positiveInt,
  ...depthwise,
  pointwiseInitializer: initializerSchema.default('glorotUniform'),
  pointwiseRegularizer: regularizerSchema.optional(),
});

const pool1d = { poolSize: positiveInt.default(2), strides: positiveInt.optional().describe('Default: poolSize.'), padding };
const pool2d = { poolSize: size2.default(2), strides: size2.optional().describe('Default: poolSize.'), padding };

export const maxPooling1dLayerSchema = z.strictObject({ type: z.literal('maxPooling1d'), ...node, ...pool1d });
export const averagePooling1dLayerSchema = z.strictObject({ type: z.literal('averagePooling1d'), ...node, ...pool1d });
export const maxPooling2dLayerSchema = z.strictObject({ type: z.literal('maxPooling2d'), ...node, ...pool2d });
export const averagePooling2dLayerSchema = z.strictObject({ type: z.literal('averagePooling2d'), ...node, ...pool2d });
export const globalMaxPooling1dLayerSchema = z.strictObject({ type: z.literal('globalMaxPooling1d'), ...node });
export const globalAveragePooling1dLayerSchema = z.strictObject({ type: z.literal('globalAveragePooling1d'), ...node });
export const globalMaxPooling2dLayerSchema = z.strictObject({ type: z.literal('globalMaxPooling2d'), ...node });
export const globalAveragePooling2dLayerSchema = z.strictObject({ type: z.literal('globalAveragePooling2d'), ...node });

export const embeddingLayerSchema = z.strictObject({
  type: z.literal('embedding'),
  ...node,
  inputDim: positiveInt.describe('Vocabulary size: inputs are integer ids in [0, inputDim).'),
  outputDim: positiveInt.describe('Length of each embedding vector.'),
  embeddingsInitializer: initializerSchema.default('randomUniform'),
  embeddingsRegularizer: regularizerSchema.optional(),
});

const recurrent = {
  units: positiveInt,
  activation: activationSchema.exclude(['leakyRelu']).default('tanh'),
  returnSequences: z.boolean().default(false).describe('Output every timestep ([timesteps, units]) instead of the last ([units]).'),
  useBias: z.boolean().default(true),
  kernelInitializer: initializerSchema.default('glorotUniform'),
  recurrentInitializer: initializerSchema.default('orthogonal'),
  biasInitializer: initializerSchema.default('zeros'),
  kernelRegularizer: regularizerSchema.optional(),
  recurrentRegularizer: regularizerSchema.optional(),
  biasRegularizer: regularizerSchema.optional(),
  dropout: z.number().min(0).lt(1).default(0).describe('Dropout on the inputs of each step.'),
  recurrentDropout: z.number().min(0).lt(1).default(0).describe('Dropout on the recurrent state.'),
};

export const simpleRnnLayerSchema = z.strictObject({ type: z.literal('simpleRNN'), ...node, ...recurrent });
export const lstmLayerSchema = z.strictObject({ type: z.literal('lstm'), ...node, ...recurrent });
export const gruLayerSchema = z.strictObject({ type: z.literal('gru'), ...node, ...recurrent });

const innerRecurrentSchema = z.discriminatedUnion('type', [
  simpleRnnLayerSchema.omit({ name: true, inputs: true }),
  lstmLayerSchema.omit({ name: true, inputs: true }),
  gruLayerSchema.omit({ name: true, inputs: true }),
]);

export const bidirectionalLayerSchema = z.strictObject({
  type: z.literal('bidirectional'),
  ...node,
  layer: innerRecurrentSchema.describe('The recurrent layer run forwards and backwards.'),
  mergeMode: z.enum(['concat', 'sum', 'mul', 'ave']).default('concat').describe('How the two directions are combined.'),
});

const innerTimeDistributedSchema = z.discriminatedUnion('type', [
  denseLayerSchema.omit({ name: true, inputs: true }),
  dropoutLayerSchema.omit({ name: true, inputs: true }),
  activationLayerObject.omit({ name: true, inputs: true }).superRefine(alphaForLeakyRelu),
]);

export const timeDistributedLayerSchema = z.strictObject({
  type: z.literal('timeDistributed'),
  ...node,
  layer: innerTimeDistributedSchema.describe('The layer applied to every timestep.'),
});

const mergeInputs = z.array(layerName).min(2).describe('Names of the two or more layers (or model inputs) to merge.');
export const addLayerSchema = z.strictObject({ type: z.literal('add'), name: node.name, inputs: mergeInputs });
export const multiplyLayerSchema = z.strictObject({ type: z.literal('multiply'), name: node.name, inputs: mergeInputs });
export const averageLayerSchema = z.strictObject({ type: z.literal('average'), name: node.name, inputs: mergeInputs });
export const concatenateLayerSchema = z.strictObject({
  type: z.literal('concatenate'),
  name: node.name,
  inputs: mergeInputs,
  axis: z.number().int().default(-1).describe('Axis of one sample to join along (-1: the last, channels).'),
});

export const layerSchema = z
  .discriminatedUnion('type', [
    denseLayerSchema,
    dropoutLayerSchema,
    activationLayerSchema,
    flattenLayerSchema,
    reshapeLayerSchema,
    batchNormalizationLayerSchema,
    layerNormalizationLayerSchema,
    conv1dLayerSchema,
    conv2dLayerSchema,
    depthwiseConv2dLayerSchema,
    separableConv2dLayerSchema,
    maxPooling1dLayerSchema,
    averagePooling1dLayerSchema,
    maxPooling2dLayerSchema,
    averagePooling2dLayerSchema,
    globalMaxPooling1dLayerSchema,
    globalAveragePooling1dLayerSchema,
    globalMaxPooling2dLayerSchema,
    globalAveragePooling2dLayerSchema,
    embeddingLayerSchema,
    simpleRnnLayerSchema,
    lstmLayerSchema,
    gruLayerSchema,
    bidirectionalLayerSchema,
    timeDistributedLayerSchema,
    addLayerSchema,
    multiplyLayerSchema,
    averageLayerSchema,
    concatenateLayerSchema,
  ])
  .describe('One layer, by its tfjs-layers name in camelCase.')
  .meta({ id: 'Layer' });

export type LayerSpec = z.infer<typeof layerSchema>;
export type LayerInput = z.input<typeof layerSchema>;
export type LayerType = LayerSpec['type'];
export type LayerOf<T extends LayerType> = Extract<LayerSpec, { type: T }>;
export type InnerLayerSpec = z.infer<typeof innerRecurrentSchema> | z.infer<typeof innerTimeDistributedSchema>;
export const LAYER_TYPES = layerSchema.options.map((o) => o.shape.type.value);
export const MERGE_LAYER_TYPES = ['add', 'multiply', 'average', 'concatenate'] as const satisfies readonly LayerType[];

/** How many units (or filters) a layer has, for the MAX_UNITS limit. */
export function layerWidth(layer: LayerSpec | InnerLayerSpec): number {
  if ('layer' in layer) return layerWidth(layer.layer);
  if ('units' in layer) return layer.units;
  if ('filters' in layer) return layer.filters;
  if ('outputDim' in layer) return layer.outputDim;
  return 0;
}
