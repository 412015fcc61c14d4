import { z } from 'zod';
import { datasetSchema, describeDataset, type DatasetShape } from './datasets.js';
import { layerSchema, layerWidth } from './layers.js';
import { optimizerSchema } from './optimizers.js';
import { earlyStoppingSchema, lrScheduleSchema, warmupSchema } from './schedules.js';
import { preparedShape, preprocessingSchema } from './preprocessing.js';

export const lossSchema = z
  .enum([
    'meanSquaredError',
    'meanAbsoluteError',
    'meanAbsolutePercentageError',
    'meanSquaredLogarithmicError',
    'logcosh',
    'binaryCrossentropy',
    'categoricalCrossentropy',
    'sparseCategoricalCrossentropy',
    'hinge',
    'squaredHinge',
    'categoricalHinge',
    'kullbackLeiblerDivergence',
    'poisson',
  ])
  .describe('Loss to minimise; meanSquaredError is the mean over samples and outputs.');

export const metricSchema = z.enum([
  'accuracy',
  'binaryAccuracy',
  'categoricalAccuracy',
  'sparseCategoricalAccuracy',
  'meanSquaredError',
  'meanAbsoluteError',
]);

export const modelSchema = z
  .strictObject({
    inputShape: z.array(z.number().int().min(1)).min(1).max(4).describe('Shape of one input sample, without the batch axis.'),
    layers: z.array(layerSchema).min(1).describe('Layers in order; the last one produces the output.'),
  })
  .describe('A sequential model.')
  .meta({ id: 'Model' });

export const trainingSchema = z
  .strictObject({
    epochs: z.number().int().min(1).default(10).describe('Passes over the training data.'),
    batchSize: z
      .union([z.number().int().min(1), z.literal('full')])
      .default(32)
      .describe('Samples per gradient step: `"full"` = batch gradient descent, 1 = stochastic, else mini-batch.'),
    shuffle: z.boolean().default(true).describe('Reshuffle (seeded) every epoch; `false` takes batches in dataset order.'),
    validationSplit: z.number().min(0).lt(1).default(0).describe('Fraction of samples, taken from the end, held out for val_* metrics.'),
    validationData: datasetSchema
      .optional()
      .describe(
        'An explicit holdout for val_* metrics (instead of validationSplit): a dataset shaped like the training data. A built-in ' +
          "without its own seed draws from a seed derived from the job seed, different from the training data's.",
      ),
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional().describe('Seed of initializers, shuffling and dropout; generated when absent.'),
    lrSchedule: lrScheduleSchema.default({ type: 'constant' }),
    warmup: warmupSchema.optional(),
    earlyStopping: earlyStoppingSchema.optional(),
    maxRuntimeSeconds: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Fail the job with code `timeout` when it trains longer than this (default: the server limit).'),
    terminateOnNaN: z
      .boolean()
      .default(true)
      .describe('Fail the job with code `diverged` as soon as a batch loss is NaN or infinite.'),
  })
  .describe('How to train.');

export const jobSpecSchema = z
  .strictObject({
    name: z.string().min(1).max(200).optional().describe('A label for people; need not be unique.'),
    dataset: datasetSchema,
    model: modelSchema,
    loss: lossSchema.optional().describe('Default: from the dataset (binaryCrossentropy, categoricalCrossentropy, ... or meanSquaredError).'),
    metrics: z.array(metricSchema).max(8).default([]),
    optimizer: optimizerSchema.default({ name: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 }),
    preprocessing: preprocessingSchema.optional(),
    training: trainingSchema.default({ epochs: 10, batchSize: 32, shuffle: true, validationSplit: 0, lrSchedule: { type: 'constant' }, terminateOnNaN: true }),
  })
  .describe('A training job.')
  .meta({ id: 'JobSpec' });

export type JobSpecInput = z.input<typeof jobSpecSchema>;
export type JobSpec = z.output<typeof jobSpecSchema>;
export type Loss = z.infer<typeof lossSchema>;

/** A spec with everything the engine needs decided: loss and seed are always present. */
export type ResolvedJobSpec = JobSpec & { loss: Loss; training: JobSpec['training'] & { seed: number; maxRuntimeSeconds: number } };

export interface SpecIssue {
  path: (string | number)[];
  message: string;
}

export function defaultLoss(shape: DatasetShape): Loss {
  switch (shape.labels) {
    case 'binary':
      return 'binaryCrossentropy';
    case 'onehot':
      return 'categoricalCrossentropy';
    case 'index':
      return 'sparseCategoricalCrossentropy';
    case 'regression':
      return 'meanSquaredError';
  }
}

/**
 * Checks that need the whole spec (the schema checks each field alone): the model's input
 * and output against the dataset's shapes, the loss against the labels.
 */
export function crossCheckSpec(spec: JobSpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const t = spec.training;
  const reported = ['loss', ...spec.metrics];
  const validated = t.validationSplit > 0 || t.validationData !== undefined;
  const monitorable = validated ? [...reported, ...reported.map((m) => `val_${m}`)] : reported;
  const monitors: [string | undefined, (string | number)[]][] = [
    [t.earlyStopping?.monitor, ['training', 'earlyStopping', 'monitor']],
    [t.lrSchedule.type === 'reduceOnPlateau' ? t.lrSchedule.monitor : undefined, ['training', 'lrSchedule', 'monitor']],
  ];
  for (const [monitor, path] of monitors) {
    if (monitor !== undefined && !monitorable.includes(monitor)) {
      issues.push({ path, message: `\`${monitor}\` is not reported by this job; it reports ${monitorable.join(', ')}` });
    }
  }
  if (t.validationData && t.validationSplit > 0) {
    issues.push({ path: ['training', 'validationData'], message: 'give either validationSplit or validationData, not both' });
  }
  const shape = preparedShape(spec.dataset, spec.preprocessing);
  if (typeof shape === 'string') issues.push({ path: ['preprocessing', 'labels'], message: shape });
  if (!shape || typeof shape === 'string') return issues;
  const holdout = t.validationData && describeDataset(t.validationData);
  const raw = describeDataset(spec.dataset);
  if (holdout && raw && (holdout.inputShape.join(',') !== raw.inputShape.join(',') || holdout.targetShape.join(',') !== raw.targetShape.join(','))) {
    issues.push({
      path: ['training', 'validationData'],
      message:
        `the holdout's samples have shape [${holdout.inputShape.join(', ')}] -> [${holdout.targetShape.join(', ')}], ` +
        `the training data's [${raw.inputShape.join(', ')}] -> [${raw.targetShape.join(', ')}]`,
    });
  }
  if (shape.inputShape.join(',') !== spec.model.inputShape.join(',')) {
    issues.push({
      path: ['model', 'inputShape'],
      message: `the dataset's samples have shape [${shape.inputShape.join(', ')}], the model expects [${spec.model.inputShape.join(', ')}]`,
    });
  }
  const layers = spec.model.layers;
  const last = layers[layers.length - 1];
  const loss = spec.loss ?? defaultLoss(shape);
  if (last?.type === 'dense' && shape.targetShape.length === 1) {
    const width = shape.targetShape[0]!;
    const expected = loss === 'sparseCategoricalCrossentropy' ? shape.classes : width;
    if (expected !== undefined && last.units !== expected) {
      issues.push({
        path: ['model', 'layers', layers.length - 1, 'units'],
        message: `the output layer has ${last.units} units but the targets need ${expected}`,
      });
    }
  }
  if (loss === 'sparseCategoricalCrossentropy' && shape.targetShape.join(',') !== '1') {
    issues.push({ path: ['loss'], message: 'sparseCategoricalCrossentropy needs one integer class index per sample' });
  }
  const split = spec.training.validationSplit;
  if (split > 0) {
    const held = Math.floor(shape.samples * split);
    if (held < 1 || shape.samples - held < 1) {
      issues.push({
        path: ['training', 'validationSplit'],
        message: `a split of ${split} of ${shape.samples} samples leaves an empty training or validation set`,
      });
    }
  }
  return issues;
}

export interface Limits {
  maxEpochs: number;
  maxLayers: number;
  maxUnits: number;
  maxInlineSamples: number;
  maxBuiltinSamples: number;
  maxRuntimeSeconds: number;
}

export interface LimitViolation {
  limit: string;
  path: (string | number)[];
  value: number;
  max: number;
}

/** Configured limits a spec exceeds; the API refuses such a spec before it is queued. */
export function checkLimits(spec: JobSpec, limits: Limits): LimitViolation[] {
  const out: LimitViolation[] = [];
  const check = (limit: string, path: (string | number)[], value: number, max: number) => {
    if (value > max) out.push({ limit, path, value, max });
  };
  check('MAX_EPOCHS', ['training', 'epochs'], spec.training.epochs, limits.maxEpochs);
  check('MAX_RUNTIME_SECONDS', ['training', 'maxRuntimeSeconds'], spec.training.maxRuntimeSeconds ?? 0, limits.maxRuntimeSeconds);
  check('MAX_LAYERS', ['model', 'layers'], spec.model.layers.length, limits.maxLayers);
  spec.model.layers.forEach((layer, i) => {
    check('MAX_UNITS', ['model', 'layers', i, 'filters' in layer ? 'filters' : 'units'], layerWidth(layer), limits.maxUnits);
  });
  if (spec.dataset.inline) {
    check('MAX_INLINE_SAMPLES', ['dataset', 'inline', 'x'], spec.dataset.inline.x.length, limits.maxInlineSamples);
  }
  if (spec.dataset.samples !== undefined) {
    check('MAX_BUILTIN_SAMPLES', ['dataset', 'samples'], spec.dataset.samples, limits.maxBuiltinSamples);
  }
  const holdout = spec.training.validationData;
  if (holdout?.inline) {
    check('MAX_INLINE_SAMPLES', ['training', 'validationData', 'inline', 'x'], holdout.inline.x.length, limits.maxInlineSamples);
  }
  if (holdout?.samples !== undefined) {
    check('MAX_BUILTIN_SAMPLES', ['training', 'validationData', 'samples'], holdout.samples, limits.maxBuiltinSamples);
  }
  return out;
}
