import { z } from 'zod';
import { datasetSchema, type DatasetShape } from './datasets.js';
import { type ModelSpec, modelSchema } from './model.js';
import { optimizerSchema } from './optimizers.js';
import { earlyStoppingSchema, lrScheduleSchema, warmupSchema } from './schedules.js';
import { preprocessingSchema } from './preprocessing.js';

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

export const metricSchema = z.enum(['accuracy', 'binaryAccuracy', 'categoricalAccuracy', 'sparseCategoricalAccuracy', 'meanSquaredError', 'meanAbsoluteError']);
export type Metric = z.infer<typeof metricSchema>;

/** The direction an epoch metric (`loss`, a metric, or its `val_` twin) improves in: accuracies up, losses and errors down. */
export const metricMode = (metric: string): 'min' | 'max' => (/acc/i.test(metric) ? 'max' : 'min');

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
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional()
      .describe('Seed of initializers, shuffling and dropout; generated when absent.'),
    lrSchedule: lrScheduleSchema.default({ type: 'constant' }),
    warmup: warmupSchema.optional(),
    earlyStopping: earlyStoppingSchema.optional(),
    maxRuntimeSeconds: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Fail the job with code `timeout` when it trains longer than this (default: the server limit).'),
    terminateOnNaN: z.boolean().default(true).describe('Fail the job with code `diverged` as soon as a batch loss is NaN or infinite.'),
    engine: z
      .enum(['auto', 'graph', 'eager'])
      .default('auto')
      .describe(
        'Training engine: `graph` runs each step as one TensorFlow graph (faster; not every layer has a graph form yet), ' +
          '`eager` runs it op by op in tfjs, `auto` takes `graph` when the job and the worker allow it, else `eager`.',
      ),
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
    training: trainingSchema.default({
      epochs: 10,
      batchSize: 32,
      shuffle: true,
      validationSplit: 0,
      lrSchedule: { type: 'constant' },
      terminateOnNaN: true,
      engine: 'auto',
    }),
  })
  .describe('A training job.')
  .meta({ id: 'JobSpec' });

export type JobSpecInput = z.input<typeof jobSpecSchema>;
export type JobSpec = z.output<typeof jobSpecSchema>;
export type Loss = z.infer<typeof lossSchema>;

/** A spec with its model spelled out (presets expanded) and its loss decided. */
export type PreparedJobSpec = Omit<JobSpec, 'model' | 'loss'> & { model: ModelSpec; loss: Loss };

/** A spec with everything the engine needs decided: model layers, loss and seed are always present. */
export type ResolvedJobSpec = PreparedJobSpec & { training: JobSpec['training'] & { seed: number; maxRuntimeSeconds: number } };

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
